"""The ImageNet networks in this server: each loaded once, shared read-only by every session.

Like the shipped models (``ui.shipped``), a network is one Keras object per process, never
trained or changed; a user adds it to their models (``LiveWorkspace.add_network``) once its
weights are in Keras's cache (``core.models.imagenet_weights``). Loading checks the server's
memory limit for them (``CNNLAB_MAX_IMAGENET_BYTES``) against the networks loaded already.
"""

from __future__ import annotations

import threading

from core.models.imagenet import NETWORKS, INPUT_SHAPE, NetworkError, build_network, check_memory, \
    imagenet_class_names
from core.models.imagenet_weights import cached_weights
from core.settings import limits
from core.storage.card import DatasetRef, ModelCard

PREFIX = "imagenet:"
KNOWS = "knows ImageNet's 1,000 classes"
ORIGIN = "keras.applications"

_MODELS: dict[str, object] = {}
_CARDS: dict[str, ModelCard] = {}
_LOCK = threading.Lock()


def network_id(key: str) -> str:
    return PREFIX + key


def is_network(model_id: str | None) -> bool:
    return bool(model_id) and model_id.startswith(PREFIX) and model_id[len(PREFIX):] in NETWORKS


def network_key(model_id: str) -> str:
    return model_id[len(PREFIX):]


def network_card(key: str) -> ModelCard:
    """The card the pages read for a network: ImageNet's classes, 224×224 RGB in [0, 1], its preprocessing."""
    if key not in _CARDS:
        net = NETWORKS[key]
        names = imagenet_class_names()
        how = {"raw": "none outside the network: it scales 0..255 itself",
               "tf": "scaled to [-1, 1]", "caffe": "RGB to BGR, ImageNet's mean colour taken away"}[net.mode]
        _CARDS[key] = ModelCard(
            name=net.title, dataset=DatasetRef("imagenet", "ImageNet (ILSVRC 2012, 1.28 million photos)",
                                               input_shape=INPUT_SHAPE, class_names=names),
            class_names=names, input_shape=INPUT_SHAPE, params=net.params,
            preprocessing={"scale": "divide by 255 to [0, 1]", "color": "RGB",
                           "resize": "centre crop to a square, then resize to 224×224",
                           "network": f"keras.applications.{net.family}.preprocess_input, as the network's first "
                                      f"layer (imagenet_preprocessing): {how}"},
            versions={"weights": f"Keras's ImageNet weights, {net.file_name}"})
    return _CARDS[key]


def loaded_network(key: str):
    """The network if it is loaded already in this process, else None (never waits)."""
    return _MODELS.get(key)


def loaded_networks() -> list:
    return [NETWORKS[k] for k in _MODELS]


def network_model(key: str):
    """The network, loaded from its checked weights on the first call in this process (the others wait for it).

    Raises:
        NetworkError: its weights are not in the cache, do not fit it, or it would pass the memory limit.
    """
    with _LOCK:
        if key in _MODELS:
            return _MODELS[key]
        net = NETWORKS[key]
        path = cached_weights(net)
        if path is None:
            raise NetworkError(f"{net.title}'s ImageNet weights are not on this server yet: download or import "
                               "them on the Models page.")
        check_memory(net, loaded_networks(), limits().max_imagenet_bytes)
        _MODELS[key] = build_network(net, path)
        return _MODELS[key]


def network_loader(key: str):
    return lambda: network_model(key)

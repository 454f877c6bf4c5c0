"""The ImageNet networks in this server: each loaded once, shared read-only by every session.

Like the shipped models (``ui.shipped``), a network is one Keras object per process, never
trained or changed; a user adds it to their models (``LiveWorkspace.add_network``) once its
weights are in Keras's cache (``core.models.imagenet_weights``). Loading checks the server's
memory limit for them (``CNNLAB_MAX_IMAGENET_BYTES``) against the networks loaded already.
"""

from __future__ import annotations

from core.models.imagenet import INPUT_SHAPE, NETWORKS, imagenet_class_names
from core.models.imagenet_weights import load_network, loaded_network, loaded_networks  # noqa: F401  (for pages)
from core.storage.card import DatasetRef, ModelCard

PREFIX = "imagenet:"
KNOWS = "knows ImageNet's 1,000 classes"
ORIGIN = "keras.applications"

_CARDS: dict[str, ModelCard] = {}


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


def network_model(key: str):
    """The network, loaded once per process (``core.models.imagenet_weights.load_network``)."""
    return load_network(key)


def network_loader(key: str):
    return lambda: network_model(key)

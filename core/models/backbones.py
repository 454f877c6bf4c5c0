"""Transfer learning: a new network that starts from a trained one (a backbone) instead of random weights.

The backbone's layers up to its features (the layer before its own classifier) are copied,
weights included, into a new network for the user's classes; a new softmax layer is put on top.
The copied layers start frozen: only the new head learns, on features the backbone already
computes well. Fine-tuning then unfreezes the backbone's top blocks, at a lower learning rate.

    >>> backbone = BACKBONES["photo_cifar10"]
    >>> model = build_transfer_model(backbone.load(), backbone.feature_layer, (64, 64, 3), 2)
    >>> set_trainable_blocks(model, 1, backbone.feature_layer)  # fine-tune the last block too

Photos of another size are resized inside the new network (its first layer, ``resize``), so
every page feeds it the dataset's own images. A backbone trained on colour photos cannot take
grey ones: ``check_fits`` says so, and with ``grey_to_colour`` the new network copies the grey
channel into red, green and blue itself (its layer ``grey_to_colour``). The backbone model given
is never changed (the shipped one is shared by every session).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
RESIZE_LAYER = "resize"
COLOUR_LAYER = "grey_to_colour"
HEAD_LAYER = "predictions"
PREPROCESSING = "imagenet_preprocessing"  # core.models.imagenet.PREPROCESSING_LAYER: no weights, never trained


class BackboneError(ValueError):
    """A backbone that cannot be used as asked; the message says what it needs."""


@dataclass(frozen=True)
class Backbone:
    key: str
    title: str
    path: Path | None  # the saved model, without the extension (None: an ImageNet network)
    feature_layer: str  # its output is the features the new head is trained on
    description: str
    network: str | None = None  # an ImageNet network's key (core.models.imagenet.NETWORKS), built from its weights

    def load(self):
        """The backbone's Keras model (``core.storage.files.load_model``: checked against the limits first; an
        ImageNet network is the one this process shares, ``core.models.imagenet_weights.load_network``)."""
        if self.network is not None:
            from core.models.imagenet_weights import load_network

            return load_network(self.network)
        from core.storage.files import load_model

        return load_model(self.path)[0]

    @property
    def available(self) -> bool:
        if self.network is not None:
            from core.models.imagenet import NETWORKS
            from core.models.imagenet_weights import cached_weights

            return cached_weights(NETWORKS[self.network]) is not None
        return self.path.with_suffix(".keras").is_file()


# Where each ImageNet network's features are read for a new head: its global average pooling (VGG16: its last
# pooling, whose 7×7×512 maps a new global average pooling turns into 512 features; its dense layers would add
# 120 million weights).
NETWORK_FEATURES = {"mobilenet_v3_small": "global_average_pooling2d", "mobilenet_v2": "global_average_pooling2d",
                    "efficientnet_b0": "avg_pool", "resnet50": "avg_pool", "vgg16": "block5_pool"}
FEATURES_LAYER = "features"  # the layer a network's transfer model adds to flatten or pool its features


def _network_backbones() -> dict[str, Backbone]:
    from core.models.imagenet import NETWORKS

    return {key: Backbone(key, f"{net.title} (ImageNet)", None, NETWORK_FEATURES[key],
                          f"Trained on ImageNet's 1.28 million photos of 1,000 kinds of things. {net.description}",
                          network=key) for key, net in NETWORKS.items()}


BACKBONES: dict[str, Backbone] = {
    "photo_cifar10": Backbone(
        "photo_cifar10", "CNN Lab photo model (CIFAR-10)", ROOT / "assets" / "models" / "photo_cifar10",
        "global_maxpool",
        "Trained on CIFAR-10's 50,000 photos of 10 kinds of things (animals and vehicles) at 32×32: its 256 "
        "features say which of its filters fired most strongly anywhere in the photo."),
    **_network_backbones(),
}


def check_fits(backbone_input: tuple, data_input: tuple, title: str = "This backbone",
               grey_to_colour: bool = False) -> None:
    """Raise ``BackboneError`` when photos of ``data_input`` (height, width, channels) cannot go through the backbone
    (grey photos can, for a colour backbone, with ``grey_to_colour``)."""
    need, have = int(backbone_input[-1]), int(data_input[-1])
    if need != have and not (grey_to_colour and have == 1 and need == 3):
        kind = {1: "grey", 3: "colour"}
        raise BackboneError(
            f"{title} needs {kind.get(need, f'{need}-channel')} photos of {backbone_input[0]}×{backbone_input[1]} "
            f"({need} channel{'s' if need != 1 else ''}); these are {kind.get(have, f'{have}-channel')} "
            f"({have} channel{'s' if have != 1 else ''})."
            + (" Convert them to colour: the network then copies each grey value into red, green and blue." if have == 1
               and need == 3 else ""))


def _block_of(name: str) -> int | None:
    """The block number CNN Lab's layer names carry (``conv3_1``, ``bn3_2``, ``maxpool3``: 3), else None."""
    match = re.fullmatch(r"[a-z_]+?(\d+)(?:_\d+)?", name)
    return int(match.group(1)) if match else None


def backbone_blocks(model, feature_layer: str) -> list[list[str]]:
    """The backbone's layers up to ``feature_layer``, grouped into blocks in order (each a list of layer names).

    A block is what CNN Lab's architectures name with one number; a layer without a number (the global
    pooling) goes with the block before it.
    """
    names = [layer.name for layer in model.layers[1:]]
    if feature_layer not in names:
        raise BackboneError(f"Expected a layer named {feature_layer!r} in the backbone. Received: {names}")
    from core.models.imagenet import PREPROCESSING_LAYER

    if PREPROCESSING_LAYER in names:
        # an ImageNet network's names follow its family's conventions: its blocks as the layer pickers group them
        from core.inspection.layer_groups import layer_blocks

        keep = set(names[:names.index(feature_layer) + 1])
        groups = [[n for n in group if n in keep] for _, group in layer_blocks(model)]
        return [g for g in groups if g]
    blocks: list[list[str]] = []
    last = object()
    for name in names[:names.index(feature_layer) + 1]:
        number = _block_of(name)
        if blocks and (number is None or number == last):
            blocks[-1].append(name)
        else:
            blocks.append([name])
            last = number
    return blocks


def build_transfer_model(backbone, feature_layer: str, input_shape: tuple, num_classes: int,
                         seed: int | None = None, name: str = "transfer", grey_to_colour: bool = False,
                         network: str | None = None):
    """A new functional model: grey to colour and resize (when needed), the backbone's layers up to ``feature_layer``
    (copies, with their weights, frozen), then a new softmax layer of ``num_classes`` named ``predictions``.

    An ImageNet network (``network``, its key) is not a chain of layers: its transfer model is built by
    ``keras.applications`` again on the new input, from the same checked weights file, up to ``feature_layer``
    (``_network_transfer_model``).

    Raises:
        BackboneError: photos the backbone cannot take (``check_fits``), or no such feature layer.
    """
    import keras

    backbone_input = tuple(int(v) for v in backbone.input_shape[1:])
    input_shape = tuple(int(v) for v in input_shape)
    check_fits(backbone_input, input_shape, grey_to_colour=grey_to_colour)
    if network is not None:
        return _network_transfer_model(network, feature_layer, input_shape, num_classes, seed, name)
    chain = [layer for block in backbone_blocks(backbone, feature_layer) for layer in block]
    if seed is not None:
        keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    if input_shape[-1] == 1 and backbone_input[-1] == 3:
        x = keras.layers.Concatenate(axis=-1, name=COLOUR_LAYER)([x, x, x])
    if input_shape[:2] != backbone_input[:2]:
        x = keras.layers.Resizing(backbone_input[0], backbone_input[1], antialias=True, name=RESIZE_LAYER)(x)
    for layer_name in chain:
        source = backbone.get_layer(layer_name)
        if len(source._inbound_nodes) != 1 or len(keras.tree.flatten(source.input)) != 1:
            raise BackboneError(f"Expected a backbone whose layers follow one another. Received: {layer_name!r} "
                                "has several inputs or is used more than once")
        copy = source.__class__.from_config(source.get_config())
        x = copy(x)
        copy.set_weights(source.get_weights())
        copy.trainable = False
    outputs = keras.layers.Dense(num_classes, activation="softmax", name=HEAD_LAYER)(x)
    return keras.Model(inputs, outputs, name=re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_") or "transfer")


def _network_transfer_model(key: str, feature_layer: str, input_shape: tuple, num_classes: int, seed, name: str):
    """Grey to colour and resize as needed, then the network's own layers with its ImageNet weights up to
    ``feature_layer`` (frozen; their names are the network's), a ``features`` layer (global average pooling of
    maps, or a flatten of 1×1 ones) and a new softmax layer."""
    import keras

    from core.models.imagenet import INPUT_SHAPE, NETWORKS, PREPROCESSING_LAYER, NetworkError, build_network
    from core.models.imagenet_weights import cached_weights

    net = NETWORKS[key]
    path = cached_weights(net)
    if path is None:
        raise BackboneError(f"{net.title}'s ImageNet weights are not on this server yet: download or import them on "
                            "the Models page.")
    if seed is not None:
        keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    if input_shape[-1] == 1:
        x = keras.layers.Concatenate(axis=-1, name=COLOUR_LAYER)([x, x, x])
    if input_shape[:2] != INPUT_SHAPE[:2]:
        x = keras.layers.Resizing(INPUT_SHAPE[0], INPUT_SHAPE[1], antialias=True, name=RESIZE_LAYER)(x)
    try:
        body = build_network(net, path, tensor=x)
    except NetworkError as exc:
        raise BackboneError(str(exc)) from exc
    try:
        features = body.get_layer(feature_layer).output
    except ValueError as exc:
        raise BackboneError(f"Expected a layer named {feature_layer!r} in {net.title}") from exc
    for layer in body.layers:
        layer.trainable = False
    if len(features.shape) == 4:
        pool = keras.layers.Flatten if features.shape[1] == features.shape[2] == 1 else keras.layers.GlobalAveragePooling2D
        features = pool(name=FEATURES_LAYER)(features)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name=HEAD_LAYER)(features)
    model = keras.Model(inputs, outputs, name=re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_") or "transfer")
    if PREPROCESSING_LAYER not in [layer.name for layer in model.layers]:
        raise BackboneError(f"Expected {net.title}'s preprocessing in the network built on it")
    check_transfer_size(model, net.title)
    return model


def check_transfer_size(model, title: str) -> None:
    """Raise ``BackboneError`` when a network built on a backbone has more weights than one model may
    (``CNNLAB_MAX_PARAMS``: its frozen copies of the backbone's count, they take memory all the same)."""
    from core.models.size_limits import count
    from core.settings import limits

    n, most = int(model.count_params()), limits().max_params

    def shown(k: int) -> str:
        return f"{k:,}" if count(k) == f"{k:,}" else f"{k:,} ({count(k)})"

    if n > most:
        smaller = "" if title.startswith("MobileNetV3Small") else "Pick a smaller backbone (MobileNetV3Small), or ask"
        raise BackboneError(
            f"A network on {title}'s features has {shown(n)} weights, and this server allows {shown(most)} in one "
            f"model (CNNLAB_MAX_PARAMS). {smaller or 'Ask'} the teacher to raise the limit.")


def tuning_blocks(model, feature_layer: str) -> list[list[str]]:
    """The backbone's blocks inside a network ``build_transfer_model`` made (its conversion and resizing left out)."""
    groups = [[n for n in g if n not in (RESIZE_LAYER, COLOUR_LAYER, PREPROCESSING)]
              for g in backbone_blocks(model, feature_layer)]
    return [g for g in groups if g]


def layers_to_open(model, blocks: int, feature_layer: str) -> list[str]:
    """The layers ``set_trainable_blocks(model, blocks, ...)`` makes trainable, without changing the model.

    Those of the last ``blocks`` blocks, batch normalisation left out (its statistics are the backbone's; Keras runs
    a frozen one in inference mode), as Keras's transfer-learning guide advises for fine-tuning.
    """
    import keras

    groups = tuning_blocks(model, feature_layer)
    if not 0 <= blocks <= len(groups):
        raise BackboneError(f"Expected between 0 and {len(groups)} blocks to fine-tune. Received: {blocks}")
    names = [n for g in groups[len(groups) - blocks:] for n in g] if blocks else []
    return [n for n in names if not isinstance(model.get_layer(n), keras.layers.BatchNormalization)]


def set_trainable_blocks(model, blocks: int, feature_layer: str) -> list[str]:
    """Unfreeze the last ``blocks`` blocks of the backbone inside ``model`` (0: all frozen; batch norm stays
    frozen: ``layers_to_open``); returns the layers unfrozen."""
    opened = layers_to_open(model, blocks, feature_layer)
    for group in tuning_blocks(model, feature_layer):
        for layer_name in group:
            model.get_layer(layer_name).trainable = layer_name in opened
    return opened


def frozen_layers(model) -> list[str]:
    """Names of the layers with weights that training leaves as they are."""
    return [layer.name for layer in model.layers if layer.weights and not layer.trainable]


def parameter_split(model) -> tuple[int, int]:
    """``(trainable, frozen)`` parameter counts, as Keras's summary gives them."""
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    frozen = int(sum(np.prod(w.shape) for w in model.non_trainable_weights))
    return trainable, frozen


def weight_change(model, backbone, layer_name: str) -> float | None:
    """The largest absolute difference between a layer's weights in ``model`` and in the backbone it started from
    (0.0: unchanged); None when the backbone has no such layer of the same shape."""
    try:
        mine, theirs = model.get_layer(layer_name).get_weights(), backbone.get_layer(layer_name).get_weights()
    except ValueError:
        return None
    if len(mine) != len(theirs) or any(a.shape != b.shape for a, b in zip(mine, theirs)):
        return None
    return float(max((np.max(np.abs(a - b)) for a, b in zip(mine, theirs) if a.size), default=0.0))

"""Transfer learning: a new network that starts from a trained one (a backbone) instead of random weights.

The backbone's layers up to its features (the layer before its own classifier) are copied,
weights included, into a new network for the user's classes; a new softmax layer is put on top.
The copied layers start frozen: only the new head learns, on features the backbone already
computes well. Fine-tuning then unfreezes the backbone's top blocks, at a lower learning rate.

    >>> backbone = BACKBONES["photo_cifar10"]
    >>> model = build_transfer_model(backbone.load(), backbone.feature_layer, (64, 64, 3), 2)
    >>> set_trainable_blocks(model, 1)  # fine-tune the last block too

Photos of another size are resized inside the new network (its first layer, ``resize``), so
every page feeds it the dataset's own images. A backbone trained on colour photos cannot take
grey ones: ``check_fits`` says so, and ``to_colour`` copies the grey channel into all three.
The backbone model given is never changed (the shipped one is shared by every session).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
RESIZE_LAYER = "resize"
HEAD_LAYER = "predictions"


class BackboneError(ValueError):
    """A backbone that cannot be used as asked; the message says what it needs."""


@dataclass(frozen=True)
class Backbone:
    key: str
    title: str
    path: Path  # the saved model, without the extension
    feature_layer: str  # its output is the features the new head is trained on
    description: str

    def load(self):
        """The backbone's Keras model (``core.storage.files.load_model``: checked against the limits first)."""
        from core.storage.files import load_model

        return load_model(self.path)[0]

    @property
    def available(self) -> bool:
        return self.path.with_suffix(".keras").is_file()


BACKBONES: dict[str, Backbone] = {
    "photo_cifar10": Backbone(
        "photo_cifar10", "CNN Lab photo model (CIFAR-10)", ROOT / "assets" / "models" / "photo_cifar10",
        "global_maxpool",
        "Trained on CIFAR-10's 50,000 photos of 10 kinds of things (animals and vehicles) at 32×32: its 256 "
        "features say which of its filters fired most strongly anywhere in the photo."),
}


def check_fits(backbone_input: tuple, data_input: tuple, title: str = "This backbone") -> None:
    """Raise ``BackboneError`` when photos of ``data_input`` (height, width, channels) cannot go through the backbone."""
    need, have = int(backbone_input[-1]), int(data_input[-1])
    if need != have:
        kind = {1: "grey", 3: "colour"}
        raise BackboneError(
            f"{title} needs {kind.get(need, f'{need}-channel')} photos of {backbone_input[0]}×{backbone_input[1]} "
            f"({need} channel{'s' if need != 1 else ''}); these are {kind.get(have, f'{have}-channel')} "
            f"({have} channel{'s' if have != 1 else ''})."
            + (" Convert them to colour first: each grey value is copied into red, green and blue." if have == 1
               and need == 3 else ""))


def to_colour(dataset):
    """``dataset`` with its grey images copied into three channels (red = green = blue), its name kept."""
    if dataset.input_shape[-1] != 1:
        return dataset
    return replace(dataset, x_train=np.repeat(dataset.x_train, 3, axis=-1), x_test=np.repeat(dataset.x_test, 3, axis=-1),
                   title=f"{dataset.title} (in colour)")


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
                         seed: int | None = None, name: str = "transfer"):
    """A new functional model: resize (when needed), the backbone's layers up to ``feature_layer`` (copies, with
    their weights, frozen), then a new softmax layer of ``num_classes`` named ``predictions``.

    Raises:
        BackboneError: photos the backbone cannot take (``check_fits``), or no such feature layer.
    """
    import keras

    backbone_input = tuple(int(v) for v in backbone.input_shape[1:])
    input_shape = tuple(int(v) for v in input_shape)
    check_fits(backbone_input, input_shape)
    chain = [layer for block in backbone_blocks(backbone, feature_layer) for layer in block]
    if seed is not None:
        keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
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


def set_trainable_blocks(model, blocks: int, feature_layer: str) -> list[str]:
    """Unfreeze the last ``blocks`` blocks of the backbone inside ``model`` (0: all frozen); returns their layers.

    Batch-norm layers stay frozen (their statistics are the backbone's; Keras runs a frozen one
    in inference mode), as Keras's transfer-learning guide advises for fine-tuning.
    """
    import keras

    groups = backbone_blocks(model, feature_layer)
    groups = [[n for n in g if n != RESIZE_LAYER] for g in groups]
    groups = [g for g in groups if g]
    if not 0 <= blocks <= len(groups):
        raise BackboneError(f"Expected between 0 and {len(groups)} blocks to fine-tune. Received: {blocks}")
    opened = [n for g in groups[len(groups) - blocks:] for n in g] if blocks else []
    for group in groups:
        for layer_name in group:
            layer = model.get_layer(layer_name)
            layer.trainable = layer_name in opened and not isinstance(layer, keras.layers.BatchNormalization)
    return [n for n in opened if model.get_layer(n).trainable or not model.get_layer(n).weights]


def frozen_layers(model) -> list[str]:
    """Names of the layers with weights that training leaves as they are."""
    return [layer.name for layer in model.layers if layer.weights and not layer.trainable]


def parameter_split(model) -> tuple[int, int]:
    """``(trainable, frozen)`` parameter counts, as Keras's summary gives them."""
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    frozen = int(sum(np.prod(w.shape) for w in model.non_trainable_weights))
    return trainable, frozen

"""Build a Keras CNN from a plain ``ModelSpec``.

The spec says what the network is made of; ``build_model`` fits it to a
dataset's input shape and class count. Small inputs are handled by rules a
learner can see in the layer table: a "valid" convolution whose input is
smaller than its kernel becomes "same", and a pooling layer whose input is
smaller than its window is left out (a note says so), so every preset builds on
every built-in dataset, from 8x8 digits to 64x64 photos.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu", "gelu", "leaky_relu")
POOLINGS = ("max", "avg", "none")


@dataclass
class ConvBlock:
    """Convolutions followed by optional pooling and dropout."""

    filters: int = 32  # output channels of every convolution in the block
    kernel_size: int = 3  # square kernel side
    convs: int = 1  # convolutions before the pooling layer
    activation: str = "relu"  # one of ACTIVATIONS
    padding: Literal["same", "valid"] = "same"  # "same" keeps the spatial size
    batch_norm: bool = False  # BatchNormalization between each convolution and its activation
    pooling: str = "max"  # one of POOLINGS
    pool_size: int = 2  # pooling window and stride
    dropout: float = 0.0  # dropout rate after the block, 0 for none


@dataclass
class ModelSpec:
    """A whole CNN: conv blocks, then a dense head ending in a softmax."""

    name: str = "custom"  # shown in the app and stored with the model
    blocks: list[ConvBlock] = field(default_factory=lambda: [ConvBlock(16), ConvBlock(32)])
    dense_units: list[int] = field(default_factory=lambda: [64])  # hidden dense layers
    dense_activation: str = "relu"  # activation of the hidden dense layers
    dense_dropout: float = 0.0  # dropout before each dense layer after the first flatten
    flatten_dropout: float = 0.0  # dropout right after flatten

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelSpec":
        data = dict(data)
        data["blocks"] = [ConvBlock(**b) for b in data.get("blocks", [])]
        return cls(**data)


class ModelSpecError(ValueError):
    """A spec that cannot be built; the message says what to change."""


def _validate(spec: ModelSpec, input_shape, num_classes: int) -> None:
    if len(input_shape) != 3 or input_shape[-1] not in (1, 3):
        raise ModelSpecError(f"Expected an input shape (height, width, 1 or 3). Received: {tuple(input_shape)}")
    if num_classes < 2:
        raise ModelSpecError(f"Expected at least 2 classes. Received: {num_classes}")
    for i, b in enumerate(spec.blocks, 1):
        if b.activation not in ACTIVATIONS:
            raise ModelSpecError(f"Block {i}: expected an activation in {ACTIVATIONS}. Received: {b.activation!r}")
        if b.pooling not in POOLINGS:
            raise ModelSpecError(f"Block {i}: expected a pooling in {POOLINGS}. Received: {b.pooling!r}")
        if b.filters < 1 or b.kernel_size < 1 or b.convs < 1:
            raise ModelSpecError(f"Block {i}: filters, kernel_size and convs must be at least 1.")
        if not 0.0 <= b.dropout < 1.0:
            raise ModelSpecError(f"Block {i}: expected dropout in [0, 1). Received: {b.dropout}")
        if b.padding not in ("same", "valid"):
            raise ModelSpecError(f"Block {i}: expected padding 'same' or 'valid'. Received: {b.padding!r}")
        if b.pool_size < 1:
            raise ModelSpecError(f"Block {i}: expected a pool_size of at least 1. Received: {b.pool_size}")
    if spec.dense_activation not in ACTIVATIONS:
        raise ModelSpecError(f"Expected a dense_activation in {ACTIVATIONS}. Received: {spec.dense_activation!r}")
    for what, rate in (("flatten_dropout", spec.flatten_dropout), ("dense_dropout", spec.dense_dropout)):
        if not 0.0 <= rate < 1.0:
            raise ModelSpecError(f"Expected {what} in [0, 1). Received: {rate}")
    if any(int(u) < 1 for u in spec.dense_units):
        raise ModelSpecError(f"Expected dense_units of at least 1 each. Received: {list(spec.dense_units)}")


def build_model(spec: ModelSpec, input_shape: tuple[int, int, int], num_classes: int, seed: int | None = None):
    """Build an uncompiled functional ``keras.Model`` for the spec.

    Args:
        spec: the architecture.
        input_shape: (height, width, channels) of the dataset.
        num_classes: size of the softmax output.
        seed: seeds the weight initialisation when given.

    Returns:
        The model, its layers named for the block they belong to (``conv1_2``,
        ``maxpool1``...); ``adaptation_notes`` says what was adapted to the input.
    """
    import keras
    from keras import layers

    _validate(spec, input_shape, num_classes)
    if seed is not None:
        keras.utils.set_random_seed(seed)
    h, w = int(input_shape[0]), int(input_shape[1])
    model_layers: list = [keras.Input(shape=tuple(int(v) for v in input_shape), name="image")]
    for bi, block in enumerate(spec.blocks, 1):
        for ci in range(1, block.convs + 1):
            padding = block.padding
            if padding == "valid" and (h < block.kernel_size or w < block.kernel_size):
                padding = "same"  # input smaller than the kernel
            suffix = f"{bi}_{ci}" if block.convs > 1 else f"{bi}"
            fused = None if block.batch_norm else _keras_activation(block.activation)
            model_layers.append(layers.Conv2D(block.filters, block.kernel_size, padding=padding,
                                              activation=fused, name=f"conv{suffix}"))
            if padding == "valid":
                h, w = h - block.kernel_size + 1, w - block.kernel_size + 1
            if block.batch_norm:
                model_layers.append(layers.BatchNormalization(name=f"bn{suffix}"))
                model_layers.append(layers.Activation(_keras_activation(block.activation), name=f"{block.activation}{suffix}"))
        if block.pooling != "none" and h >= block.pool_size and w >= block.pool_size:
            pool = layers.MaxPooling2D if block.pooling == "max" else layers.AveragePooling2D
            model_layers.append(pool(block.pool_size, name=f"{block.pooling}pool{bi}"))
            h, w = h // block.pool_size, w // block.pool_size
        if block.dropout > 0:
            model_layers.append(layers.Dropout(block.dropout, name=f"dropout{bi}"))
    model_layers.append(layers.Flatten(name="flatten"))
    if spec.flatten_dropout > 0:
        model_layers.append(layers.Dropout(spec.flatten_dropout, name="dropout_flat"))
    for di, units in enumerate(spec.dense_units, 1):
        model_layers.append(layers.Dense(units, activation=_keras_activation(spec.dense_activation), name=f"dense{di}"))
        if spec.dense_dropout > 0:
            model_layers.append(layers.Dropout(spec.dense_dropout, name=f"dropout_dense{di}"))
    model_layers.append(layers.Dense(num_classes, activation="softmax", name="predictions"))
    # Functional rather than Sequential: every layer then has a symbolic output,
    # which the activation extractor and later explanations need.
    inputs = model_layers[0]
    x = inputs
    for layer in model_layers[1:]:
        x = layer(x)
    return keras.Model(inputs, x, name=_safe_name(spec.name))


def _keras_activation(name: str):
    return "leaky_relu" if name == "leaky_relu" else name


def _safe_name(name: str) -> str:
    import re

    cleaned = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_")
    return cleaned or "model"


def adaptation_notes(spec: ModelSpec, model) -> list[str]:
    """Sentences telling where the built model departs from the spec to fit the input."""
    import re

    notes = []
    names = {layer.name for layer in model.layers}
    for bi, block in enumerate(spec.blocks, 1):
        if block.pooling != "none" and f"{block.pooling}pool{bi}" not in names:
            notes.append(f"Block {bi}: pooling left out, its input is smaller than the {block.pool_size}x{block.pool_size} window.")
        if block.padding == "valid":
            for layer in model.layers:
                if re.fullmatch(rf"conv{bi}(_\d+)?", layer.name) and getattr(layer, "padding", "valid") == "same":
                    notes.append(f"{layer.name}: 'same' padding used, its input is smaller than the kernel.")
    return notes


def layer_table(model) -> list[dict]:
    """One row per layer: name, type, output shape, parameters, and a short detail."""
    rows = []
    for layer in model.layers:
        cfg = layer.get_config()
        detail = []
        if "filters" in cfg:
            detail.append(f"{cfg['filters']} filters {cfg['kernel_size'][0]}x{cfg['kernel_size'][1]}, {cfg['padding']}")
        if "pool_size" in cfg:
            detail.append(f"window {cfg['pool_size'][0]}x{cfg['pool_size'][1]}")
        if "units" in cfg:
            detail.append(f"{cfg['units']} units")
        if "rate" in cfg:
            detail.append(f"rate {cfg['rate']}")
        act = cfg.get("activation")
        if isinstance(act, str) and act != "linear":
            detail.append(act)
        rows.append({
            "layer": layer.name,
            "type": type(layer).__name__,
            "output shape": str(tuple(layer.output.shape[1:])),
            "parameters": int(layer.count_params()),
            "detail": ", ".join(detail),
        })
    return rows

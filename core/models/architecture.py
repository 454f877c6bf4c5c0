"""Build a Keras CNN from a plain ``ModelSpec``.

The spec says what the network is made of; ``build_model`` fits it to a
dataset's input shape and class count. Small inputs are handled by rules a
learner can see in the layer table: a "valid" convolution whose input is
smaller than its kernel becomes "same", and a pooling layer whose input is
smaller than its window is left out (a note says so), so every preset builds on
every built-in dataset, from 8x8 digits to 64x64 photos.

``plan_layers`` says which layers that makes and their sizes, none built; ``build_model`` builds
exactly that plan, and ``spec_size`` adds it up so the server's limits (``core.models.size_limits``)
are checked before a weight is made.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Literal

from core.models.layer_arithmetic import LayerConfigError, layer_output
from core.models.size_limits import ModelSize, limit_problems

ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu", "gelu", "leaky_relu")
POOLINGS = ("max", "avg", "none")
# What turns the last maps into the dense layers' input: every value in a row, or one value per channel
# (its largest, or its mean) so the head stays small and does not care where in the image a feature is.
HEADS = ("flatten", "global_max", "global_avg")


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
    # Pool right after the first convolution, before its batch norm and activation: the rest of the block works
    # on a quarter of the pixels (the layout of the airbench CIFAR-10 networks; twice as fast on a CPU).
    pool_early: bool = False


@dataclass
class ModelSpec:
    """A whole CNN: conv blocks, then a dense head ending in a softmax."""

    name: str = "custom"  # shown in the app and stored with the model
    blocks: list[ConvBlock] = field(default_factory=lambda: [ConvBlock(16), ConvBlock(32)])
    dense_units: list[int] = field(default_factory=lambda: [64])  # hidden dense layers
    dense_activation: str = "relu"  # activation of the hidden dense layers
    dense_dropout: float = 0.0  # dropout before each dense layer after the first flatten
    flatten_dropout: float = 0.0  # dropout right after flatten (or the global pooling)
    head: str = "flatten"  # one of HEADS

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
    if spec.head not in HEADS:
        raise ModelSpecError(f"Expected a head in {HEADS}. Received: {spec.head!r}")
    if spec.dense_activation not in ACTIVATIONS:
        raise ModelSpecError(f"Expected a dense_activation in {ACTIVATIONS}. Received: {spec.dense_activation!r}")
    for what, rate in (("flatten_dropout", spec.flatten_dropout), ("dense_dropout", spec.dense_dropout)):
        if not 0.0 <= rate < 1.0:
            raise ModelSpecError(f"Expected {what} in [0, 1). Received: {rate}")
    if any(int(u) < 1 for u in spec.dense_units):
        raise ModelSpecError(f"Expected dense_units of at least 1 each. Received: {list(spec.dense_units)}")


@dataclass(frozen=True)
class PlannedLayer:
    """One layer ``build_model`` makes, ``keras.layers.<class_name>(**config)``, and its figures."""

    class_name: str
    config: dict  # keyword arguments, the name included
    output_shape: tuple[int, ...]  # without the batch axis
    params: int  # weights, as count_params() counts them


def plan_layers(spec: ModelSpec, input_shape: tuple[int, int, int], num_classes: int) -> list[PlannedLayer]:
    """The layers after the input that ``build_model`` makes for the spec, with their sizes, none of them built.

    Raises:
        ModelSpecError: a spec that cannot be built.
    """
    _validate(spec, input_shape, num_classes)
    plan: list[PlannedLayer] = []
    shape = tuple(int(v) for v in input_shape)

    def add(class_name: str, **config) -> None:
        nonlocal shape
        try:
            out, params = layer_output(class_name, config, [shape])
        except LayerConfigError as exc:
            raise ModelSpecError(f"{config['name']}: {exc}") from exc
        plan.append(PlannedLayer(class_name, config, out, params))
        shape = out

    for bi, block in enumerate(spec.blocks, 1):
        pool_name = f"{block.pooling}pool{bi}"
        pooled = False

        def pool() -> None:
            nonlocal pooled
            if block.pooling != "none" and shape[0] >= block.pool_size and shape[1] >= block.pool_size:
                add("MaxPooling2D" if block.pooling == "max" else "AveragePooling2D", pool_size=block.pool_size,
                    name=pool_name)
            pooled = True

        for ci in range(1, block.convs + 1):
            padding = block.padding
            if padding == "valid" and (shape[0] < block.kernel_size or shape[1] < block.kernel_size):
                padding = "same"  # input smaller than the kernel
            suffix = f"{bi}_{ci}" if block.convs > 1 else f"{bi}"
            fused = None if block.batch_norm else _keras_activation(block.activation)
            if block.pool_early and ci == 1 and not block.batch_norm:
                fused = None  # the activation comes after the pooling
            add("Conv2D", filters=block.filters, kernel_size=block.kernel_size, padding=padding, activation=fused,
                name=f"conv{suffix}")
            if block.pool_early and ci == 1:
                pool()
            if block.batch_norm:
                add("BatchNormalization", name=f"bn{suffix}")
            if block.batch_norm or (block.pool_early and ci == 1):
                add("Activation", activation=_keras_activation(block.activation), name=f"{block.activation}{suffix}")
        if not pooled:
            pool()
        if block.dropout > 0:
            add("Dropout", rate=block.dropout, name=f"dropout{bi}")
    if spec.head == "flatten":
        add("Flatten", name="flatten")
    else:
        add("GlobalMaxPooling2D" if spec.head == "global_max" else "GlobalAveragePooling2D", name=spec.head + "pool")
    if spec.flatten_dropout > 0:
        add("Dropout", rate=spec.flatten_dropout, name="dropout_flat")
    for di, units in enumerate(spec.dense_units, 1):
        add("Dense", units=int(units), activation=_keras_activation(spec.dense_activation), name=f"dense{di}")
        if spec.dense_dropout > 0:
            add("Dropout", rate=spec.dense_dropout, name=f"dropout_dense{di}")
    add("Dense", units=num_classes, activation="softmax", name="predictions")
    return plan


def spec_size(spec: ModelSpec, input_shape: tuple[int, int, int], num_classes: int) -> ModelSize:
    """The figures of the network ``build_model`` would make, worked out without building it.

    ``spec_size(...).params`` equals the built model's ``count_params()``; ``limit_problems`` of the
    result says which of the server's limits it goes over.

    Raises:
        ModelSpecError: a spec that cannot be built.
    """
    plan = plan_layers(spec, input_shape, num_classes)
    outputs = [("image", tuple(int(v) for v in input_shape))] + [(p.config["name"], p.output_shape) for p in plan]
    dense = [(p.config["name"], p.config["units"]) for p in plan if p.class_name == "Dense"]
    return ModelSize(params=sum(p.params for p in plan), input_shapes=(outputs[0][1],), layers=len(plan) + 1,
                     largest_output=max(outputs, key=lambda o: math.prod(o[1])),
                     widest_dense=max(dense, key=lambda d: d[1]), blocks=len(spec.blocks))


def check_spec_limits(spec: ModelSpec, input_shape: tuple[int, int, int], num_classes: int) -> ModelSize:
    """``spec_size``, or ModelSpecError naming every limit of the server (``core.settings``) it goes over."""
    size = spec_size(spec, input_shape, num_classes)
    problems = limit_problems(size)
    if problems:
        raise ModelSpecError("This network is too big for the server. " + " ".join(problems))
    return size


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

    Raises:
        ModelSpecError: a spec that cannot be built, or one over the server's limits (checked before
            any weight is made: a dense layer of 50,000 units on 128-pixel photos would take minutes
            and gigabytes before failing).
    """
    import keras
    from keras import layers

    check_spec_limits(spec, input_shape, num_classes)
    if seed is not None:
        keras.utils.set_random_seed(seed)
    # Functional rather than Sequential: every layer then has a symbolic output,
    # which the activation extractor and later explanations need.
    inputs = keras.Input(shape=tuple(int(v) for v in input_shape), name="image")
    x = inputs
    for planned in plan_layers(spec, input_shape, num_classes):
        x = getattr(layers, planned.class_name)(**planned.config)(x)
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

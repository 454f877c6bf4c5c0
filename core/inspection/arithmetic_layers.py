"""The arithmetic of the other layers ImageNet networks are built of: depthwise and pointwise convolution, batch norm.

MobileNet, EfficientNet and ResNet stack three kinds of layer that a plain Conv2D does not
show: a depthwise convolution (each channel filtered alone by its own k×k kernel), a pointwise
convolution (a 1×1 Conv2D: at one pixel, a weighted sum over all the input channels) and
batch normalization (each channel scaled and shifted by four stored numbers). As in
``arithmetic``, each step is computed by hand from the layer's input, which comes from a
sub-model that ends at the layer, next to the value the real layer outputs. ``step_layers``
says which layers of a model Step by step can explain, and as what.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from core.inspection.arithmetic import _activation_name, _check_position, _get_layer, _layer_io, _padding_before, \
    _window

KINDS = ("conv", "pointwise", "depthwise", "pool", "batchnorm")


def step_kind(layer) -> str | None:
    """What Step by step explains ``layer`` as: one of ``KINDS``, or None when it cannot explain it.

    Conv2D and DepthwiseConv2D need dilation 1 (and Conv2D one group); every kind needs
    channels-last maps; batch normalization must normalize the channels of (height, width,
    channels) maps. An Add, a Multiply, an Activation, a global pooling and the like are None.
    """
    import keras

    if getattr(layer, "data_format", "channels_last") != "channels_last":
        return None
    try:  # a layer called more than once (or never) has no one input and output to show
        layer.input, layer.output
    except (AttributeError, ValueError):
        return None
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return "depthwise" if tuple(layer.dilation_rate) == (1, 1) else None
    if isinstance(layer, keras.layers.Conv2D):
        if tuple(layer.dilation_rate) != (1, 1) or getattr(layer, "groups", 1) != 1:
            return None
        return "pointwise" if tuple(layer.kernel_size) == (1, 1) else "conv"
    if isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
        return "pool"
    if isinstance(layer, keras.layers.BatchNormalization):
        rank = len(layer.output.shape)
        axis = layer.axis if isinstance(layer.axis, int) else None
        return "batchnorm" if rank == 4 and axis is not None and axis % rank == 3 else None
    return None


def step_layers(model) -> dict[str, str]:
    """The layers Step by step can explain, in model order: layer name -> ``step_kind``."""
    kinds = {layer.name: step_kind(layer) for layer in model.layers}
    return {name: kind for name, kind in kinds.items() if kind is not None}


def unexplained_layers(model) -> Counter:
    """How many layers of each class Step by step cannot explain (Add, ReLU, ...), the input layer left out."""
    import keras

    return Counter(type(layer).__name__ for layer in model.layers
                   if not isinstance(layer, keras.layers.InputLayer) and step_kind(layer) is None)


def describe(layer) -> str:
    """A short label of an explainable layer for a layer choice, e.g. "depthwise 3×3, stride 2"."""
    kind = step_kind(layer)
    if kind is None:
        raise ValueError(f"Expected a layer Step by step explains. Received: {layer.name} ({type(layer).__name__})")
    stride = tuple(int(s) for s in getattr(layer, "strides", (1, 1)))
    step = f", stride {stride[0]}" + (f"×{stride[1]}" if stride[0] != stride[1] else "") if stride != (1, 1) else ""
    if kind == "batchnorm":
        return f"batch norm, {int(layer.output.shape[-1])} channels"
    if kind == "pool":
        size = "×".join(str(int(s)) for s in layer.pool_size)
        return f"{'max' if 'Max' in type(layer).__name__ else 'average'} pool {size}{step}"
    size = "×".join(str(int(s)) for s in layer.kernel_size)
    channels = f"{int(layer.input.shape[-1])} → {int(layer.output.shape[-1])} channels"
    name = {"conv": "conv", "pointwise": "pointwise conv", "depthwise": "depthwise"}[kind]
    return f"{name} {size}{step}, {channels}"


def input_channel_of(model, layer_name: str, channel: int) -> int | None:
    """The one input channel output ``channel`` reads (pooling: its own; depthwise: ``channel // depth_multiplier``).

    None for a Conv2D, whose every output channel reads all the input channels.
    """
    import keras

    layer = model.get_layer(layer_name)
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return int(channel) // int(layer.depth_multiplier)
    if isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
        return int(channel)
    return None


def _activate(layer, value: float) -> float:
    import keras

    return float(np.asarray(layer.activation(keras.ops.convert_to_tensor(np.float32(value)))))


def depthwise_step(model, layer_name: str, image: np.ndarray, channel: int, row: int, col: int) -> dict:
    """Everything one DepthwiseConv2D output value is made of.

    A depthwise convolution filters each input channel alone: output channel ``c * m + k``
    (``m`` the depth multiplier, ``k < m``) is input channel ``c``'s k×k window times its own
    kernel ``kernel[:, :, c, k]``, summed, plus a bias. Nothing is summed over channels.

    Args:
        model: a Keras model; not changed.
        layer_name: a channels-last ``DepthwiseConv2D`` with dilation 1.
        image: one image of the model's input shape, no batch axis.
        channel: output channel.
        row, col: output position.

    Returns:
        A dict with ``in_channel`` (the input channel read) and ``multiplier_index`` (k);
        ``depth_multiplier``; ``patch`` (kh, kw) of that input channel, zeros where 'same'
        padding reaches outside it; ``valid`` (kh, kw) bool; ``top``/``left``, the input
        coordinates of the patch's first cell; ``kernel`` (kh, kw); ``products`` = patch *
        kernel in float64; ``sum``; ``bias`` (0.0 without one); ``preactivation``;
        ``activation`` and ``postactivation``; ``layer_output``, the real layer's value; and
        ``stride``, ``padding``.
    """
    import keras

    layer = _get_layer(model, layer_name, (keras.layers.DepthwiseConv2D,), "DepthwiseConv2D")
    if tuple(layer.dilation_rate) != (1, 1):
        raise ValueError(f"Expected a DepthwiseConv2D with dilation_rate (1, 1). Received: {layer_name} "
                         f"(dilation_rate={tuple(layer.dilation_rate)})")
    x, y = _layer_io(model, layer, image)
    _check_position(y.shape, channel, row, col)
    multiplier = int(layer.depth_multiplier)
    source, k = divmod(int(channel), multiplier)
    weights = layer.get_weights()
    kernel = np.asarray(weights[0])[:, :, source, k]  # (kh, kw, in_channels, multiplier)
    bias = float(weights[1][channel]) if layer.use_bias else 0.0
    (kh, kw), (sh, sw) = kernel.shape, tuple(int(s) for s in layer.strides)
    top = row * sh - _padding_before(x.shape[0], kh, sh, layer.padding)
    left = col * sw - _padding_before(x.shape[1], kw, sw, layer.padding)
    patch, valid = _window(x[..., source:source + 1], top, left, kh, kw, 0.0)
    patch = patch[..., 0]
    products = patch.astype(np.float64) * kernel.astype(np.float64)
    total = float(products.sum())
    pre = total + bias
    return {
        "in_channel": source, "multiplier_index": k, "depth_multiplier": multiplier,
        "patch": patch, "valid": valid, "top": top, "left": left, "kernel": kernel.copy(), "products": products,
        "sum": total, "bias": bias, "preactivation": pre, "activation": _activation_name(layer),
        "postactivation": _activate(layer, pre), "layer_output": float(y[row, col, channel]),
        "stride": (sh, sw), "padding": layer.padding,
    }


def largest_terms(step: dict, n: int = 8) -> dict:
    """The ``n`` products of a pointwise (1×1) ``conv_step`` largest in size, and what the rest add up to.

    A pointwise convolution's value is a sum over every input channel (hundreds in an
    ImageNet network): these are the terms that weigh most, the rest summed in one number.

    Returns:
        A dict with ``channels`` (input channel of each term, largest |product| first),
        ``values``, ``weights`` and ``products`` of those terms; ``rest_count`` and
        ``rest_sum`` of the others; ``positive_count``/``positive_sum`` and
        ``negative_count``/``negative_sum`` of all the products; and ``count``.
    """
    if step["products"].shape[:2] != (1, 1):
        raise ValueError(f"Expected the step of a 1×1 convolution. "
                         f"Received: products of shape {step['products'].shape}")
    products = step["products"].reshape(-1)
    order = np.argsort(-np.abs(products), kind="stable")[:max(0, int(n))]
    rest = np.ones(products.size, bool)
    rest[order] = False
    return {
        "channels": order, "values": step["patch"].reshape(-1)[order], "weights": step["kernel"].reshape(-1)[order],
        "products": products[order], "rest_count": int(rest.sum()), "rest_sum": float(products[rest].sum()),
        "positive_count": int((products > 0).sum()), "positive_sum": float(products[products > 0].sum()),
        "negative_count": int((products < 0).sum()), "negative_sum": float(products[products < 0].sum()),
        "count": int(products.size),
    }


def _batchnorm(model, layer_name: str):
    import keras

    layer = model.get_layer(layer_name)
    if step_kind(layer) != "batchnorm" or not isinstance(layer, keras.layers.BatchNormalization):
        raise ValueError(f"Expected a BatchNormalization over the channels of (height, width, channels) maps. "
                         f"Received: {layer_name} ({type(layer).__name__})")
    return layer


def batchnorm_step(model, layer_name: str, image: np.ndarray, channel: int, row: int, col: int) -> dict:
    """One BatchNormalization output value as a trained network computes it (inference mode).

    ``y = gamma * (x - moving_mean) / sqrt(moving_variance + epsilon) + beta``, with the four
    numbers of the channel: the statistics kept during training, not those of this image.

    Args:
        model: a Keras model; not changed.
        layer_name: a ``BatchNormalization`` over the last axis of (height, width, channels) maps.
        image: one image of the model's input shape, no batch axis.
        channel, row, col: the position.

    Returns:
        A dict with ``x`` (the layer's input there), ``mean``, ``variance``, ``epsilon``,
        ``gamma`` (1.0 when ``scale`` is False) and ``beta`` (0.0 when ``center`` is False),
        ``scale``/``center`` (the layer's flags), ``std`` = sqrt(variance + epsilon),
        ``normalized`` = (x - mean) / std, ``value`` = gamma * normalized + beta (float64),
        ``slope`` = gamma / std and ``offset`` = beta - slope * mean (the channel's whole map is
        ``slope * x + offset``), and ``layer_output``, the real layer's value.
    """
    layer = _batchnorm(model, layer_name)
    x, y = _layer_io(model, layer, image)
    _check_position(y.shape, channel, row, col)
    mean = float(np.asarray(layer.moving_mean)[channel])
    variance = float(np.asarray(layer.moving_variance)[channel])
    gamma = float(np.asarray(layer.gamma)[channel]) if layer.scale else 1.0
    beta = float(np.asarray(layer.beta)[channel]) if layer.center else 0.0
    epsilon = float(layer.epsilon)
    value = float(x[row, col, channel])
    std = math.sqrt(variance + epsilon)
    normalized = (value - mean) / std
    slope = gamma / std
    return {
        "x": value, "mean": mean, "variance": variance, "epsilon": epsilon, "gamma": gamma, "beta": beta,
        "scale": bool(layer.scale), "center": bool(layer.center), "std": std, "normalized": normalized,
        "value": gamma * normalized + beta, "slope": slope, "offset": beta - slope * mean,
        "layer_output": float(y[row, col, channel]),
    }


def batchnorm_maps(model, layer_name: str, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Input and output maps (height, width, channels) of a BatchNormalization layer for one image."""
    return _layer_io(model, _batchnorm(model, layer_name), image)

"""The arithmetic of one output value: a convolution step and a pooling step, in numbers.

A page can show exactly what a Conv2D computes at one position (the input patch, the
kernel, their products, the sum, the bias, the activation) and what a pooling layer
takes from its window, next to the value the real layer gives, so a learner sees that
the arithmetic is the whole story. The input of a layer comes from a sub-model that
ends at the layer's input tensor; the model itself is never changed. Padding follows
TensorFlow's rule for 'same': ``pad_total = max((ceil(in / stride) - 1) * stride + k - in, 0)``
with ``pad_total // 2`` before and the rest after. Depthwise convolution and batch
normalization, the other layers of the ImageNet networks, are in ``arithmetic_layers``.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
import weakref

import numpy as np

_PROBES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
# the last (layer name, image digest, input, output) per model: a page asks for the maps, then for
# one value after another of the same layer and image, and a big network's sub-model costs a run each
_LAST: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _layer_io(model, layer, image) -> tuple[np.ndarray, np.ndarray]:
    """Input and output of ``layer`` for one image, through a sub-model cached per model.

    The sub-model ends at the layer: the layers after it are not run.
    """
    import keras

    image = np.ascontiguousarray(image, np.float32)
    expected = tuple(int(d) for d in model.input_shape[1:])
    if image.shape != expected:
        raise ValueError(f"Expected an image of shape {expected}. Received: shape={image.shape}")
    digest = hashlib.sha1(image.tobytes()).digest()
    with _LOCK:
        last = _LAST.get(model)
        if last is not None and last[:2] == (layer.name, digest):
            return last[2].copy(), last[3].copy()  # copies: a caller's edits must not reach the next caller
        probes = _PROBES.setdefault(model, {})
        probe = probes.get(layer.name)
        if probe is None:
            inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
            probe = probes[layer.name] = keras.Model(inputs, [layer.input, layer.output])
    layer_in, layer_out = probe(image[None], training=False)
    layer_in, layer_out = np.asarray(layer_in)[0], np.asarray(layer_out)[0]
    with _LOCK:
        _LAST[model] = (layer.name, digest, layer_in.copy(), layer_out.copy())
    return layer_in, layer_out


def _get_layer(model, layer_name: str, kinds: tuple, what: str):
    layer = model.get_layer(layer_name)
    if not isinstance(layer, kinds) or getattr(layer, "data_format", "channels_last") != "channels_last":
        raise ValueError(f"Expected a channels-last {what} layer. "
                         f"Received: {layer_name} ({type(layer).__name__})")
    return layer


def _padding_before(size: int, window: int, stride: int, padding: str) -> int:
    """Rows (or columns) of padding TensorFlow adds before the input."""
    if padding == "valid":
        return 0
    out = -(-size // stride)
    return max((out - 1) * stride + window - size, 0) // 2


def _check_position(out_shape, channel: int, row: int, col: int) -> None:
    for name, value, limit in (("row", row, out_shape[0]), ("col", col, out_shape[1]), ("channel", channel, out_shape[2])):
        if not 0 <= value < limit:
            raise ValueError(f"Expected {name} in [0, {limit}). Received: {name}={value}")


def _window(x: np.ndarray, top: int, left: int, kh: int, kw: int, fill: float) -> tuple[np.ndarray, np.ndarray]:
    """The (kh, kw, C) window of ``x`` at (top, left), ``fill`` outside ``x``, and its in-bounds mask."""
    h, w = x.shape[:2]
    r0, r1, c0, c1 = max(top, 0), min(top + kh, h), max(left, 0), min(left + kw, w)
    window = np.full((kh, kw, x.shape[2]), fill, x.dtype)
    valid = np.zeros((kh, kw), bool)
    window[r0 - top:r1 - top, c0 - left:c1 - left] = x[r0:r1, c0:c1]
    valid[r0 - top:r1 - top, c0 - left:c1 - left] = True
    return window, valid


def _activation_name(layer) -> str:
    config = layer.get_config().get("activation")
    return config if isinstance(config, str) else getattr(layer.activation, "__name__", type(layer.activation).__name__)


def conv_step(model, layer_name: str, image: np.ndarray, channel: int, row: int, col: int) -> dict:
    """Everything one Conv2D output value is made of.

    Args:
        model: a Keras model (functional or Sequential); not changed.
        layer_name: a channels-last ``Conv2D`` with dilation 1 and one group.
        image: one image of the model's input shape, no batch axis.
        channel: output channel (filter index).
        row, col: output position.

    Returns:
        A dict with ``patch`` (kh, kw, in_ch) of the layer's input, zeros where 'same'
        padding reaches outside it; ``valid`` (kh, kw) bool, True inside the input;
        ``top``/``left``, the input coordinates of the patch's first cell (negative in
        the padding); ``kernel`` (kh, kw, in_ch); ``products`` = patch * kernel in float64
        (exact for float32 factors); ``sum``; ``bias`` (0.0 without one);
        ``preactivation`` = sum + bias; ``activation`` (its name); ``postactivation``
        (the layer's own activation applied); ``layer_output``, the value the real layer
        gives at that position; ``stride``, ``padding``; and ``pointwise``, True for a 1×1
        kernel (the value mixes the input channels at one pixel and reads no neighbour).
    """
    import keras

    layer = _get_layer(model, layer_name, (keras.layers.Conv2D,), "Conv2D")
    if tuple(layer.dilation_rate) != (1, 1) or getattr(layer, "groups", 1) != 1:
        raise ValueError(f"Expected a Conv2D with dilation_rate (1, 1) and groups=1. Received: {layer_name} "
                         f"(dilation_rate={tuple(layer.dilation_rate)}, groups={getattr(layer, 'groups', 1)})")
    x, y = _layer_io(model, layer, image)
    _check_position(y.shape, channel, row, col)
    weights = layer.get_weights()
    kernel = np.asarray(weights[0])[..., channel]
    bias = float(weights[1][channel]) if layer.use_bias else 0.0
    (kh, kw), (sh, sw) = kernel.shape[:2], tuple(layer.strides)
    top = row * sh - _padding_before(x.shape[0], kh, sh, layer.padding)
    left = col * sw - _padding_before(x.shape[1], kw, sw, layer.padding)
    patch, valid = _window(x, top, left, kh, kw, 0.0)
    products = patch.astype(np.float64) * kernel.astype(np.float64)
    total = float(products.sum())
    pre = total + bias
    post = float(np.asarray(layer.activation(keras.ops.convert_to_tensor(np.float32(pre)))))
    return {
        "patch": patch, "valid": valid, "top": top, "left": left, "kernel": kernel.copy(),
        "products": products, "sum": total, "bias": bias, "preactivation": pre,
        "activation": _activation_name(layer), "postactivation": post,
        "layer_output": float(y[row, col, channel]), "stride": (sh, sw), "padding": layer.padding,
        "pointwise": (kh, kw) == (1, 1),
    }


def preactivation_maps(model, layer_name: str, image: np.ndarray) -> np.ndarray | None:
    """The maps of a Conv2D before its fused activation, for one image.

    Args:
        model: a Keras model; not changed.
        layer_name: a channels-last ``Conv2D``.
        image: one image of the model's input shape, no batch axis.

    Returns:
        float32 (height, width, filters): the same convolution with the layer's kernel,
        bias, strides, padding and dilation but no activation; None when the layer's
        activation is linear (its output already is the pre-activation).
    """
    import keras

    layer = _get_layer(model, layer_name, (keras.layers.Conv2D,), "Conv2D")
    if _activation_name(layer) == "linear" or layer.activation is keras.activations.linear:
        return None
    x, _ = _layer_io(model, layer, image)
    weights = layer.get_weights()
    out = keras.ops.conv(x[None], weights[0], strides=tuple(layer.strides), padding=layer.padding,
                         dilation_rate=tuple(layer.dilation_rate))
    out = np.asarray(out)[0]
    if layer.use_bias:
        out = out + weights[1]
    return out.astype(np.float32)


def pool_step(model, layer_name: str, image: np.ndarray, channel: int, row: int, col: int) -> dict:
    """What one MaxPooling2D or AveragePooling2D output value is taken from.

    Args:
        model: a Keras model; not changed.
        layer_name: a channels-last ``MaxPooling2D`` or ``AveragePooling2D``.
        image: one image of the model's input shape, no batch axis.
        channel: the channel (pooling works on each channel alone).
        row, col: output position.

    Returns:
        A dict with ``kind`` ("max" or "average"); ``window`` (ph, pw) of the layer's
        input channel, NaN where 'same' padding reaches outside the input (those cells
        take no part); ``valid`` (ph, pw) bool; ``top``/``left``, the input coordinates of
        the window's first cell; ``value``, the pooled value (for "max" also ``argmax``,
        the (r, c) inside the window it came from; for "average" ``count``, the cells
        averaged: TensorFlow averages over the cells inside the input only);
        ``layer_output`` from the real layer; ``pool_size``, ``stride``, ``padding``.
    """
    import keras

    kinds = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
    layer = _get_layer(model, layer_name, kinds, "MaxPooling2D or AveragePooling2D")
    x, y = _layer_io(model, layer, image)
    _check_position(y.shape, channel, row, col)
    (ph, pw), (sh, sw) = tuple(layer.pool_size), tuple(layer.strides)
    top = row * sh - _padding_before(x.shape[0], ph, sh, layer.padding)
    left = col * sw - _padding_before(x.shape[1], pw, sw, layer.padding)
    window, valid = _window(x[..., channel:channel + 1], top, left, ph, pw, np.nan)
    window = window[..., 0]
    result = {"window": window, "valid": valid, "top": top, "left": left, "layer_output": float(y[row, col, channel]),
              "pool_size": (ph, pw), "stride": (sh, sw), "padding": layer.padding}
    if isinstance(layer, keras.layers.MaxPooling2D):
        r, c = np.unravel_index(int(np.nanargmax(window)), window.shape)
        result.update(kind="max", argmax=(int(r), int(c)), value=float(window[r, c]))
    else:
        result.update(kind="average", count=int(valid.sum()), value=float(np.nanmean(window.astype(np.float64))))
    return result


def pool_maps(model, layer_name: str, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Input and output maps (height, width, channels) of a pooling layer for one image."""
    import keras

    kinds = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
    layer = _get_layer(model, layer_name, kinds, "MaxPooling2D or AveragePooling2D")
    return _layer_io(model, layer, image)


def _window_kinds() -> tuple:
    import keras

    return (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.MaxPooling2D,
            keras.layers.AveragePooling2D)


def window_maps(model, layer_name: str, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Input and output maps (height, width, channels) of a Conv2D, DepthwiseConv2D or pooling layer for one image."""
    return _layer_io(model, _get_layer(model, layer_name, _window_kinds(), "Conv2D, DepthwiseConv2D or pooling"),
                     image)


@dataclass(frozen=True)
class WindowSpec:
    """How a Conv2D, DepthwiseConv2D or pooling layer's window slides over its input."""

    size: tuple[int, int]  # window (kernel or pool) height and width
    stride: tuple[int, int]
    pad_before: tuple[int, int]  # rows above and columns left of the input that padding adds
    in_shape: tuple[int, int, int]  # the layer's input (height, width, channels)
    out_shape: tuple[int, int, int]  # its output (height, width, channels)

    def origin(self, row: int, col: int) -> tuple[int, int]:
        """Input (top, left) of the window behind output (row, col); negative in the padding."""
        return row * self.stride[0] - self.pad_before[0], col * self.stride[1] - self.pad_before[1]

    def position_at(self, in_row: float, in_col: float) -> tuple[int, int]:
        """The output position whose window is centred nearest input pixel (in_row, in_col)."""
        out = []
        for value, size, stride, pad, limit in zip((in_row, in_col), self.size, self.stride, self.pad_before,
                                                   self.out_shape[:2]):
            out.append(int(np.clip(np.floor((value + pad - (size - 1) / 2) / stride + 0.5), 0, limit - 1)))
        return out[0], out[1]


def window_spec(model, layer_name: str) -> WindowSpec:
    """The ``WindowSpec`` of a channels-last Conv2D, DepthwiseConv2D, MaxPooling2D or AveragePooling2D layer."""
    layer = _get_layer(model, layer_name, _window_kinds(), "Conv2D, DepthwiseConv2D or pooling")
    size = tuple(layer.kernel_size) if hasattr(layer, "kernel_size") else tuple(layer.pool_size)
    in_shape = tuple(int(d) for d in layer.input.shape[1:])
    out_shape = tuple(int(d) for d in layer.output.shape[1:])
    stride = tuple(int(s) for s in layer.strides)
    pad = tuple(_padding_before(in_shape[i], size[i], stride[i], layer.padding) for i in (0, 1))
    return WindowSpec(size, stride, pad, in_shape, out_shape)


def busiest_position(x: np.ndarray, spec: WindowSpec) -> tuple[int, int]:
    """The output position whose window covers the most content of the input ``x`` (H, W, C).

    Content is how far each input value is from the background, the map's median (per
    channel): a black digit on white and a white digit on black both count, and a ReLU map's
    zeros are background. (Not the median of the border: a 'same' convolution often responds
    to the padding all along its border.) Padding holds none. Of equal windows the one nearest
    the input's centre wins, so a blank input starts in the middle rather than in a corner.
    ``x`` may hold all the layer's input channels or only some (a pooling window reads one).
    """
    x = np.asarray(x, np.float64)
    if x.ndim != 3 or x.shape[:2] != spec.in_shape[:2]:
        raise ValueError(f"Expected an input of height and width {spec.in_shape[:2]}. Received: shape={x.shape}")
    content = np.abs(x - np.median(x, axis=(0, 1))).sum(axis=-1)
    (kh, kw), (sh, sw), (pt, pl) = spec.size, spec.stride, spec.pad_before
    out_h, out_w = spec.out_shape[:2]
    # a summed-area table over the input, padded by a window on every side, gives each window's sum in O(1)
    padded = np.zeros((x.shape[0] + 2 * kh, x.shape[1] + 2 * kw))
    padded[kh:kh + x.shape[0], kw:kw + x.shape[1]] = content
    table = np.pad(padded.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    tops = np.arange(out_h) * sh - pt + kh
    lefts = np.arange(out_w) * sw - pl + kw
    t, l = tops[:, None], lefts[None, :]
    sums = table[t + kh, l + kw] - table[t, l + kw] - table[t + kh, l] + table[t, l]
    centre_r, centre_c = (x.shape[0] - 1) / 2, (x.shape[1] - 1) / 2
    rows, cols = np.meshgrid(tops - kh + (kh - 1) / 2, lefts - kw + (kw - 1) / 2, indexing="ij")
    distance = np.hypot(rows - centre_r, cols - centre_c)
    best = np.lexsort((distance.ravel(), -np.round(sums.ravel(), 9)))[0]
    return int(best // out_w), int(best % out_w)

"""What a Keras layer outputs and how many weights it holds, worked out from its config alone.

``layer_output("Conv2D", {"filters": 16, "kernel_size": [3, 3], ...}, [(32, 32, 3)])`` returns
``((32, 32, 16), 448)`` without building the layer, so the size of a model described in a file, or by
the architecture editor, is known before a single weight is allocated. Shapes leave out the batch
axis and are whole numbers only (a model whose image size is not fixed is refused before this).

Only the layers CNN Lab's image classifiers and common image models are made of are known; any
other class raises ``LayerConfigError`` rather than being guessed at. The figures are checked against
Keras itself (``keras.layers.X(...).compute_output_shape`` and ``count_params``) in
``tests/core/models/test_layer_arithmetic.py``.
"""

from __future__ import annotations

import math

Shape = tuple[int, ...]


class LayerConfigError(ValueError):
    """A layer whose figures cannot be worked out: an unknown class, or a config that does not add up."""


# Layers that pass their input's shape on unchanged and hold no weights.
SAME_SHAPE = frozenset({
    "Activation", "ReLU", "LeakyReLU", "ELU", "Softmax", "Identity", "UnitNormalization",
    "Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization",
    "Rescaling", "ImageNetPreprocessing", "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast",
    "RandomBrightness", "RandomGrayscale", "RandomHue", "RandomSaturation", "RandomSharpness", "RandomShear",
    "RandomColorJitter", "RandomColorDegeneration", "RandomPosterization", "RandomInvert", "Solarization",
    "AutoContrast", "Equalization", "RandomGaussianBlur", "RandomErasing", "RandomPerspective",
    "RandomElasticTransform",
})
MERGES = frozenset({"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"})


def known_layers() -> frozenset[str]:
    """Every class name ``layer_output`` knows."""
    return SAME_SHAPE | MERGES | frozenset(_RULES) | {"Concatenate"}


def layer_output(class_name: str, config: dict, inputs: list[Shape]) -> tuple[Shape, int]:
    """The output shape and the weight count of one call of a layer.

    Args:
        class_name: the Keras class, e.g. ``"Conv2D"``.
        config: the layer's config, as ``layer.get_config()`` gives it or a ``.keras`` file stores it.
        inputs: the shape of each input tensor, without the batch axis.

    Returns:
        ``(output_shape, weights)``: weights as ``layer.count_params()`` counts them once built.

    Raises:
        LayerConfigError: an unknown class, an option that changes the weights in a way not worked out
            here, or a config that does not fit its inputs.
    """
    if class_name in MERGES:
        return _merge(class_name, inputs), 0
    if class_name == "Concatenate":
        return _concatenate(config, inputs), 0
    if len(inputs) != 1:
        raise LayerConfigError(f"Expected one input for a {class_name} layer. Received: {len(inputs)} inputs")
    shape = tuple(inputs[0])
    if class_name in SAME_SHAPE:
        return shape, 0
    rule = _RULES.get(class_name)
    if rule is None:
        raise LayerConfigError(f"Expected a layer whose size CNN Lab can work out. Received: {class_name}")
    if config.get("data_format", "channels_last") != "channels_last":
        raise LayerConfigError(f"Expected channels-last images (height, width, channels). Received: a {class_name} "
                               f"with data_format={config.get('data_format')!r}")
    for option in ("lora_rank", "quantization_config", "renorm"):
        if config.get(option):
            raise LayerConfigError(f"Expected a plain {class_name} layer. Received: one with {option}="
                                   f"{config.get(option)!r}, whose weights CNN Lab does not work out")
    return rule(config, shape)


# --- reading a config -------------------------------------------------------------------------------


def number(config: dict, key: str, default=None, minimum: int = 1) -> int:
    """A whole number of a config (JSON from a file: anything may be there), at least ``minimum``."""
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise LayerConfigError(f"Expected {key} to be a whole number of at least {minimum}. Received: {value!r}")
    return value


def _pair(config: dict, key: str, default=None, minimum: int = 1) -> tuple[int, int]:
    value = config.get(key, default)
    values = list(value) if isinstance(value, (list, tuple)) else [value, value]
    if len(values) != 2:
        raise LayerConfigError(f"Expected {key} to be one or two whole numbers. Received: {value!r}")
    return tuple(number({key: v}, key, minimum=minimum) for v in values)


def _flag(config: dict, key: str, default: bool) -> bool:
    value = config.get(key, default)
    if not isinstance(value, bool):
        raise LayerConfigError(f"Expected {key} to be true or false. Received: {value!r}")
    return value


def _image(shape: Shape, what: str) -> Shape:
    if len(shape) != 3:
        raise LayerConfigError(f"Expected images (height, width, channels) for a {what} layer. Received: shape={shape}")
    return shape


def _axes(config: dict, shape: Shape, key: str = "axis") -> list[int]:
    """The axes a config names, as indices of ``shape`` (which has no batch axis)."""
    value = config.get(key, -1)
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    axes = []
    for a in values:
        if isinstance(a, bool) or not isinstance(a, int) or not -len(shape) - 1 <= a <= len(shape) or a == 0:
            raise LayerConfigError(f"Expected {key} to name axes of an input of shape {shape}. Received: {value!r}")
        axes.append(a - 1 if a > 0 else len(shape) + a)  # Keras counts the batch axis; our shapes leave it out
    return axes


def _padding(config: dict) -> str:
    padding = config.get("padding", "valid")
    if padding not in ("valid", "same"):
        raise LayerConfigError(f"Expected padding 'valid' or 'same'. Received: {padding!r}")
    return padding


def _window_output(size: int, window: int, stride: int, dilation: int, padding: str) -> int:
    """Keras's output length of a convolution or pooling along one axis."""
    if padding == "same":
        return (size - 1) // stride + 1
    out = (size - dilation * (window - 1) - 1) // stride + 1
    if out < 1:
        raise LayerConfigError(f"Expected an input of at least {dilation * (window - 1) + 1} pixels for a window of "
                               f"{window}. Received: {size}")
    return out


# --- one rule a layer class ---------------------------------------------------------------------------


def _conv_output(config: dict, shape: Shape, what: str) -> tuple[int, int, tuple[int, int]]:
    h, w, _ = _image(shape, what)
    kh, kw = _pair(config, "kernel_size")
    sh, sw = _pair(config, "strides", 1)
    dh, dw = _pair(config, "dilation_rate", 1)
    padding = _padding(config)
    return _window_output(h, kh, sh, dh, padding), _window_output(w, kw, sw, dw, padding), (kh, kw)


def _conv2d(config, shape):
    oh, ow, (kh, kw) = _conv_output(config, shape, "Conv2D")
    filters, groups, channels = number(config, "filters"), number(config, "groups", 1), shape[-1]
    if channels % groups or filters % groups:
        raise LayerConfigError(f"Expected groups ({groups}) to divide both the input channels ({channels}) and "
                               f"the filters ({filters})")
    bias = filters if _flag(config, "use_bias", True) else 0
    return (oh, ow, filters), kh * kw * (channels // groups) * filters + bias


def _depthwise(config, shape):
    oh, ow, (kh, kw) = _conv_output(config, shape, "DepthwiseConv2D")
    out = shape[-1] * number(config, "depth_multiplier", 1)
    return (oh, ow, out), kh * kw * out + (out if _flag(config, "use_bias", True) else 0)


def _separable(config, shape):
    oh, ow, (kh, kw) = _conv_output(config, shape, "SeparableConv2D")
    middle, filters = shape[-1] * number(config, "depth_multiplier", 1), number(config, "filters")
    bias = filters if _flag(config, "use_bias", True) else 0
    return (oh, ow, filters), kh * kw * middle + middle * filters + bias


def _dense(config, shape):
    if not shape:
        raise LayerConfigError("Expected an input with at least one axis for a Dense layer. Received: a scalar")
    units = number(config, "units")
    return shape[:-1] + (units,), shape[-1] * units + (units if _flag(config, "use_bias", True) else 0)


def _kept(config, shape):
    """Size of the weights of a normalisation along ``axis``."""
    return math.prod(shape[a] for a in set(_axes(config, shape)))


def _batch_norm(config, shape):
    copies = 2 + _flag(config, "scale", True) + _flag(config, "center", True)  # moving mean and variance
    return shape, _kept(config, shape) * copies


def _layer_norm(config, shape):
    rms = _flag(config, "rms_scaling", False)
    copies = (_flag(config, "scale", True) or rms) + (_flag(config, "center", True) and not rms)
    return shape, _kept(config, shape) * copies


def _group_norm(config, shape):
    channels, groups = shape[-1], number(config, "groups", 32)
    if channels % groups or _axes(config, shape) != [len(shape) - 1]:
        raise LayerConfigError(f"Expected {groups} groups dividing the last axis ({channels} channels)")
    return shape, channels * (_flag(config, "scale", True) + _flag(config, "center", True))


def _prelu(config, shape):
    shared = config.get("shared_axes") or []
    shared = _axes({"axis": shared}, shape) if shared else []
    return shape, math.prod(1 if i in shared else d for i, d in enumerate(shape))


def _pooling(config, shape):
    h, w, c = _image(shape, "pooling")
    ph, pw = _pair(config, "pool_size", 2)
    sh, sw = _pair(config, "strides", None) if config.get("strides") is not None else (ph, pw)
    padding = _padding(config)
    return (_window_output(h, ph, sh, 1, padding), _window_output(w, pw, sw, 1, padding), c), 0


def _global_pooling(config, shape):
    _, _, c = _image(shape, "global pooling")
    return ((1, 1, c) if _flag(config, "keepdims", False) else (c,)), 0


def _flatten(config, shape):
    return (math.prod(shape),), 0


def _resize(config, shape):
    _, _, c = _image(shape, "resizing or cropping")
    return (number(config, "height"), number(config, "width"), c), 0


def _reshape(config, shape):
    target = config.get("target_shape")
    if not isinstance(target, (list, tuple)) or not target:
        raise LayerConfigError(f"Expected a target_shape for Reshape. Received: {target!r}")
    dims = [-1 if d == -1 else number({"target_shape": d}, "target_shape") for d in target]
    size, known = math.prod(shape), math.prod(d for d in dims if d != -1)
    if dims.count(-1) > 1 or (dims.count(-1) == 1 and size % known) or (-1 not in dims and known != size):
        raise LayerConfigError(f"Expected a target_shape of {size} numbers in all. Received: {list(target)}")
    return tuple(size // known if d == -1 else d for d in dims), 0


def _margins(config, key):
    value = config.get(key, 1)
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, (list, tuple)) for v in value):
        return [_pair({key: v}, key, minimum=0) for v in value]
    return [(m, m) for m in _pair(config, key, minimum=0)]


def _zero_padding(config, shape):
    h, w, c = _image(shape, "ZeroPadding2D")
    (top, bottom), (left, right) = _margins(config, "padding")
    return (h + top + bottom, w + left + right, c), 0


def _cropping(config, shape):
    h, w, c = _image(shape, "Cropping2D")
    (top, bottom), (left, right) = _margins(config, "cropping")
    if h - top - bottom < 1 or w - left - right < 1:
        raise LayerConfigError(f"Expected a cropping smaller than the input {h}x{w}")
    return (h - top - bottom, w - left - right, c), 0


def _upsampling(config, shape):
    h, w, c = _image(shape, "UpSampling2D")
    sh, sw = _pair(config, "size", 2)
    return (h * sh, w * sw, c), 0


def _normalization(config, shape):
    if config.get("mean") is not None or config.get("variance") is not None:
        return shape, 0  # given at construction: held as constants, not weights
    return shape, 2 * _kept(config, shape) + 1  # mean, variance and the count of samples adapted on


_RULES = {
    "Conv2D": _conv2d, "DepthwiseConv2D": _depthwise, "SeparableConv2D": _separable, "Dense": _dense,
    "BatchNormalization": _batch_norm, "LayerNormalization": _layer_norm, "GroupNormalization": _group_norm,
    "Normalization": _normalization, "PReLU": _prelu,
    "MaxPooling2D": _pooling, "AveragePooling2D": _pooling,
    "GlobalAveragePooling2D": _global_pooling, "GlobalMaxPooling2D": _global_pooling, "Flatten": _flatten,
    "Resizing": _resize, "CenterCrop": _resize, "RandomCrop": _resize, "Reshape": _reshape,
    "ZeroPadding2D": _zero_padding, "Cropping2D": _cropping, "UpSampling2D": _upsampling,
}


def _merge(class_name: str, inputs: list[Shape]) -> Shape:
    if len(inputs) < 2 or (class_name == "Subtract" and len(inputs) != 2):
        raise LayerConfigError(f"Expected {'2' if class_name == 'Subtract' else 'at least 2'} inputs for a "
                               f"{class_name} layer. Received: {len(inputs)}")
    if len({len(s) for s in inputs}) != 1:
        raise LayerConfigError(f"Expected inputs of one rank for a {class_name} layer. Received: shapes {inputs}")
    out = []
    for dims in zip(*inputs):
        sizes = {d for d in dims if d != 1}
        if len(sizes) > 1:
            raise LayerConfigError(f"Expected inputs of shapes that broadcast for {class_name}. Received: {inputs}")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def _concatenate(config: dict, inputs: list[Shape]) -> Shape:
    if len(inputs) < 2 or len({len(s) for s in inputs}) != 1 or not inputs[0]:
        raise LayerConfigError(f"Expected at least 2 inputs of one rank for Concatenate. Received: shapes {inputs}")
    axes = _axes(config, inputs[0])
    if len(axes) != 1:
        raise LayerConfigError(f"Expected one axis for Concatenate. Received: {config.get('axis')!r}")
    axis = axes[0]
    rest = {s[:axis] + s[axis + 1:] for s in inputs}
    if len(rest) != 1:
        raise LayerConfigError(f"Expected inputs alike but along axis {axis + 1} for Concatenate. Received: {inputs}")
    first = inputs[0]
    return first[:axis] + (sum(s[axis] for s in inputs),) + first[axis + 1:]

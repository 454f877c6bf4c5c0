"""Look inside a model: its convolution layers, their filters, and the activations of every layer.

Nothing here changes the model it is given. Activations come from one
sub-model that outputs every layer at once, wrapped in a ``tf.function`` and
cached per model: about 1 ms per image on a laptop CPU, where
``model.predict`` costs about 50 ms of overhead per call.

A page that shows a few layers of a large network asks for those alone: every map of
ResNet50 for one 224×224 image takes about 1 GB. Their sub-model holds only the part of the
network up to them, and the last few such sets are kept traced per model.
"""

from __future__ import annotations

from collections import OrderedDict
import threading
import weakref

import numpy as np

_EXTRACTORS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # model -> its all-layer extractor
_CHOSEN: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # model -> {names: extractor}, latest last
_LOCK = threading.Lock()
PARTIAL_KEPT = 8  # extractors of chosen layers kept per model, besides the all-layer one: one trace each
# A model is "big" (an ImageNet network, or one built on it) above these many layers or weights: its pages never
# compute every layer's maps at once (ResNet50's, for one 224×224 image, take about 1 GB), and leave what runs it
# dozens of times to the user's asking (VGG16 has 23 layers but 138 million weights: 0.3 s a pass on two cores)
BIG_MODEL_LAYERS = 40
BIG_MODEL_PARAMS = 20_000_000


def is_big(model) -> bool:
    return len(model.layers) > BIG_MODEL_LAYERS or model.count_params() > BIG_MODEL_PARAMS


def conv_layers(model) -> list:
    """The model's 2-D convolution layers, in order."""
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def visual_layers(model) -> list:
    """Layers whose output is a stack of 2-D maps (height, width, channels), input layer excluded."""
    import keras

    return [layer for layer in model.layers
            if not isinstance(layer, keras.layers.InputLayer) and len(layer.output.shape) == 4]


def conv_filters(model, layer_name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Kernel and bias of a conv layer.

    Returns:
        kernel of shape (kh, kw, in_channels, filters) and bias of shape (filters,) or None.
    """
    layer = model.get_layer(layer_name)
    weights = layer.get_weights()
    if not weights or weights[0].ndim != 4:
        raise ValueError(f"Expected a Conv2D layer with a 4-D kernel. Received: {layer_name} ({type(layer).__name__})")
    kernel = np.array(weights[0])
    bias = np.array(weights[1]) if len(weights) > 1 else None
    return kernel, bias


def layer_names(model) -> list[str]:
    """Names of the model's layers in order, input layer excluded: the keys ``activations`` can give."""
    import keras

    return [layer.name for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def _chosen(model, names) -> tuple[str, ...] | None:
    """``names`` in layer order without repeats; None when that is every layer."""
    if names is None:
        return None
    every, wanted = layer_names(model), set(names)
    if not wanted:
        raise ValueError(f"Expected at least one layer name, or None for every layer. Received: {names!r}")
    unknown = sorted(wanted - set(every))
    if unknown:
        raise ValueError(f"Expected names of layers of {model.name}. Received: {unknown}")
    chosen = tuple(name for name in every if name in wanted)
    return None if len(chosen) == len(every) else chosen


class ActivationExtractor:
    """The outputs of a model's layers (all, or the chosen ones) for one image, through one cached ``tf.function``."""

    def __init__(self, model, names: tuple[str, ...] | None = None):
        import keras
        import tensorflow as tf

        self.layer_names = list(names) if names is not None else layer_names(model)
        outputs = [model.get_layer(name).output for name in self.layer_names]
        # A new Model over the same layers shares their weights and does not modify the original; it holds
        # only the layers its outputs need (chosen early layers cost only the start of the network).
        # training=False keeps dropout and batch norm in inference mode.
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        probe = keras.Model(inputs, outputs)
        self.input_shape = tuple(int(d) for d in model.input_shape[1:])
        spec = tf.TensorSpec((None, *self.input_shape), tf.float32)
        self._fn = tf.function(lambda x: probe(x, training=False), input_signature=[spec], reduce_retracing=True)

    def __call__(self, image: np.ndarray) -> dict[str, np.ndarray]:
        """Activations of its layers for one image of the model's input shape (no batch axis)."""
        image = np.asarray(image, np.float32)
        if image.shape != self.input_shape:
            raise ValueError(f"Expected an image of shape {self.input_shape}. Received: shape={image.shape}")
        outputs = self._fn(image[None])
        if len(self.layer_names) == 1 and not isinstance(outputs, (list, tuple)):
            outputs = [outputs]  # a model of one output gives that tensor, not a list of one
        return {name: out.numpy()[0] for name, out in zip(self.layer_names, outputs)}


def get_extractor(model, names=None) -> ActivationExtractor:
    """The cached extractor of ``model`` (built on first use, dropped with the model).

    Args:
        model: a Keras model; not changed.
        names: the layers to output; None (or every layer) for all of them.

    Raises:
        ValueError: a name that is no layer of ``model``.
    """
    key = _chosen(model, names)
    with _LOCK:
        if key is None:
            extractor = _EXTRACTORS.get(model)
            if extractor is None:
                extractor = _EXTRACTORS[model] = ActivationExtractor(model)
            return extractor
        kept = _CHOSEN.setdefault(model, OrderedDict())
        extractor = kept.get(key)
        if extractor is None:
            extractor = kept[key] = ActivationExtractor(model, key)
            while len(kept) > PARTIAL_KEPT:
                kept.popitem(last=False)  # the set of layers used least recently
        kept.move_to_end(key)
        return extractor


def activations(model, image: np.ndarray, names=None) -> dict[str, np.ndarray]:
    """Output of every layer of ``model`` for one image, keyed by layer name, in layer order.

    Args:
        model: a Keras model; not changed.
        image: one image of the model's input shape, no batch axis.
        names: compute only these layers' outputs (and what they depend on); None for all.

    Raises:
        ValueError: an image of another shape, or a name that is no layer of ``model``.
    """
    return get_extractor(model, names)(image)

"""Look inside a model: its convolution layers, their filters, and the activations of every layer.

Nothing here changes the model it is given. Activations come from one
sub-model that outputs every layer at once, wrapped in a ``tf.function`` and
cached per model: about 1 ms per image on a laptop CPU, where
``model.predict`` costs about 50 ms of overhead per call.
"""

from __future__ import annotations

import threading
import weakref

import numpy as np

_EXTRACTORS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


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


class ActivationExtractor:
    """All layer outputs of a model for one image, through one cached ``tf.function``."""

    def __init__(self, model):
        import keras
        import tensorflow as tf

        self.layer_names = [layer.name for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
        outputs = [model.get_layer(name).output for name in self.layer_names]
        # A new Model over the same layers shares their weights and does not
        # modify the original; training=False keeps dropout and batch norm in inference mode.
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        probe = keras.Model(inputs, outputs)
        self.input_shape = tuple(int(d) for d in model.input_shape[1:])
        spec = tf.TensorSpec((None, *self.input_shape), tf.float32)
        self._fn = tf.function(lambda x: probe(x, training=False), input_signature=[spec], reduce_retracing=True)

    def __call__(self, image: np.ndarray) -> dict[str, np.ndarray]:
        """Activations of every layer for one image of the model's input shape (no batch axis)."""
        image = np.asarray(image, np.float32)
        if image.shape != self.input_shape:
            raise ValueError(f"Expected an image of shape {self.input_shape}. Received: shape={image.shape}")
        outputs = self._fn(image[None])
        return {name: out.numpy()[0] for name, out in zip(self.layer_names, outputs)}


def get_extractor(model) -> ActivationExtractor:
    """The cached extractor of ``model`` (built on first use, dropped with the model)."""
    with _LOCK:
        extractor = _EXTRACTORS.get(model)
        if extractor is None:
            extractor = ActivationExtractor(model)
            _EXTRACTORS[model] = extractor
        return extractor


def activations(model, image: np.ndarray) -> dict[str, np.ndarray]:
    """Output of every layer of ``model`` for one image, keyed by layer name, in layer order."""
    return get_extractor(model)(image)

"""What one filter responds to: a synthesised image and the dataset images that excite it most.

The synthesised image is activation maximisation by gradient ascent, after keras-io
``examples/vision/visualizing_what_convnets_learn.py``: start from faint noise around grey,
repeatedly step the image along the L2-normalised gradient of the filter's mean activation.
Light regularisation (a decay towards grey, a pixel of random jitter, a faint blur every few
steps) keeps the picture from filling with high-frequency noise.

Nothing here changes the model it is given: every computation goes through a sub-model
``keras.Model(inputs, layer.output)`` that shares the weights and is only ever called with
``training=False``. Sub-models and their ``tf.function`` s are cached per model and layer.
"""

from __future__ import annotations

import inspect
import threading
import weakref
from collections import OrderedDict

import numpy as np

_PROBES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # model -> {layer name: _LayerProbe}
_LOCK = threading.Lock()


class _LayerProbe:
    """One 4-D layer of a model as a sub-model, with a map function and an ascent step."""

    def __init__(self, model, layer_name: str):
        import keras
        import tensorflow as tf

        if len(model.inputs) != 1:
            raise ValueError(f"Expected a model with one image input. Received: {len(model.inputs)} inputs")
        layer = model.get_layer(layer_name)
        shape = tuple(layer.output.shape)
        if len(shape) != 4:
            raise ValueError("Expected a layer with a 4-D output (batch, height, width, channels). "
                             f"Received: {layer_name!r} with output shape {shape}")
        self.sub = keras.Model(model.inputs[0], layer.output)
        self.channels = int(shape[-1])
        self.input_shape = tuple(model.inputs[0].shape[1:])
        spec = tf.TensorSpec((None, *self.input_shape), tf.float32)
        index = tf.TensorSpec((), tf.int32)
        # The filter index is a tensor argument, so one trace serves every filter of the layer.
        self.maps = tf.function(lambda x, f: tf.gather(self.sub(x, training=False), f, axis=-1),
                                input_signature=[spec, index], reduce_retracing=True)
        self.step = tf.function(self._ascent_step, reduce_retracing=True)

    def _ascent_step(self, image, filter_index, step_size, border, shift, decay):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(image)
            # Jitter: the filter sees the image shifted by a pixel or so; the gradient of tf.roll
            # rolls back, so the update lands on the unshifted image.
            maps = tf.gather(self.sub(tf.roll(image, shift, axis=[1, 2]), training=False), filter_index, axis=-1)
            height, width = tf.shape(maps)[1], tf.shape(maps)[2]
            # We avoid border artifacts by only involving non-border pixels in the loss.
            loss = tf.reduce_mean(maps[:, border:height - border, border:width - border])
        grads = tf.math.l2_normalize(tape.gradient(loss, image))
        # Scaled so that step_size is the RMS change of one pixel, whatever the image size.
        image = image + step_size * tf.sqrt(tf.cast(tf.size(image), tf.float32)) * grads
        image = 0.5 + (image - 0.5) * (1.0 - decay)
        return loss, tf.clip_by_value(image, 0.0, 1.0)

    def check_filter(self, filter_index: int) -> int:
        if not 0 <= int(filter_index) < self.channels:
            raise ValueError(f"Expected a filter index in [0, {self.channels - 1}]. Received: {filter_index}")
        return int(filter_index)


def _probe(model, layer_name: str) -> _LayerProbe:
    """The cached probe of ``model``'s layer (built on first use, dropped with the model)."""
    with _LOCK:
        probes = _PROBES.setdefault(model, {})
        if layer_name not in probes:
            probes[layer_name] = _LayerProbe(model, layer_name)
        return probes[layer_name]


def initial_image(shape: tuple[int, int, int], seed: int = 0, amplitude: float = 0.1) -> np.ndarray:
    """Faint uniform noise around grey: the start of ``maximize_filter``, float32 in [0, 1]."""
    rng = np.random.default_rng(seed)
    return (0.5 + amplitude * (rng.random(shape, dtype=np.float32) - 0.5)).astype(np.float32)


def maximize_filter(model, layer_name: str, filter_index: int, steps: int = 60, step_size: float = 0.03,
                    seed: int = 0, size: int | tuple[int, int] | None = None, decay: float = 0.01,
                    jitter: int = 1, blur_every: int = 4, blur_sigma: float = 0.5) -> np.ndarray:
    """An image that makes one filter fire, by gradient ascent on its mean activation.

    Args:
        model: a Keras image classifier (functional or Sequential); it is not modified.
        layer_name: a layer with a 4-D output, e.g. a convolution or pooling layer.
        filter_index: the channel of that layer to maximise.
        steps: gradient ascent steps.
        step_size: root-mean-square change of a pixel per step (the gradient is L2-normalised).
        seed: seeds the starting noise and the jitter.
        size: (height, width) or one side of the image; ``None`` for the model's input size,
            which is also the only size a model with a fixed input accepts.
        decay: fraction of each pixel's distance to grey removed after every step.
        jitter: largest random shift in pixels of the image the filter sees at each step.
        blur_every: a Gaussian blur of ``blur_sigma`` pixels every this many steps (0: never).
        blur_sigma: standard deviation of that blur.

    Returns:
        float32 (height, width, channels) in [0, 1]. Pixels are clipped to [0, 1] after every
        step, so the picture is exactly the input that excites the filter, in the model's own
        range. A filter silent everywhere on grey noise gets no gradient and stays near grey.
    """
    import cv2

    probe = _probe(model, layer_name)
    filter_index = probe.check_filter(filter_index)
    height, width, channels = _image_shape(probe.input_shape, size)
    out_h, out_w = probe.sub.compute_output_shape((1, height, width, channels))[1:3]
    # keras-io leaves out 2 border pixels of a large map; small maps get a thinner border.
    border = int(min(2, (min(out_h, out_w) - 1) // 4))
    image = _starting_image(probe, filter_index, (height, width, channels), seed, border)
    rng = np.random.default_rng(seed)
    for i in range(steps):
        shift = rng.integers(-jitter, jitter + 1, size=2) if jitter > 0 else np.zeros(2, np.int64)
        _, image = probe.step(image, np.int32(filter_index), np.float32(step_size), np.int32(border),
                              shift.astype(np.int32), np.float32(decay))
        if blur_every and (i + 1) % blur_every == 0 and i + 1 < steps:
            blurred = cv2.GaussianBlur(image.numpy()[0], (3, 3), blur_sigma)
            image = blurred.reshape(1, height, width, channels)
    return np.clip(np.asarray(image)[0], 0.0, 1.0).astype(np.float32)


def _starting_image(probe: _LayerProbe, filter_index: int, shape: tuple[int, int, int], seed: int,
                    border: int, tries: int = 8) -> np.ndarray:
    """Grey noise, or where the filter is silent on it, the smooth colour noise it fires on most.

    A ReLU filter that outputs zero everywhere gets a zero gradient, and ascent from there
    never moves; large blobs of colour, more like real images than pixel noise, wake most such
    filters. A filter silent on all of them stays silent, so its picture stays grey.
    """
    import cv2

    grey = initial_image(shape, seed)[None]
    if _interior_mean(probe, filter_index, grey, border)[0] > 0:
        return grey
    rng = np.random.default_rng(seed)
    blobs = np.stack([cv2.resize(rng.random((cells, cells, shape[2]), dtype=np.float32), shape[1::-1],
                                 interpolation=cv2.INTER_LINEAR).reshape(shape)
                      for cells in (2, 4) for _ in range(tries // 2)])
    scores = _interior_mean(probe, filter_index, blobs, border)
    return blobs[[int(np.argmax(scores))]] if scores.max() > 0 else grey


def _interior_mean(probe: _LayerProbe, filter_index: int, images: np.ndarray, border: int) -> np.ndarray:
    maps = probe.maps(images, np.int32(filter_index)).numpy()
    height, width = maps.shape[1:3]
    return maps[:, border:height - border, border:width - border].mean(axis=(1, 2))


def _image_shape(input_shape: tuple, size) -> tuple[int, int, int]:
    fixed = tuple(int(d) if d is not None else None for d in input_shape[:2])
    if size is None:
        if None in fixed:
            raise ValueError(f"Expected a size for a model without a fixed input size. Received: size=None, "
                             f"input shape {input_shape}")
        size = fixed
    size = (int(size), int(size)) if np.isscalar(size) else tuple(int(s) for s in size)
    if any(f is not None and f != s for f, s in zip(fixed, size)):
        raise ValueError(f"Expected size={fixed} for this model's input. Received: size={size}")
    return size[0], size[1], int(input_shape[2])


def filter_activation(model, layer_name: str, filter_index: int, images: np.ndarray,
                      batch_size: int = 256) -> np.ndarray:
    """Mean activation of one filter over its whole map, per image: float32 (N,).

    A single image (height, width, channels) counts as a batch of one.
    """
    maps = _filter_maps(model, layer_name, filter_index, images, batch_size)
    return maps.reshape(len(maps), -1).mean(axis=1)


def _filter_maps(model, layer_name: str, filter_index: int, images: np.ndarray, batch_size: int) -> np.ndarray:
    probe = _probe(model, layer_name)
    index = np.int32(probe.check_filter(filter_index))
    images = np.asarray(images, np.float32)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4:
        raise ValueError(f"Expected images of shape (N, height, width, channels). Received: shape={images.shape}")
    chunks = [probe.maps(images[i:i + batch_size], index).numpy() for i in range(0, len(images), batch_size)]
    if not chunks:
        return np.zeros((0, *probe.sub.output.shape[1:3]), np.float32)
    return np.concatenate(chunks)


def top_activating(model, layer_name: str, filter_index: int, images: np.ndarray, k: int = 9,
                   batch_size: int = 256) -> list[dict]:
    """The ``k`` images on which one filter fires hardest.

    The score of an image is the maximum of the filter's map, not its mean: a filter detects a
    local pattern, and the mean would favour images where a weaker pattern covers more area.

    Returns:
        Up to ``k`` dicts, highest score first (ties by index): ``index`` into ``images``,
        ``score`` (float) and ``map``, the filter's float32 (height', width') map on that image.
    """
    if k < 1:
        raise ValueError(f"Expected k of at least 1. Received: k={k}")
    images = np.asarray(images, np.float32)
    if images.ndim != 4:
        raise ValueError(f"Expected images of shape (N, height, width, channels). Received: shape={images.shape}")
    # Batch by batch, so only the scores of a large dataset are held, not all of its maps.
    scores = np.zeros(len(images), np.float32)
    for i in range(0, len(images), batch_size):
        maps = _filter_maps(model, layer_name, filter_index, images[i:i + batch_size], batch_size)
        scores[i:i + len(maps)] = maps.reshape(len(maps), -1).max(axis=1)
    order = np.argsort(-scores, kind="stable")[:k]
    maps = _filter_maps(model, layer_name, filter_index, images[order], batch_size)
    return [{"index": int(i), "score": float(scores[i]), "map": m} for i, m in zip(order, maps)]


class FilterVisCache:
    """A thread-safe LRU cache of ``maximize_filter`` images.

    Keys are (model_key, layer, filter, every parameter with defaults filled in), so
    ``steps=60`` and no ``steps`` share an entry. ``model_key`` must change whenever the model's
    weights change (a training job's epoch, a saved model's path and time). Cached arrays are
    read-only: the same object is handed to every caller.
    """

    def __init__(self, max_entries: int = 256):
        if max_entries < 1:
            raise ValueError(f"Expected max_entries of at least 1. Received: {max_entries}")
        self.max_entries = max_entries
        self._entries: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def get(self, model, model_key, layer_name: str, filter_index: int, **kwargs) -> np.ndarray:
        """The cached image, computed with ``maximize_filter`` on a miss."""
        bound = inspect.signature(maximize_filter).bind(model, layer_name, int(filter_index), **kwargs)
        bound.apply_defaults()
        params = {k: v for k, v in bound.arguments.items() if k != "model"}
        if params["size"] is not None and not np.isscalar(params["size"]):
            params["size"] = tuple(int(s) for s in params["size"])
        key = (model_key, *sorted(params.items()))
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        # Computed outside the lock, so other filters are not kept waiting.
        image = maximize_filter(model, **params)
        image.setflags(write=False)
        with self._lock:
            image = self._entries.setdefault(key, image)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return image


DEFAULT_CACHE = FilterVisCache()


def cached_maximize(model, model_key, layer_name: str, filter_index: int, cache: FilterVisCache | None = None,
                    **kwargs) -> np.ndarray:
    """``maximize_filter`` through ``cache`` (the module's ``DEFAULT_CACHE`` when None)."""
    return (DEFAULT_CACHE if cache is None else cache).get(model, model_key, layer_name, filter_index, **kwargs)

"""Where does the model look? Grad-CAM, saliency, SmoothGrad and occlusion maps.

Every method returns a float32 (height, width) map at the input's resolution; ``overlay``
turns one into a picture. Gradients come from ``tf.GradientTape`` around a sub-model
called with ``training=False``, so dropout and batch normalisation stay in inference
mode, and the model itself is never changed.

The class score: when the model ends in a softmax (a Dense layer with a softmax
activation, or a separate softmax Activation layer), gradients are taken of the
pre-softmax logit, recomputed from the last layer's input and weights, as in keras-io
``examples/vision/grad_cam.py``. A probability saturates near 1, which makes its
gradients vanish and the maps noisy. Any other model is explained through its output.
"""

from __future__ import annotations

import threading
import weakref

import numpy as np

_PROBES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _as_batch(model, image) -> np.ndarray:
    image = np.asarray(image, np.float32)
    expected = tuple(int(d) for d in model.input_shape[1:])
    if image.shape != expected:
        raise ValueError(f"Expected an image of shape {expected}. Received: shape={image.shape}")
    return image[None]


def _scorer(model, layer_name: str | None):
    """A function ``(x) -> (maps or None, scores)`` with scores (batch, classes), cached per model."""
    import keras

    with _LOCK:
        cache = _PROBES.setdefault(model, {})
        if layer_name in cache:
            return cache[layer_name]
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        last = model.layers[-1]
        softmax = getattr(last, "activation", None) is keras.activations.softmax
        head = last if softmax and isinstance(last, (keras.layers.Dense, keras.layers.Activation)) else None
        outputs = [model.get_layer(layer_name).output] if layer_name else []
        outputs.append(head.input if head is not None else model.outputs[0])
        probe = keras.Model(inputs, outputs)

        def score(x):
            out = probe(x, training=False)
            maps, z = out if layer_name else (None, out[0] if isinstance(out, (list, tuple)) else out)
            if isinstance(head, keras.layers.Dense):
                # The logits, from the same weights the softmax layer uses.
                z = keras.ops.matmul(z, head.kernel)
                z = z + head.bias if head.use_bias else z
            return maps, z

        cache[layer_name] = score
        return score


def _class_index(scores, class_index: int | None) -> int:
    n = int(scores.shape[-1])
    if class_index is None:
        return int(np.argmax(np.asarray(scores)[0]))
    if not 0 <= class_index < n:
        raise ValueError(f"Expected class_index in [0, {n}). Received: class_index={class_index}")
    return int(class_index)


def _normalise(values) -> np.ndarray:
    values = np.asarray(values, np.float32)
    top = float(values.max())
    return values / top if top > 0 else np.zeros_like(values)


def default_gradcam_layer(model) -> str:
    """Grad-CAM's default target: the last Conv2D layer with maps (not a 1×1 head after the pooling); for an
    ImageNet network, its last block's output (``core.models.imagenet.last_conv_maps``)."""
    import keras

    from core.models.imagenet import PREPROCESSING_LAYER, last_conv_maps

    if any(layer.name == PREPROCESSING_LAYER for layer in model.layers[:3]):
        return last_conv_maps(model)
    convs = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)
             and not (len(layer.output.shape) == 4 and layer.output.shape[1] == 1 and layer.output.shape[2] == 1)]
    if not convs:
        raise ValueError(f"Expected a model with a Conv2D layer. Received: {model.name} with no Conv2D layer")
    return convs[-1]


def gradcam(model, image: np.ndarray, class_index: int | None = None,
            layer_name: str | None = None) -> tuple[np.ndarray, int]:
    """Grad-CAM (Selvaraju et al. 2017) heatmap of one image.

    Args:
        model: a Keras classifier; not changed.
        image: one image of the model's input shape, no batch axis.
        class_index: the class to explain; the predicted class when None.
        layer_name: a layer with (height, width, channels) output; the last Conv2D when None.

    Returns:
        (heatmap, class_index): float32 (height, width) at the input's resolution in
        [0, 1] with its maximum at 1 (all zeros when no part of the layer speaks for the
        class), and the class explained. Each channel of the layer is weighted by the
        mean gradient of the class score over its map; the weighted sum, through a ReLU,
        is resized bilinearly to the input.
    """
    import tensorflow as tf

    x = tf.constant(_as_batch(model, image))
    layer_name = layer_name or default_gradcam_layer(model)
    if len(model.get_layer(layer_name).output.shape) != 4:
        raise ValueError(f"Expected a layer with (height, width, channels) output. "
                         f"Received: {layer_name} with output shape {tuple(model.get_layer(layer_name).output.shape)}")
    with tf.GradientTape() as tape:
        maps, scores = _scorer(model, layer_name)(x)
        class_index = _class_index(scores, class_index)
        score = scores[:, class_index]
    grads = tape.gradient(score, maps)
    weights = tf.reduce_mean(grads, axis=(1, 2))  # (1, channels)
    cam = tf.nn.relu(tf.reduce_sum(maps * weights[:, None, None, :], axis=-1))[..., None]
    cam = tf.image.resize(cam, x.shape[1:3], method="bilinear")
    return _normalise(np.asarray(cam)[0, ..., 0]), class_index


def _input_gradients(model, images: np.ndarray, class_index: int | None) -> tuple[np.ndarray, int]:
    """Gradients of the class score with respect to each image of a batch."""
    import tensorflow as tf

    x = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(x)
        scores = _scorer(model, None)(x)[1]
        class_index = _class_index(scores, class_index)  # the first image's prediction when None
        total = tf.reduce_sum(scores[:, class_index])  # samples are independent in inference mode
    return np.asarray(tape.gradient(total, x)), class_index


def saliency(model, image: np.ndarray, class_index: int | None = None) -> np.ndarray:
    """Vanilla gradient saliency (Simonyan et al. 2014) of one image.

    Returns:
        float32 (height, width) in [0, 1]: the absolute gradient of the class score (the
        predicted class when ``class_index`` is None), maximum over channels, divided by
        its maximum.
    """
    grads, _ = _input_gradients(model, _as_batch(model, image), class_index)
    return _normalise(np.abs(grads[0]).max(axis=-1))


def smoothgrad(model, image: np.ndarray, class_index: int | None = None, samples: int = 25,
               noise: float = 0.15, seed: int = 0) -> np.ndarray:
    """SmoothGrad (Smilkov et al. 2017): the saliency map averaged over noisy copies.

    Args:
        model: a Keras classifier; not changed.
        image: one image of the model's input shape, no batch axis.
        class_index: the class to explain; the class predicted for the clean image when None.
        samples: noisy copies, all run in one batch.
        noise: Gaussian noise standard deviation as a fraction of the image's value range.
        seed: seeds the noise, so the same call gives the same map.

    Returns:
        float32 (height, width) in [0, 1]; with ``samples=1, noise=0`` it equals ``saliency``.
    """
    if samples < 1 or noise < 0:
        raise ValueError(f"Expected samples >= 1 and noise >= 0. Received: samples={samples}, noise={noise}")
    batch = _as_batch(model, image)
    sigma = noise * float(batch.max() - batch.min())
    rng = np.random.default_rng(seed)
    noisy = (batch + rng.normal(0.0, 1.0, (samples, *batch.shape[1:])) * sigma).astype(np.float32)
    if class_index is None:
        class_index = _class_index(_scorer(model, None)(batch)[1], None)
    grads, _ = _input_gradients(model, noisy, class_index)
    return _normalise(np.abs(grads).max(axis=-1).mean(axis=0))


def occlusion(model, image: np.ndarray, class_index: int | None = None, patch: int | None = None,
              stride: int | None = None, fill: float | np.ndarray = 0.5) -> np.ndarray:
    """Occlusion sensitivity (Zeiler and Fergus 2014): how much hiding each region costs.

    A square of ``fill`` slides over the image; all occluded copies run through the model
    in batches of up to 256 (one call for the defaults).

    Args:
        model: a Keras classifier; not changed.
        image: one image of the model's input shape, no batch axis.
        class_index: the class whose probability is watched; the predicted class when None.
        patch: side of the square; about a quarter of the image's shorter side when None.
        stride: step between squares; half the patch when None. The last square of each
            row and column is moved to touch the border, so every pixel is covered.
        fill: the value the square is painted with, or one value per channel (the
            background colour, say, so that hiding background changes nothing).

    Returns:
        float32 (height, width): for every pixel, the mean over the squares that cover it of
        p(class | image) - p(class | occluded image); positive where hiding hurts, in [-1, 1]
        for a softmax model.
    """
    batch = _as_batch(model, image)
    h, w = batch.shape[1:3]
    patch = patch or max(1, round(min(h, w) / 4))
    stride = stride or max(1, patch // 2)
    if not (0 < patch <= min(h, w) and stride > 0):
        raise ValueError(f"Expected 0 < patch <= {min(h, w)} and stride > 0. Received: patch={patch}, stride={stride}")
    tops = sorted(set(range(0, h - patch + 1, stride)) | {h - patch})
    lefts = sorted(set(range(0, w - patch + 1, stride)) | {w - patch})
    boxes = [(t, l) for t in tops for l in lefts]
    fill = np.asarray(fill, np.float32)
    occluded = np.repeat(batch, len(boxes), axis=0)
    for i, (t, l) in enumerate(boxes):
        occluded[i, t:t + patch, l:l + patch] = fill
    base = np.asarray(model(batch, training=False))
    class_index = _class_index(base, class_index)
    probs = np.concatenate([np.asarray(model(occluded[i:i + 256], training=False))[:, class_index]
                            for i in range(0, len(boxes), 256)])
    drops = base[0, class_index] - probs
    total = np.zeros((h, w), np.float64)
    count = np.zeros((h, w), np.float64)
    for drop, (t, l) in zip(drops, boxes):
        total[t:t + patch, l:l + patch] += drop
        count[t:t + patch, l:l + patch] += 1
    return (total / count).astype(np.float32)


def overlay(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45, cmap: str = "jet") -> np.ndarray:
    """A heatmap in [0, 1] blended over an image, as uint8 RGB.

    Args:
        image: (H, W), (H, W, 1) or (H, W, 3), float in [0, 1] or uint8.
        heatmap: (h, w) in [0, 1]; resized bilinearly to the image when its size differs.
        alpha: weight of the heatmap colours.
        cmap: "jet" or "viridis".

    Returns:
        uint8 (H, W, 3).
    """
    import cv2

    maps = {"jet": cv2.COLORMAP_JET, "viridis": cv2.COLORMAP_VIRIDIS}
    if cmap not in maps:
        raise ValueError(f"Expected a colour map in {sorted(maps)}. Received: {cmap!r}")
    image = np.asarray(image)
    rgb = image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)
    if rgb.ndim == 2:
        rgb = rgb[..., None]
    if rgb.ndim != 3 or rgb.shape[-1] not in (1, 3):
        raise ValueError(f"Expected an image with 1 or 3 channels. Received: shape={image.shape}")
    rgb = np.repeat(rgb, 3, axis=-1) if rgb.shape[-1] == 1 else rgb
    heat = np.asarray(heatmap, np.float32)
    if heat.shape != rgb.shape[:2]:
        heat = cv2.resize(heat, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
    grey = (np.clip(heat, 0, 1) * 255 + 0.5).astype(np.uint8)
    colour = cv2.cvtColor(cv2.applyColorMap(grey, maps[cmap]), cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    blended = (1 - alpha) * np.clip(rgb, 0, 1) + alpha * colour
    return (blended * 255 + 0.5).astype(np.uint8)

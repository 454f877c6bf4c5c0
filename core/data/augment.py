"""Data augmentation built from Keras preprocessing layers.

One ``Augmentation`` holds the settings a user picks on the Data page; the same
object drives the preview there and the training pipeline, so what the
preview shows is what the network is trained on.

    >>> aug = Augmentation(flip="horizontal", rotation_degrees=10, zoom=0.1)
    >>> preview = augment_images(x[:8], aug, seed=0)  # NumPy in, NumPy out

Images are float32 in 0..1 (the ``Dataset`` convention); brightness and
contrast are applied on that range and the result is clipped to it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

FLIPS = ("none", "horizontal", "vertical", "horizontal_and_vertical")


@dataclass(frozen=True)
class Augmentation:
    """Random changes applied to every training batch (all off by default)."""

    flip: str = "none"  # one of FLIPS
    rotation_degrees: float = 0.0  # rotate by up to ± this many degrees
    zoom: float = 0.0  # zoom in or out by up to this share of the size (0.1 = ±10%)
    translation: float = 0.0  # shift by up to this share of the height and width
    brightness: float = 0.0  # add up to ± this share of the value range
    contrast: float = 0.0  # scale contrast by a factor in [1 - c, 1 + c]

    def validate(self) -> None:
        if self.flip not in FLIPS:
            raise ValueError(f"Expected flip in {FLIPS}. Received: {self.flip!r}")
        if not 0.0 <= self.rotation_degrees <= 180.0:
            raise ValueError(f"Expected rotation_degrees in [0, 180]. Received: {self.rotation_degrees}")
        for name in ("zoom", "translation", "brightness", "contrast"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"Expected {name} in [0, 1). Received: {value}")

    @property
    def active(self) -> bool:
        return self != Augmentation()

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> "Augmentation":
        """Build from a dict; unknown keys are refused with the known ones named."""
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"Expected augmentation settings among {sorted(known)}. Received: {unknown}")
        aug = cls(**data)
        aug.validate()
        return aug

    def describe(self) -> str:
        """A short human sentence, e.g. 'horizontal flip, rotation ±10°, zoom ±10%'."""
        parts = []
        if self.flip != "none":
            parts.append({"horizontal": "horizontal flip", "vertical": "vertical flip",
                          "horizontal_and_vertical": "horizontal and vertical flips"}[self.flip])
        if self.rotation_degrees:
            parts.append(f"rotation ±{self.rotation_degrees:g}°")
        for name in ("zoom", "translation", "brightness", "contrast"):
            value = getattr(self, name)
            if value:
                parts.append(f"{name} ±{value:.0%}")
        return ", ".join(parts) or "none"


def build_augmenter(aug: Augmentation, seed: int | None = None):
    """A ``keras.Sequential`` of preprocessing layers for ``aug``, or None when nothing is on.

    Call it with ``training=True`` to draw new random changes (Keras's
    preprocessing layers pass images through unchanged otherwise).
    """
    import keras
    from keras import layers

    aug.validate()
    if not aug.active:
        return None
    steps = []
    # Keras seeds each layer's generator separately; offsets keep them different.
    s = (lambda k: None if seed is None else seed + k)
    if aug.flip != "none":
        steps.append(layers.RandomFlip(aug.flip, seed=s(1), name="flip"))
    if aug.rotation_degrees:
        steps.append(layers.RandomRotation(aug.rotation_degrees / 360.0, fill_mode="nearest", seed=s(2),
                                           name="rotation"))
    if aug.zoom:
        steps.append(layers.RandomZoom(aug.zoom, aug.zoom, fill_mode="nearest", seed=s(3), name="zoom"))
    if aug.translation:
        # by whole pixels: a shift by a fraction of a pixel blurs the photo (bilinear), and a network trained on
        # blurred photos is then tested on sharp ones (the CIFAR-10 recipe's hold-out: see its "chosen")
        steps.append(layers.RandomTranslation(aug.translation, aug.translation, fill_mode="nearest",
                                              interpolation="nearest", seed=s(4), name="translation"))
    if aug.brightness:
        steps.append(layers.RandomBrightness(aug.brightness, value_range=(0.0, 1.0), seed=s(5), name="brightness"))
    if aug.contrast:
        steps.append(layers.RandomContrast(aug.contrast, value_range=(0.0, 1.0), seed=s(6), name="contrast"))
    return keras.Sequential(steps, name="augmentation")


def augment_images(x: np.ndarray, aug: Augmentation, seed: int | None = 0) -> np.ndarray:
    """``x`` (N, H, W, C) float 0..1 with random changes drawn once per image; NumPy in and out."""
    x = np.asarray(x, np.float32)
    augmenter = build_augmenter(aug, seed)
    if augmenter is None:
        return x.copy()
    out = np.asarray(augmenter(x, training=True))
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def augmented_dataset(x: np.ndarray, y: np.ndarray, aug: Augmentation, batch_size: int, seed: int,
                      repeat: bool = False):
    """A shuffled, batched ``tf.data.Dataset`` whose batches are augmented anew every epoch.

    With ``repeat`` the epochs follow one another without end (each ``ceil(len(x) / batch_size)``
    batches, shuffled anew), so one iterator serves a whole run: setting up a new one costs about
    0.1 s, most of an epoch of a few dozen photos.
    """
    import tensorflow as tf

    augmenter = build_augmenter(aug, seed)
    data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size)
    if augmenter is not None:
        def apply(images, labels):
            return tf.clip_by_value(augmenter(images, training=True), 0.0, 1.0), labels

        data = data.map(apply, num_parallel_calls=tf.data.AUTOTUNE)
    if repeat:
        data = data.repeat()
    return data.prefetch(tf.data.AUTOTUNE)

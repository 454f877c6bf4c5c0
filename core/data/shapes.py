"""Synthetic shapes: the offline default dataset.

Every image is drawn from a seed, so the same seed always gives the same
dataset on every machine. Shapes are filled, anti-aliased and placed at a
random size, position, rotation and colour on a noisy background, so a model
must learn the outline, not a colour or a position. Edges and corners are
exactly what a first convolution layer detects, which makes the filters and
feature maps of a model trained here easy to read.
"""

from __future__ import annotations

import cv2
import numpy as np

from core.data.base import Dataset, DatasetError, ProgressFn

CLASS_NAMES = ["circle", "square", "triangle", "star"]


def _polygon(kind: str, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    if kind == "square":
        angles = angle + np.pi / 4 + np.arange(4) * np.pi / 2
        radii = np.full(4, r * 1.05)
    elif kind == "triangle":
        angles = angle - np.pi / 2 + np.arange(3) * 2 * np.pi / 3
        radii = np.full(3, r * 1.2)
    elif kind == "star":
        angles = angle - np.pi / 2 + np.arange(10) * np.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, r * 1.25, r * 0.5)
    else:
        raise ValueError(f"Unknown polygon kind: {kind!r}")
    pts = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1)
    return pts


def _contrasting_colours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A background and a shape colour whose brightness differs clearly."""
    luminance = np.array([0.299, 0.587, 0.114])
    while True:
        bg = rng.uniform(0.0, 1.0, 3)
        fg = rng.uniform(0.0, 1.0, 3)
        if abs(float(bg @ luminance) - float(fg @ luminance)) > 0.3:
            return bg, fg


def draw_shape(kind: str, rng: np.random.Generator, size: int = 32, noise: float = 0.06) -> np.ndarray:
    """Draw one image of ``kind`` (a name in CLASS_NAMES) as float32 HxWx3 in [0, 1]."""
    return _draw(kind, rng, size, noise)[0]


def draw_shape_with_box(kind: str, rng: np.random.Generator, size: int = 32,
                        noise: float = 0.06) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Draw one image like ``draw_shape`` and say where the shape is.

    The image is bit-identical to what ``draw_shape`` gives for the same ``rng`` state
    (both draw through the same code), and ``rng`` advances by the same amount.

    Args:
        kind: a name in CLASS_NAMES.
        rng: the random generator; it advances as in ``draw_shape``.
        size: side of the square image in pixels.
        noise: standard deviation of the Gaussian pixel noise.

    Returns:
        (image, (x0, y0, x1, y1)): the float32 HxWx3 image and the bounding box of every
        pixel the shape touches (anti-aliased edges included), with exclusive ends, so
        ``image[y0:y1, x0:x1]`` is the box.
    """
    image, coverage = _draw(kind, rng, size, noise)
    rows = np.flatnonzero(coverage.any(axis=1))
    cols = np.flatnonzero(coverage.any(axis=0))
    return image, (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def _draw(kind: str, rng: np.random.Generator, size: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """The image and the shape's coverage mask (uint8, 0 where the shape does not reach)."""
    bg, fg = _contrasting_colours(rng)
    r = rng.uniform(0.17, 0.36) * size
    margin = min(r * 1.25 + 1, size / 2)  # small images: the shape may touch the border
    cx = rng.uniform(margin, size - margin)
    cy = rng.uniform(margin, size - margin)
    angle = rng.uniform(0, 2 * np.pi)
    # Draw at 4x with a fixed-point shift and let cv2 anti-alias the edges.
    shift = 2
    scale = 1 << shift
    canvas = np.zeros((size, size), np.uint8)
    if kind == "circle":
        cv2.circle(canvas, (int(cx * scale), int(cy * scale)), int(r * scale), 255, -1, cv2.LINE_AA, shift)
    else:
        pts = np.round(_polygon(kind, cx, cy, r, angle) * scale).astype(np.int32)
        cv2.fillPoly(canvas, [pts], 255, cv2.LINE_AA, shift)
    alpha = canvas.astype(np.float32)[..., None] / 255.0
    image = bg[None, None, :] * (1 - alpha) + fg[None, None, :] * alpha
    image = image + rng.normal(0.0, noise, image.shape)
    return np.clip(image, 0.0, 1.0).astype(np.float32), canvas


def generate_shapes(n: int, seed: int, size: int = 32, progress: ProgressFn | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Generate ``n`` images with balanced labels, deterministically from ``seed``."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(CLASS_NAMES)
    rng.shuffle(labels)
    images = np.empty((n, size, size, 3), np.float32)
    for i, label in enumerate(labels):
        images[i] = draw_shape(CLASS_NAMES[label], rng, size)
        if progress and i % 500 == 0:
            progress(i / n, f"Drawing shape {i} of {n}")
    return images, labels.astype(np.int64)


def load_shapes(n_train: int = 4000, n_test: int = 1000, size: int = 32, seed: int = 0,
                progress: ProgressFn | None = None) -> Dataset:
    """The shapes dataset; train and test come from different seeds, so they never share an image."""
    if n_train < 1 or n_test < 1 or size < 8:
        raise DatasetError(f"Expected n_train and n_test of at least 1 and size of at least 8. "
                           f"Received: n_train={n_train}, n_test={n_test}, size={size}")
    x_train, y_train = generate_shapes(n_train, seed, size, progress)
    x_test, y_test = generate_shapes(n_test, seed + 10_000, size)
    return Dataset(
        name="shapes",
        title="Shapes (synthetic)",
        description=(
            "Circles, squares, triangles and stars of random size, position, rotation and colour "
            "on a noisy background. Generated offline from a seed, so everyone gets the same images."
        ),
        class_names=list(CLASS_NAMES),
        x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
        source=f"generated from seed {seed}",
        options={"n_train": n_train, "n_test": n_test, "size": size, "seed": seed},
    )

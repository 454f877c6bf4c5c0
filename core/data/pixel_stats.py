"""Pixel statistics of a set of images: what a network's input values look like."""

from __future__ import annotations

import numpy as np


def pixel_statistics(images: np.ndarray, bins: int = 32, max_images: int = 5000, seed: int = 0) -> dict:
    """Per-channel mean, standard deviation, min and max, and a histogram of pixel values.

    Args:
        images: (N, H, W, C) float images in [0, 1].
        bins: histogram bins over [0, 1].
        max_images: at most this many images (a seeded random sample) are read, so a
            60,000-image dataset costs no more than a small one.
        seed: seed of that sample.

    Returns:
        ``{"channels": ["grey"] or ["red", "green", "blue"], "mean", "std", "min", "max": lists per channel,
        "bin_edges": (bins + 1,), "histogram": (C, bins) fractions of pixels, "images": number read}``.
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"Expected images of shape (N, height, width, channels). Received: shape={images.shape}")
    if len(images) > max_images:
        images = images[np.sort(np.random.default_rng(seed).choice(len(images), max_images, replace=False))]
    flat = images.reshape(-1, images.shape[-1]).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    histogram = np.stack([np.histogram(np.clip(flat[:, c], 0, 1), edges)[0] for c in range(flat.shape[1])])
    names = ["grey"] if flat.shape[1] == 1 else ["red", "green", "blue"][: flat.shape[1]]
    return {
        "channels": names,
        "mean": flat.mean(axis=0).tolist(), "std": flat.std(axis=0).tolist(),
        "min": flat.min(axis=0).tolist(), "max": flat.max(axis=0).tolist(),
        "bin_edges": edges, "histogram": histogram / max(1, len(flat)), "images": int(len(images)),
    }

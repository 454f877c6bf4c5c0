"""scikit-learn's handwritten digits: 1,797 images of 8x8 pixels, shipped offline."""

from __future__ import annotations

import numpy as np

from core.data.base import Dataset, ProgressFn
from core.data.folder import stratified_split


def load_digits(test_fraction: float = 0.2, seed: int = 0, progress: ProgressFn | None = None) -> Dataset:
    from sklearn.datasets import load_digits as sk_load_digits

    if progress:
        progress(0.0, "Loading scikit-learn digits")
    bunch = sk_load_digits()
    x = (bunch.images.astype(np.float32) / 16.0)[..., None]  # pixel values are 0..16
    y = bunch.target.astype(np.int64)
    train_idx, test_idx = stratified_split(y, test_fraction, seed)
    return Dataset(
        name="digits", title="Digits (scikit-learn)",
        description="1,797 handwritten digits of 8x8 pixels from UCI, shipped with scikit-learn. Tiny and instant.",
        class_names=[str(i) for i in range(10)],
        x_train=x[train_idx], y_train=y[train_idx], x_test=x[test_idx], y_test=y[test_idx],
        source="sklearn.datasets.load_digits", options={"test_fraction": test_fraction, "seed": seed},
    )

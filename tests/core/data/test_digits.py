"""core.data.digits: scikit-learn's 8x8 digits, split per class, each image with its own label."""

from __future__ import annotations

import numpy as np
import pytest

from core.data import load_dataset
from dataset_files import assert_well_formed


def test_digits_shape_classes_and_stratified_split():
    from sklearn.datasets import load_digits

    ds = load_dataset("digits")
    assert_well_formed(ds)
    assert ds.input_shape == (8, 8, 1)
    assert ds.class_names == [str(i) for i in range(10)]
    assert len(ds.x_train) + len(ds.x_test) == 1797
    total = np.bincount(load_digits().target, minlength=10)
    test_counts = np.bincount(ds.y_test, minlength=10)
    # Each class gives round(20%) of its images to the test split.
    np.testing.assert_array_equal(test_counts, np.round(total * 0.2).astype(int))
    assert ds.x_train.max() == pytest.approx(1.0)  # sklearn pixels 0..16 scaled by 1/16
    # Every image is a real sklearn digit with its label: match on the raw pixels.
    sk = load_digits()
    by_pixels = {(img / 16.0).astype(np.float32).tobytes(): int(t) for img, t in zip(sk.images, sk.target)}
    for x, y in zip(ds.x_test[:50], ds.y_test[:50]):
        assert by_pixels[x[..., 0].tobytes()] == int(y)


"""ui.session: the keys under which pages cache what they computed from a dataset."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from core.data import Dataset
from ui.session import dataset_key


def _dataset(n_train: int = 6, n_test: int = 2, **options) -> Dataset:
    x = np.zeros((n_train + n_test, 4, 4, 1), np.float32)
    y = np.zeros(n_train + n_test, np.int64)
    return Dataset("shapes", "Shapes", "", ["a"], x[:n_train], y[:n_train], x[n_train:], y[n_train:], options=options)


def test_dataset_key_names_the_arrays_whatever_the_order_of_the_options():
    assert dataset_key(_dataset(seed=0, size=32)) == dataset_key(_dataset(size=32, seed=0))
    keys = {dataset_key(d) for d in (_dataset(seed=0), _dataset(seed=1), _dataset(7, 2, seed=0), _dataset(6, 3, seed=0),
                                       replace(_dataset(seed=0), name="digits"))}
    assert len(keys) == 5  # another seed, split size or dataset: another key

"""core.data.base: the Dataset every loader returns (counts, samples, reference) and the checks of its arrays."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.data import Dataset, DatasetError, DatasetUnavailableError
from core.data.base import validate_arrays


def dataset(y_train, y_test, classes=("a", "b", "c"), shape=(4, 5, 1)):
    x_train = np.zeros((len(y_train), *shape), np.float32)
    x_test = np.zeros((len(y_test), *shape), np.float32)
    return Dataset("d", "D", "", list(classes), x_train, np.asarray(y_train, np.int64), x_test,
                   np.asarray(y_test, np.int64), options={"seed": 1})


def test_unavailable_error_is_a_dataset_error():
    assert issubclass(DatasetUnavailableError, DatasetError)


def test_counts_and_shape_follow_the_arrays():
    ds = dataset([0, 0, 2, 2, 2], [1, 1])
    assert ds.input_shape == (4, 5, 1) and ds.num_classes == 3
    assert ds.class_counts() == dict(zip("abc", np.bincount(ds.y_train, minlength=3).tolist())) == {"a": 2, "b": 0, "c": 3}
    assert ds.class_counts("test") == {"a": 0, "b": 2, "c": 0}


def test_samples_per_class_are_the_classes_own_images_at_most_per_class():
    y = np.arange(30) % 3
    ds = dataset(y, [0])
    picked = ds.samples_per_class(4, seed=2)
    assert sorted(picked) == [0, 1, 2]
    for c, idx in picked.items():
        assert len(idx) == 4 and len(set(idx.tolist())) == 4 and np.all(y[idx] == c)
        assert np.all(np.diff(idx) > 0)  # in dataset order
    np.testing.assert_array_equal(ds.samples_per_class(4, seed=2)[1], picked[1])  # seeded
    few = ds.samples_per_class(20)
    assert all(np.array_equal(few[c], np.flatnonzero(y == c)) for c in range(3))  # fewer than asked: all of them
    test = ds.samples_per_class(2, split="test")
    assert {c: v.tolist() for c, v in test.items()} == {0: [0], 1: [], 2: []}


def test_reference_is_plain_json_that_names_the_dataset():
    ds = dataset([0, 1], [2])
    ref = json.loads(json.dumps(ds.reference()))
    assert ref == {"name": "d", "title": "D", "options": {"seed": 1}, "input_shape": [4, 5, 1],
                   "class_names": ["a", "b", "c"]}


@pytest.mark.parametrize("x_shape, y, message", [
    ((2, 4, 4), [0, 1], "shape"),
    ((2, 4, 4, 2), [0, 1], "shape"),
    ((2, 4, 4, 1), [0], "as many"),
    ((2, 4, 4, 1), [0, 3], r"labels in \[0, 2\]"),
    ((2, 4, 4, 1), [-1, 0], r"labels in \[0, 2\]"),
])
def test_validate_arrays_refuses_what_does_not_fit(x_shape, y, message):
    with pytest.raises(DatasetError, match=message):
        validate_arrays(np.zeros(x_shape, np.float32), np.asarray(y), 3, "training")
    validate_arrays(np.zeros((2, 4, 4, 3), np.float32), np.asarray([0, 2]), 3, "training")  # fits: no error

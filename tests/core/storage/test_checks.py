"""core.storage.checks: does a model fit a dataset, and which built-in datasets it fits."""

from __future__ import annotations

import numpy as np

from core.data import Dataset
from core.storage.checks import KNOWN_DATASET_SHAPES, check_fit, datasets_that_fit
from registry_models import tiny_cnn


def fake_dataset(name, title, shape, classes):
    """A Dataset of the right shape and class count: check_fit needs nothing else."""
    x = np.zeros((2, *shape), np.float32)
    y = np.zeros(2, np.int64)
    return Dataset(name, title, "", [f"c{i}" for i in range(classes)], x, y, x, y)


def test_check_fit_and_datasets_that_fit():
    mnist_model, shapes_model = tiny_cnn((28, 28, 1), 10), tiny_cnn((32, 32, 3), 4)
    mnist = fake_dataset("mnist", "MNIST digits", (28, 28, 1), 10)
    shapes = fake_dataset("shapes", "Shapes (synthetic)", (32, 32, 3), 4)
    cifar = fake_dataset("cifar10", "CIFAR-10", (32, 32, 3), 10)

    assert check_fit(mnist_model, mnist) == [] and check_fit(shapes_model, shapes) == []
    problems = check_fit(mnist_model, shapes)
    assert problems == [
        "The model expects 28×28 pixel images, but Shapes (synthetic) has 32×32 images.",
        "The model expects grey (1 channel) images, but Shapes (synthetic) has colour (3 channels) images.",
        "The model has 10 output classes, but Shapes (synthetic) has 4 classes.",
    ]
    assert check_fit(shapes_model, cifar) == ["The model has 4 output classes, but CIFAR-10 has 10 classes."]
    assert check_fit(mnist_model, cifar)[0].startswith("The model expects 28×28")

    assert datasets_that_fit(mnist_model) == ["mnist", "fashion_mnist"]
    assert datasets_that_fit(shapes_model) == ["shapes"]
    assert datasets_that_fit(tiny_cnn((32, 32, 3), 10)) == ["cifar10"]
    assert datasets_that_fit(tiny_cnn((64, 64, 3), 5)) == []


def test_known_dataset_shapes_match_the_real_loaders():
    from core.data import load_dataset

    for name, options in (("shapes", {"n_train": 4, "n_test": 4}), ("digits", {})):
        ds = load_dataset(name, options)
        assert KNOWN_DATASET_SHAPES[name] == (ds.input_shape, ds.num_classes)


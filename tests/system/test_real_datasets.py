"""The full-size shared datasets end to end: the recipes' datasets load from ../shared/datasets."""

from __future__ import annotations

import numpy as np

from core.training.recipes import RECIPES, load_recipe_dataset


def test_recipe_datasets_load_from_the_shared_folder(shared_datasets):
    orl = load_recipe_dataset(RECIPES["orl_faces"], shared_datasets)
    assert orl.input_shape == (56, 46, 1) and orl.num_classes == 40
    assert len(orl.x_train) == len(orl.x_test) == 200
    assert np.all(np.bincount(orl.y_train) == 5) and np.all(np.bincount(orl.y_test) == 5)
    cifar = load_recipe_dataset(RECIPES["cifar10"], shared_datasets)
    assert cifar.input_shape == (32, 32, 3) and len(cifar.x_train) == 10_000 and len(cifar.x_test) == 10_000


"""The full-size shared datasets end to end: the recipes' datasets load from ../shared/datasets."""

from __future__ import annotations

import numpy as np
import pytest

from core.training.recipes import RECIPES, load_recipe_dataset


def test_recipe_datasets_load_from_the_shared_folder(shared_datasets):
    orl = load_recipe_dataset(RECIPES["orl_faces"], shared_datasets)
    assert orl.input_shape == (56, 46, 1) and orl.num_classes == 40
    assert len(orl.x_train) == len(orl.x_test) == 200
    assert np.all(np.bincount(orl.y_train) == 5) and np.all(np.bincount(orl.y_test) == 5)
    cifar = load_recipe_dataset(RECIPES["cifar10"], shared_datasets)
    assert cifar.input_shape == (32, 32, 3) and len(cifar.x_train) == 10_000 and len(cifar.x_test) == 10_000



def test_the_cats_and_dogs_load_with_the_photo_recipes_test_split_set_aside(shared_datasets):
    from core.data import load_dataset
    from core.training.recipes import recipe_for

    recipe = RECIPES["cats_vs_dogs"]
    if not (shared_datasets / recipe.folder).is_dir():
        pytest.skip(f"{recipe.folder} not in the shared datasets")
    cats = load_recipe_dataset(recipe, shared_datasets)
    assert cats.input_shape == (64, 64, 3) and cats.class_names == ["cats", "dogs"]
    assert len(cats.x_train) == recipe.train_images == 500 and len(cats.x_test) == 100
    assert np.all(np.bincount(cats.y_test) == 50)
    # loaded on the Data page as a folder of the user's own, it gets the photo recipe
    folder = load_dataset("folder", {"path": str(shared_datasets / recipe.folder), "image_size": 32})
    assert recipe_for(folder) is recipe

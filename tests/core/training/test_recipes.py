"""core.training.recipes: every fast recipe is complete, buildable, loadable, and fits the Train page's choices.

The bench scripts that run the recipes end to end are tested in tests/system/test_bench.py, the recipes' datasets
at full size in tests/system/test_real_datasets.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.data.augment import Augmentation
from core.models.architecture import build_model
from core.models.presets import PRESET_SPECS, PRESETS
from core.training.config import FOCUS
from core.training.recipes import BASELINES, RECIPES, baseline_for, load_recipe_dataset, recipe_for

SHAPES = {"mnist": (28, 28, 1), "fashion_mnist": (28, 28, 1), "orl_faces": (56, 46, 1), "cifar10": (32, 32, 3)}
CLASSES = {"mnist": 10, "fashion_mnist": 10, "orl_faces": 40, "cifar10": 10}


@pytest.mark.parametrize("key", sorted(RECIPES))
def test_every_recipe_builds_and_trains_on_all_training_images(key):
    recipe = RECIPES[key]
    assert recipe.key == key and recipe.preset in PRESETS and recipe.preset in PRESET_SPECS
    config = recipe.train_config(seed=3)
    config.validate()
    assert config.seed == 3 and config.validation_split == 0.0  # tuned beforehand on validation splits
    assert recipe.target_accuracy > 0.5 and recipe.target_seconds > 0 and recipe.chosen
    Augmentation.from_dict(recipe.augmentation)
    model = build_model(recipe.spec(), SHAPES[key], CLASSES[key], seed=0)
    assert model.output_shape == (None, CLASSES[key])
    assert baseline_for(recipe).key in BASELINES


def test_baselines_are_the_published_settings():
    keras_io = BASELINES["keras_io_mnist_convnet"]
    assert (keras_io.preset, keras_io.epochs, keras_io.batch_size, keras_io.validation_split) == \
        ("keras_mnist_convnet", 15, 128, 0.1)
    assert BASELINES["course_face_cnn"].preset == "face_cnn" and BASELINES["course_face_cnn"].epochs == 10


def test_recipe_for_a_loaded_dataset():
    from core.data import Dataset

    def ds(name):
        x = np.zeros((2, 8, 8, 1), np.float32)
        return Dataset(name, name, "", ["a", "b"], x, np.array([0, 1]), x, np.array([0, 1]))

    assert recipe_for(ds("mnist")) is RECIPES["mnist"]
    assert recipe_for(ds("cifar10")) is RECIPES["cifar10"]
    assert recipe_for(ds("folder")) is RECIPES["orl_faces"]
    assert recipe_for(ds("shapes")) is None


def test_a_missing_data_folder_is_named(tmp_path):
    from core.data import DatasetError

    with pytest.raises(DatasetError, match="orl_faces"):
        load_recipe_dataset(RECIPES["orl_faces"], tmp_path)


def test_the_recipe_promise_fits_the_loaded_dataset():
    from core.data import Dataset
    from core.training.benchmarks import format_accuracy, recipe_measurement
    from core.training.recipes import recipe_promise, recipe_validation_split

    def ds(name, n):
        x = np.zeros((n, 2, 2, 1), np.float32)
        return Dataset(name, name, "", ["a", "b"], x, np.arange(n) % 2, x[:2], np.array([0, 1]))

    # a recipe with no saved benchmark says its target is a target
    assert recipe_promise(RECIPES["mnist"], ds("mnist", 60_000)) == \
        "On these images it is tuned to reach 99.0% on the official test split within 30 s of training on a 2-core laptop CPU."
    # the app's CIFAR-10 has all 50,000 training photos, five times the benchmark's subset
    assert recipe_promise(RECIPES["cifar10"], ds("cifar10", 50_000)).endswith("on these 50,000 expect about 25 min.")
    assert recipe_promise(RECIPES["orl_faces"], ds("folder", 300)).startswith("Tuned on the ORL faces (200 training")
    # the faces recipe's measured figure, from its benchmark file (test_benchmarks.py checks it is the file's)
    measured = format_accuracy(recipe_measurement("orl_faces").test_accuracy)
    assert recipe_promise(RECIPES["orl_faces"], ds("orl_faces", 200)).startswith(f"On these images it reaches {measured} ")
    assert recipe_validation_split(RECIPES["orl_faces"], ds("folder", 300)) == 0.1
    assert recipe_validation_split(RECIPES["orl_faces"], ds("orl_faces", 200)) == 0.0
    assert recipe_validation_split(RECIPES["mnist"], ds("mnist", 60_000)) == 0.0


def test_the_train_page_can_show_every_recipe_setting():
    # the Train page's choices are select sliders: a recipe's value must be one of their options
    from core.training.config import BATCH_SIZES, LABEL_SMOOTHING, LEARNING_RATES

    for recipe in RECIPES.values():
        assert recipe.learning_rate in LEARNING_RATES, recipe.key
        assert recipe.batch_size in BATCH_SIZES, recipe.key
        assert recipe.label_smoothing in LABEL_SMOOTHING, recipe.key


def test_the_fashion_recipe_focuses_and_the_others_do_not():
    assert RECIPES["fashion_mnist"].train_config().focus in FOCUS[1:]
    for key in ("mnist", "orl_faces", "cifar10"):
        assert RECIPES[key].train_config().focus == 0.0

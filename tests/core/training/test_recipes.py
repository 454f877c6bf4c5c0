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
from core.training.recipes import FULL_CIFAR_FROM, BASELINES, RECIPES, baseline_for, load_recipe_dataset, recipe_for

SHAPES = {"mnist": (28, 28, 1), "fashion_mnist": (28, 28, 1), "orl_faces": (56, 46, 1), "cifar10": (32, 32, 3),
          "cifar10_full": (32, 32, 3), "cats_vs_dogs": (64, 64, 3)}
CLASSES = {"mnist": 10, "fashion_mnist": 10, "orl_faces": 40, "cifar10": 10, "cifar10_full": 10, "cats_vs_dogs": 2}


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

    def ds(name, n=2):
        x = np.zeros((n, 8, 8, 1), np.float32)
        return Dataset(name, name, "", ["a", "b"], x, np.arange(n) % 2, x[:2], np.array([0, 1]))

    assert recipe_for(ds("mnist")) is RECIPES["mnist"]
    assert recipe_for(ds("cifar10")) is RECIPES["cifar10"]
    # the whole training set (downloaded, or the official files) gets the recipe tuned on it; the subset the other
    assert recipe_for(ds("cifar10", FULL_CIFAR_FROM + 1)) is RECIPES["cifar10_full"]
    assert recipe_for(ds("cifar10", FULL_CIFAR_FROM)) is RECIPES["cifar10"]
    assert recipe_for(ds("folder")) is RECIPES["cats_vs_dogs"]  # two grey classes: not people
    assert recipe_for(ds("shapes")) is None


def photos(name: str, channels: int, classes: int, per_class: int, side: int = 8):
    """A loaded dataset of ``classes`` classes with ``per_class`` training photos each."""
    from core.data import Dataset

    y = np.repeat(np.arange(classes), per_class)
    x = np.zeros((len(y), side, side, channels), np.float32)
    return Dataset(name, name, "", [f"c{i}" for i in range(classes)], x, y, x[:classes], np.arange(classes))


@pytest.mark.parametrize("name, channels, classes, per_class, fits", [
    ("folder", 1, 40, 5, "orl_faces"),  # the ORL faces as a folder
    ("olivetti", 1, 40, 5, "orl_faces"),
    ("folder", 1, 4, 6, "orl_faces"),  # a few people (the Train page's recipe test)
    ("folder", 1, 4, 20, "orl_faces"),  # up to 20 a person
    ("folder", 1, 4, 21, "cats_vs_dogs"),  # more: grey photos of things
    ("folder", 1, 3, 5, "cats_vs_dogs"),  # two or three grey classes: a question about a picture, not people
    ("folder", 1, 2, 300, "cats_vs_dogs"),  # grey X-rays, say
    ("folder", 1, 10, 200, "cats_vs_dogs"),
    ("folder", 3, 40, 5, "cats_vs_dogs"),  # colour: photos, even of faces
    ("folder", 3, 2, 30, "cats_vs_dogs"),
    ("folder", 3, 5, 2000, "cats_vs_dogs"),
])
def test_a_folder_gets_the_recipe_that_fits_it(name, channels, classes, per_class, fits):
    assert recipe_for(photos(name, channels, classes, per_class)) is RECIPES[fits]


def test_photos_per_class_are_counted_by_the_median_class():
    # one big class does not turn a folder of people into photos of things
    ds = photos("folder", 1, 10, 5)
    y = np.concatenate([ds.y_train, np.zeros(200, np.int64)])
    x = np.zeros((len(y), 8, 8, 1), np.float32)
    from dataclasses import replace

    assert recipe_for(replace(ds, x_train=x, y_train=y)) is RECIPES["orl_faces"]


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
    # the 10,000-photo recipe on all 50,000 training photos, five times the subset it was tuned on
    assert recipe_promise(RECIPES["cifar10"], ds("cifar10", 50_000)).endswith("on these 50,000 expect about 25 min.")
    # the recipe tuned on all 50,000 is tuned on the app's CIFAR-10, whatever its folder was called
    assert recipe_promise(RECIPES["cifar10_full"], ds("cifar10", 50_000)).startswith("On these images it ")
    assert recipe_validation_split(RECIPES["cifar10_full"], ds("cifar10", 50_000)) == 0.0
    assert recipe_promise(RECIPES["orl_faces"], ds("folder", 300)).startswith("Tuned on the ORL faces (200 training")
    # the faces recipe's measured figure, from its benchmark file (test_benchmarks.py checks it is the file's)
    measured = format_accuracy(recipe_measurement("orl_faces").test_accuracy)
    assert recipe_promise(RECIPES["orl_faces"], ds("orl_faces", 200)).startswith(f"On these images it reaches {measured} ")
    assert recipe_validation_split(RECIPES["orl_faces"], ds("folder", 300)) == 0.1
    assert recipe_validation_split(RECIPES["orl_faces"], ds("orl_faces", 200)) == 0.0
    assert recipe_validation_split(RECIPES["mnist"], ds("mnist", 60_000)) == 0.0


def test_the_train_page_can_show_every_recipe_setting():
    # the Train page's choices are select sliders: a recipe's value must be one of their options
    from core.training.config import BATCH_SIZES, LABEL_SMOOTHING, LEARNING_RATES, WEIGHT_DECAYS

    for recipe in RECIPES.values():
        assert recipe.learning_rate in LEARNING_RATES, recipe.key
        assert recipe.batch_size in BATCH_SIZES, recipe.key
        assert recipe.label_smoothing in LABEL_SMOOTHING, recipe.key
        assert recipe.weight_decay in WEIGHT_DECAYS, recipe.key


def test_the_fashion_recipe_focuses_and_the_others_do_not():
    assert RECIPES["fashion_mnist"].train_config().focus in FOCUS[1:]
    for key in ("mnist", "orl_faces", "cifar10"):
        assert RECIPES[key].train_config().focus == 0.0


@pytest.mark.parametrize("images, epochs, seconds, measured_at, pixels, expected", [
    (500, 30, 0.002, (64, 64), 64 * 64, 30.0),  # the measured size: images x epochs x cost
    (1000, 30, 0.002, (64, 64), 64 * 64, 60.0),  # twice the photos, twice the time
    (500, 30, 0.002, (64, 64), 128 * 128, 120.0),  # four times the pixels, four times the time
    (500, 30, 0.002, (64, 64), 32 * 32, 7.5),
    (500, 30, 0.002, (56, 46), 112 * 92, 120.0),
    (500, 30, 0.002, None, 128 * 128, 30.0),  # size unknown: not scaled
])
def test_the_estimate_is_images_times_epochs_times_the_cost_scaled_by_pixels(images, epochs, seconds, measured_at,
                                                                             pixels, expected):
    from core.training.recipes import ImageCost, estimate_seconds

    assert estimate_seconds(images, epochs, ImageCost(seconds, measured_at, True), pixels) == pytest.approx(expected)


@pytest.mark.parametrize("seconds, said", [(0.4, "1 s"), (12.4, "12 s"), (89, "89 s"), (90, "2 min"), (1500, "25 min")])
def test_durations_are_said_in_seconds_then_minutes(seconds, said):
    from core.training.recipes import format_duration

    assert format_duration(seconds) == said


def test_the_image_cost_comes_from_the_benchmark_file_or_else_the_target(tmp_path, monkeypatch):
    import json

    from core.training import benchmarks as B
    from core.training.recipes import recipe_image_cost

    recipe = RECIPES["cats_vs_dogs"]
    (tmp_path / "cats_vs_dogs.json").write_text(json.dumps({
        "recipe": {"test_accuracy": 0.7, "train_seconds": 45.0, "epochs": 30}, "train_images": 500,
        "input_shape": [48, 40, 3]}))
    monkeypatch.setattr(B, "BENCH_DIR", tmp_path)
    cost = recipe_image_cost(recipe)
    assert (cost.seconds, cost.size, cost.measured) == (pytest.approx(45.0 / (500 * 30)), (48, 40), True)
    # a file without the input shape: the size the recipe loads at
    (tmp_path / "cats_vs_dogs.json").write_text(json.dumps({
        "recipe": {"test_accuracy": 0.7, "train_seconds": 45.0, "epochs": 30}, "train_images": 500}))
    assert recipe_image_cost(recipe).size == (64, 64)
    # no file: the target spread over the recipe's epochs and images
    monkeypatch.setattr(B, "BENCH_DIR", tmp_path / "none")
    cost = recipe_image_cost(recipe)
    assert cost.seconds == pytest.approx(recipe.target_seconds / (recipe.epochs * recipe.train_images))
    assert not cost.measured


def test_the_photo_recipe_estimates_the_loaded_folder(tmp_path, monkeypatch):
    import json

    from core.training import benchmarks as B
    from core.training.recipes import recipe_promise

    recipe = RECIPES["cats_vs_dogs"]
    # 2 ms a photo and epoch at 64x64
    seconds = 0.002 * 500 * recipe.epochs
    (tmp_path / "cats_vs_dogs.json").write_text(json.dumps({
        "recipe": {"test_accuracy": 0.733, "train_seconds": seconds, "epochs": recipe.epochs}, "train_images": 500,
        "input_shape": [64, 64, 3], "cpus": 2, "measured": "2026-12-02"}))
    monkeypatch.setattr(B, "BENCH_DIR", tmp_path)
    # 2,000 colour photos of 128x128: 1,800 after the validation tenth, 4x the pixels
    promise = recipe_promise(recipe, photos("folder", 3, 4, 500, side=128))
    assert promise.startswith("Tuned on the Cats vs Dogs photos (500 training photos), where it reaches 73.3% on "
                              "100 photos set aside before tuning")
    expected = 1800 * recipe.epochs * 0.002 * 4
    assert (f"On these 1,800 training photos of 128×128 training should take about {expected / 60:.0f} min "
            f"(an estimate: 1,800 photos × {recipe.epochs} epochs × 2 ms a photo and epoch, measured at 64×64, "
            "scaled to 128×128).") in promise


def test_the_estimate_counts_one_photo_as_one_photo():
    from core.training.recipes import recipe_time_estimate

    recipe = recipe_for(photos("folder", 3, 2, 1))  # 2 photos, 1 held out for validation: 1 to train on
    assert recipe_time_estimate(recipe, photos("folder", 3, 2, 1)).startswith("On these 1 training photo of 8×8 ")
    assert "(an estimate: 1 photo × " in recipe_time_estimate(recipe, photos("folder", 3, 2, 1))

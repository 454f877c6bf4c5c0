"""Fast recipes: complete, buildable, loadable from the shared datasets, and benchmarked end to end."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from core.augment import Augmentation
from core.models import build_model
from core.presets import PRESET_SPECS, PRESETS
from core.recipes import BASELINES, RECIPES, baseline_for, load_recipe_dataset, recipe_for

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
    from core.datasets import Dataset

    def ds(name):
        x = np.zeros((2, 8, 8, 1), np.float32)
        return Dataset(name, name, "", ["a", "b"], x, np.array([0, 1]), x, np.array([0, 1]))

    assert recipe_for(ds("mnist")) is RECIPES["mnist"]
    assert recipe_for(ds("cifar10")) is RECIPES["cifar10"]
    assert recipe_for(ds("folder")) is RECIPES["orl_faces"]
    assert recipe_for(ds("shapes")) is None


def test_recipe_datasets_load_from_the_shared_folder(shared_datasets):
    orl = load_recipe_dataset(RECIPES["orl_faces"], shared_datasets)
    assert orl.input_shape == (56, 46, 1) and orl.num_classes == 40
    assert len(orl.x_train) == len(orl.x_test) == 200
    assert np.all(np.bincount(orl.y_train) == 5) and np.all(np.bincount(orl.y_test) == 5)
    cifar = load_recipe_dataset(RECIPES["cifar10"], shared_datasets)
    assert cifar.input_shape == (32, 32, 3) and len(cifar.x_train) == 10_000 and len(cifar.x_test) == 10_000


def test_a_missing_data_folder_is_named(tmp_path):
    from core.datasets import DatasetError

    with pytest.raises(DatasetError, match="orl_faces"):
        load_recipe_dataset(RECIPES["orl_faces"], tmp_path)


def _tiny_faces(root, people=4, per_person=6):
    rng = np.random.default_rng(0)
    for p in range(people):
        (root / "tiny" / f"s{p + 1}").mkdir(parents=True)
        base = rng.integers(0, 255, (112, 92))
        for i in range(per_person):
            noisy = np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)
            Image.fromarray(noisy).save(root / "tiny" / f"s{p + 1}" / f"{i + 1}.pgm")


def test_benchmark_prints_the_json_line_with_the_baseline_side_by_side(tmp_path, monkeypatch, capsys):
    from bench import time_to_accuracy

    _tiny_faces(tmp_path)
    tiny = replace(RECIPES["orl_faces"], key="tiny", folder="tiny", epochs=2, load_options={
        "image_size": [28, 23], "channels": 1, "train_per_class": 3})
    monkeypatch.setitem(RECIPES, "tiny", tiny)
    monkeypatch.setitem(BASELINES, "course_face_cnn", replace(BASELINES["course_face_cnn"], epochs=1))
    time_to_accuracy.main(["--dataset", "tiny", "--baseline", "--data-dir", str(tmp_path)])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["dataset"] == "tiny" and out["epochs"] == 2 and out["train_images"] == out["test_images"] == 12
    assert 0.0 <= out["test_accuracy"] <= 1.0 and out["train_seconds"] > 0 and out["params"] > 1000
    assert out["baseline"]["recipe"] == "course_face_cnn" and out["baseline"]["epochs"] == 1
    assert out["speedup"] == pytest.approx(out["baseline"]["train_seconds"] / out["train_seconds"], rel=0.02)
    assert out["meets_target"] == (out["test_accuracy"] >= tiny.target_accuracy
                                   and out["train_seconds"] <= tiny.target_seconds)


def test_the_recipe_promise_fits_the_loaded_dataset():
    from core.datasets import Dataset
    from core.recipes import recipe_promise, recipe_validation_split

    def ds(name, n):
        x = np.zeros((n, 2, 2, 1), np.float32)
        return Dataset(name, name, "", ["a", "b"], x, np.arange(n) % 2, x[:2], np.array([0, 1]))

    assert recipe_promise(RECIPES["mnist"], ds("mnist", 60_000)) == \
        "Tuned to reach 99.0% on the official test split within 30 s of training on a 2-core laptop CPU."
    # the app's CIFAR-10 has all 50,000 training photos, five times the benchmark's subset
    assert recipe_promise(RECIPES["cifar10"], ds("cifar10", 50_000)).endswith("on these 50,000 expect about 25 min.")
    assert recipe_promise(RECIPES["orl_faces"], ds("folder", 300)).startswith("Tuned on the ORL faces (200 training")
    assert recipe_promise(RECIPES["orl_faces"], ds("orl_faces", 200)).startswith("Tuned to reach 97.0%")
    assert recipe_validation_split(RECIPES["orl_faces"], ds("folder", 300)) == 0.1
    assert recipe_validation_split(RECIPES["orl_faces"], ds("orl_faces", 200)) == 0.0
    assert recipe_validation_split(RECIPES["mnist"], ds("mnist", 60_000)) == 0.0


def test_the_train_page_can_show_every_recipe_setting():
    # the Train page's choices are select sliders: a recipe's value must be one of their options
    from core.training import BATCH_SIZES, LABEL_SMOOTHING, LEARNING_RATES

    for recipe in RECIPES.values():
        assert recipe.learning_rate in LEARNING_RATES, recipe.key
        assert recipe.batch_size in BATCH_SIZES, recipe.key
        assert recipe.label_smoothing in LABEL_SMOOTHING, recipe.key


def test_train_page_applies_the_recipe_of_the_loaded_dataset(tmp_path):
    from apptest_helpers import open_page

    _tiny_faces(tmp_path)
    at = open_page("pages/train.py")
    assert not [b for b in at.button if b.key == "train_recipe"]  # no recipe for the shapes dataset
    at = open_page("pages/data.py", at)
    at.selectbox(key="data_name").set_value("folder").run()
    at.radio(key="data_where").set_value("server").run()
    at.text_input(key="data_path").input(str(tmp_path / "tiny")).run()
    at.button(key="data_load").click().run()
    assert not at.exception and not at.error
    at = open_page("pages/train.py", at)
    recipe = RECIPES["orl_faces"]
    assert any(m.value.startswith(f"**Fast recipe: {recipe.title}.**") and "For other photos it is a starting point"
               in m.value for m in at.markdown)
    # 12 images, 1 held out, batch 64: one batch an epoch
    assert any("changes the weights only 5 times (1 batch an epoch × 5 epochs)" in i.value for i in at.info)
    assert at.text_input(key="train_name").value == "folder_small_cnn"  # the default preset's name
    at.select_slider(key="train_smoothing").set_value(0.3).run()  # the recipe sets it back to its own value
    at.select_slider(key="train_focus").set_value(0.5).run()  # and this, off for the faces
    at.button(key="train_recipe").click().run()
    assert not at.exception and not at.error
    assert at.selectbox(key="train_preset").value == "faces_fast"
    assert at.number_input(key="train_epochs").value == recipe.epochs
    assert at.select_slider(key="train_batch").value == recipe.batch_size
    assert at.select_slider(key="train_lr").value == recipe.learning_rate
    assert at.slider(key="train_val").value == 0.1  # photos the recipe was not tuned on: curves show overfitting
    assert at.radio(key="train_schedule").value == "cosine"
    assert at.select_slider(key="train_smoothing").value == recipe.label_smoothing
    assert at.select_slider(key="train_focus").value == recipe.focus == 0.0
    assert at.text_input(key="train_name").value == "folder_faces_fast"  # follows the recipe's preset
    # a name typed by hand stays, through another page too
    at.text_input(key="train_name").input("my faces").run()
    at = open_page("pages/train.py", open_page("pages/home.py", at))
    assert at.text_input(key="train_name").value == "my faces"
    toggle = at.toggle(key="train_augment")
    assert toggle.value and Augmentation.from_dict(recipe.augmentation).describe() in toggle.label
    assert at.session_state["augmentation"] == Augmentation.from_dict(recipe.augmentation).to_dict()
    at.number_input(key="train_epochs").set_value(3).run()
    at.select_slider(key="train_focus").set_value(0.5).run()
    at.button(key="train_start").click().run()
    job = at.session_state["job"]
    assert job.config.schedule == "cosine" and job.config.augmentation == recipe.augmentation | {
        "flip": "none", "contrast": 0.0}
    assert job.config.focus == 0.5
    job.join(timeout=120)
    assert job.snapshot().state == "done"
    # 18 photos after the validation tenth: every one in the first 2 epochs, then the hardest 9 and 1 of the other 9
    assert job.result["epoch_images"] == [18, 18, 10]
    at.run()
    bars = [e.proto.text for e in at.get("progress")]
    assert any("epoch 3/3" in t and "hard-image focus: 10 of 18 images this epoch" in t for t in bars), bars
    # the Data page shows the recipe's augmentation
    at = open_page("pages/data.py", at)
    assert at.slider(key="aug_rotation").value == 5 and at.slider(key="aug_brightness").value == 0.1


def test_tuning_holds_out_training_images_and_never_reads_the_test_split(tmp_path, capsys):
    from core.datasets import Dataset
    from bench import tune_recipe

    x = np.arange(40, dtype=np.float32).reshape(40, 1, 1, 1)
    ds = Dataset("d", "d", "", ["a", "b"], x, np.arange(40) % 2, -x[:5], np.zeros(5, int))
    split = tune_recipe.holdout_split(ds, 0.25, split_seed=1)
    train, val = split.x_train.ravel(), split.x_test.ravel()
    assert len(val) == 10 and len(train) == 30 and not set(train) & set(val)
    assert sorted(np.concatenate([train, val])) == list(range(40))  # every training image, once; no test image
    assert np.array_equal(split.y_test, val.astype(int) % 2)  # labels stay with their images
    assert not np.array_equal(val, tune_recipe.holdout_split(ds, 0.25, split_seed=2).x_test.ravel())
    with pytest.raises(ValueError, match="hold-out"):
        tune_recipe.holdout_split(ds, 0.0, 1)

    _tiny_faces(tmp_path)
    tiny = replace(RECIPES["orl_faces"], key="tiny", folder="tiny", load_options={
        "image_size": [28, 23], "channels": 1, "train_per_class": 3})
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(RECIPES, "tiny", tiny)
        tune_recipe.main(["--dataset", "tiny", "--holdout", "0.25", "--data-dir", str(tmp_path),
                          "--config", '{"epochs": 2, "batch_size": 8}'])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["train_images"] == 9 and out["val_images"] == 3 and 0.0 <= out["val_accuracy"] <= 1.0
    assert out["config"] == {"epochs": 2, "batch_size": 8} and out["spec"]["name"] == "faces_fast"

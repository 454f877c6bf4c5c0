"""core.training.cli: the options of ``python -m core.train`` and its refusals, in this process.

The command in a process of its own, and a real run saved to disk, are in tests/system/test_training_cli.py.
"""

from __future__ import annotations

import pytest

from core.models.presets import PRESETS
from core.training.cli import augmentation_of, main, parse_args
from core.training.config import OPTIMIZERS, TrainConfig


def test_defaults_are_the_train_configs_and_out_is_required():
    args = parse_args(["--out", "m"])
    defaults = TrainConfig()
    assert (args.preset, args.dataset, args.data_dir, args.image_size, args.name, args.out) == (
        "small_cnn", "shapes", None, 64, None, "m")
    assert (args.epochs, args.batch_size, args.learning_rate, args.optimizer, args.validation_split, args.seed,
            args.label_smoothing, args.focus) == (
        defaults.epochs, defaults.batch_size, defaults.learning_rate, defaults.optimizer, defaults.validation_split,
        defaults.seed, defaults.label_smoothing, defaults.focus)
    with pytest.raises(SystemExit) as info:
        parse_args([])
    assert info.value.code == 2


def test_options_are_parsed_to_their_types():
    args = parse_args(["--preset", "tinyvgg", "--dataset", "folder", "--data-dir", "/d", "--image-size", "48",
                       "--epochs", "3", "--batch-size", "16", "--learning-rate", "3e-3", "--optimizer", "sgd",
                       "--validation-split", "0.2", "--label-smoothing", "0.1", "--focus", "0.5", "--seed", "7",
                       "--name", "mine", "--out", "/tmp/m"])
    assert (args.preset, args.dataset, args.data_dir, args.image_size, args.epochs, args.batch_size) == (
        "tinyvgg", "folder", "/d", 48, 3, 16)
    assert (args.learning_rate, args.optimizer, args.validation_split, args.label_smoothing, args.focus) == (
        0.003, "sgd", 0.2, 0.1, 0.5)
    assert (args.seed, args.name, args.out) == (7, "mine", "/tmp/m")


@pytest.mark.parametrize("args", [["--preset", "nope"], ["--optimizer", "adagrad_plus"], ["--epochs", "two"]])
def test_a_choice_or_number_it_cannot_read_is_refused_by_the_parser(args, capsys):
    with pytest.raises(SystemExit) as info:
        parse_args([*args, "--out", "m"])
    assert info.value.code == 2 and "error:" in capsys.readouterr().err


def test_help_lists_every_preset_and_optimizer(capsys):
    with pytest.raises(SystemExit) as info:
        parse_args(["--help"])
    out = capsys.readouterr().out
    assert info.value.code == 0 and "--preset" in out and "--out" in out
    assert all(name in out for name in PRESETS) and all(name in out for name in OPTIMIZERS)


@pytest.mark.parametrize("args, named", [(["--dataset", "nope"], "nope"), (["--label-smoothing", "1.5"], "label_smoothing"),
                                         (["--focus", "1"], "focus")],
                         ids=["unknown_dataset", "label_smoothing_too_big", "focus_too_big"])
def test_main_returns_2_with_the_reason_before_training(tmp_path, capsys, args, named):
    # digits: the dataset main loads before it checks the settings, the quickest to load (a later --dataset wins)
    assert main(["--dataset", "digits", *args, "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and named in err
    assert not list(tmp_path.iterdir())


def test_main_refuses_a_data_dir_for_a_dataset_without_files(tmp_path, capsys):
    # --data-dir makes no sense for the generated shapes: a clear "error:" line, not a traceback
    assert main(["--dataset", "shapes", "--data-dir", str(tmp_path), "--epochs", "1", "--out", str(tmp_path / "m")]) == 2
    assert "error:" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_a_recipe_gives_its_settings_as_defaults_and_an_option_given_wins():
    from core.training.recipes import RECIPES

    recipe = RECIPES["cifar10_full"]
    args = parse_args(["--recipe", "cifar10_full", "--preset", "photo_net", "--epochs", "3", "--out", "m"])
    assert (args.dataset, args.preset, args.epochs) == ("cifar10", "photo_net", 3)  # the two given win
    assert (args.batch_size, args.learning_rate, args.optimizer, args.schedule, args.label_smoothing,
            args.weight_decay, args.validation_split) == (
        recipe.batch_size, recipe.learning_rate, recipe.optimizer, recipe.schedule, recipe.label_smoothing,
        recipe.weight_decay, 0.0)
    assert augmentation_of(args) == recipe.augmentation
    # the order of the options does not matter, and without a recipe nothing is augmented
    assert parse_args(["--epochs", "3", "--out", "m", "--recipe", "mnist"]).batch_size == RECIPES["mnist"].batch_size
    assert augmentation_of(parse_args(["--out", "m"])) is None
    plain = parse_args(["--out", "m", "--flip", "horizontal", "--translation", "0.1", "--weight-decay", "5e-4"])
    assert augmentation_of(plain) == {"flip": "horizontal", "translation": 0.1} and plain.weight_decay == 5e-4


def test_an_unknown_recipe_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as info:
        parse_args(["--recipe", "imagenet", "--out", "m"])
    assert info.value.code == 2 and "imagenet" in capsys.readouterr().err

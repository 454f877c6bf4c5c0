"""``python -m core.train`` (core.training.cli) in a process of its own: help, refusals, a real run saved."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from core.storage.files import load_card, load_model


def test_cli_help(repo_root, make_subprocess_env):
    proc = subprocess.run([sys.executable, "-m", "core.train", "--help"], cwd=repo_root,
                          env=make_subprocess_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "--preset" in proc.stdout and "--out" in proc.stdout and "keras_mnist_convnet" in proc.stdout


@pytest.mark.parametrize("args, named", [(["--dataset", "nope"], "nope"), (["--label-smoothing", "1.5"], "label_smoothing"),
                                         (["--focus", "1"], "focus")],
                         ids=["unknown_dataset", "label_smoothing_too_big", "focus_too_big"])
def test_cli_bad_option_exits_2_with_the_reason(repo_root, tmp_path, make_subprocess_env, args, named):
    proc = subprocess.run([sys.executable, "-m", "core.train", *args, "--out", str(tmp_path / "m")],
                          cwd=repo_root, env=make_subprocess_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "error:" in proc.stderr and named in proc.stderr
    assert not list(tmp_path.iterdir())


def test_cli_data_dir_for_a_dataset_without_files_exits_2(repo_root, tmp_path, make_subprocess_env):
    # --data-dir makes no sense for the generated shapes: a clear "error:" line, not a traceback.
    proc = subprocess.run([sys.executable, "-m", "core.train", "--dataset", "shapes", "--data-dir", str(tmp_path),
                           "--epochs", "1", "--out", str(tmp_path / "m")],
                          cwd=repo_root, env=make_subprocess_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "error:" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_trains_and_saves(repo_root, tmp_path, make_subprocess_env):
    out = tmp_path / "m"
    proc = subprocess.run([sys.executable, "-m", "core.train", "--dataset", "digits", "--preset", "tinyvgg",
                           "--epochs", "1", "--out", str(out)],
                          cwd=repo_root, env=make_subprocess_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["model"] == str(out) + ".keras"
    assert summary["metadata"] == str(out) + ".json"
    raw = json.loads((tmp_path / "m.json").read_text())  # the file says everything the app needs
    assert {"dataset", "class_names", "input_shape", "preprocessing", "train_config", "history", "metrics"} <= set(raw)
    card = load_card(out)
    assert card.name == "digits_tinyvgg" and card.dataset.name == "digits" and card.spec["name"] == "tinyvgg"
    assert card.input_shape == (8, 8, 1) and card.class_names == [str(i) for i in range(10)]
    assert card.train_config["epochs"] == 1 and len(card.history["loss"]) == 1
    assert 0.0 <= card.metrics.test_accuracy <= 1.0
    assert card.metrics.test_accuracy == pytest.approx(summary["test_accuracy"])
    assert card.params == summary["params"]
    model, _ = load_model(out)
    assert tuple(model.input_shape) == (None, 8, 8, 1) and tuple(model.output_shape) == (None, 10)



def test_a_recipe_run_from_official_files_saves_a_portable_card_without_the_optimizer(repo_root, tmp_path,
                                                                                      make_subprocess_env):
    from dataset_files import write_idx_folder

    data = tmp_path / "mnist_files"
    write_idx_folder(data, n_train=40, n_test=10)
    for keep in (False, True):
        out = tmp_path / ("without" if not keep else "with")
        args = ["--recipe", "mnist", "--data-dir", str(data), "--epochs", "1", "--batch-size", "16",
                "--optimizer", "sgd", "--out", str(out)] + ([] if keep else ["--without-optimizer"])
        proc = subprocess.run([sys.executable, "-m", "core.train", *args], cwd=repo_root, env=make_subprocess_env(),
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
    card = load_card(tmp_path / "without")
    # the recipe's settings, and the dataset named without this machine's folder
    assert card.spec["name"] == "mnist_fast" and card.train_config["learning_rate"] == 1e-2
    assert card.dataset.name == "mnist" and card.dataset.options == {}
    # the same weights either way; SGD's momentum, one value per weight, only in the file that keeps the optimizer
    def groups(path):
        import io
        import zipfile

        import h5py

        with zipfile.ZipFile(path) as z, h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as h5:
            return [k for k in h5.get("optimizer/vars", {})]

    # SGD's iteration count, learning rate and a momentum per weight, or nothing
    assert len(groups(tmp_path / "with.keras")) >= 4 and groups(tmp_path / "without.keras") == []
    with_model, _ = load_model(tmp_path / "with")
    without_model, _ = load_model(tmp_path / "without")
    assert [w.shape for w in with_model.weights] == [w.shape for w in without_model.weights]
    params = without_model.count_params()
    small, big = (tmp_path / "without.keras").stat().st_size, (tmp_path / "with.keras").stat().st_size
    assert big - small >= 4 * params * 0.9

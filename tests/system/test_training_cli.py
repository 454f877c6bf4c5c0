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


"""The shipped default model: small, described by its metadata, and reproducible from the README."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.datasets import load_dataset
from core.storage import load_model
from core.training import evaluate_model

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "assets" / "models" / "shapes_default"


def test_shipped_model_is_small_and_its_metadata_is_complete():
    assert SHIPPED.with_suffix(".keras").stat().st_size < 5 * 2**20
    meta = json.loads(SHIPPED.with_suffix(".json").read_text())
    for key in ("dataset", "class_names", "input_shape", "preprocessing", "train_config", "history", "metrics", "spec"):
        assert meta[key], key
    assert meta["dataset"]["name"] == "shapes"
    assert meta["class_names"] == ["circle", "square", "triangle", "star"]


def test_shipped_accuracy_in_metadata_is_what_the_model_scores():
    model, meta = load_model(SHIPPED)
    dataset = load_dataset("shapes", meta["dataset"]["options"])
    _, accuracy = evaluate_model(model, dataset)
    assert accuracy == pytest.approx(meta["metrics"]["test_accuracy"], abs=1e-9)
    assert accuracy > 0.95
    assert tuple(model.input_shape[1:]) == tuple(meta["input_shape"]) == dataset.input_shape
    # a test image of every class is classified as that class
    for c in range(4):
        idx = np.flatnonzero(dataset.y_test == c)[:5]
        assert (np.argmax(model(dataset.x_test[idx]).numpy(), axis=1) == c).mean() >= 0.8


def test_shipped_metadata_tells_what_the_model_holds():
    # the sidebar and the Overview show these from the metadata before the model is loaded
    from ui.state import ModelEntry

    model, meta = load_model(SHIPPED)
    assert meta["params"] == model.count_params()
    assert tuple(meta["input_shape"]) == tuple(model.input_shape[1:])
    assert len(meta["class_names"]) == model.output_shape[-1]
    lazy = ModelEntry("shipped", None, meta, shipped=True, loader=lambda: model)
    loaded = ModelEntry("shipped", model, meta, shipped=True)
    assert not lazy.loaded
    assert (lazy.params, lazy.input_shape, lazy.class_names) == (loaded.params, loaded.input_shape, loaded.class_names)
    assert not lazy.loaded  # reading them did not load the model
    assert lazy.model is model and lazy.loaded


def test_first_page_draws_without_tensorflow():
    """The Overview and the sidebar need only the shipped model's metadata: a fresh process draws them
    without importing TensorFlow, then loads the model in the background."""
    import subprocess
    import sys

    code = """
import sys, time
from streamlit.testing.v1 import AppTest
import ui.state as state
start_load = state.preload_shipped_model
def drawn():  # app.py calls this once the page is drawn
    print("tensorflow imported:", "tensorflow" in sys.modules)
    start_load()
state.preload_shipped_model = drawn
at = AppTest.from_file("app.py", default_timeout=60).run()
assert not at.exception, at.exception
print("metric:", [m.value for m in at.metric])
deadline = time.time() + 60
while "model" not in state._SHIPPED and time.time() < deadline:
    time.sleep(0.1)
print("loaded in background:", "model" in state._SHIPPED)
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "tensorflow imported: False" in out.stdout
    params = json.loads(SHIPPED.with_suffix(".json").read_text())["params"]
    assert f"{params:,}" in out.stdout  # the Parameters metric, from the metadata
    assert "loaded in background: True" in out.stdout


@pytest.mark.slow
def test_readme_command_reproduces_the_shipped_accuracy(tmp_path):
    from bench.retrain_default import retrain

    figures = retrain(tmp_path)
    # TensorFlow on several CPU threads is not bit-for-bit deterministic: allow 1.5 points.
    assert figures["test_accuracy"] >= figures["shipped_test_accuracy"] - 0.015
    assert (tmp_path / "shapes_default.keras").is_file() and (tmp_path / "shapes_default.json").is_file()

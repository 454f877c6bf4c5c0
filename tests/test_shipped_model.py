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


@pytest.mark.slow
def test_readme_command_reproduces_the_shipped_accuracy(tmp_path):
    from bench.retrain_default import retrain

    figures = retrain(tmp_path)
    # TensorFlow on several CPU threads is not bit-for-bit deterministic: allow 1.5 points.
    assert figures["test_accuracy"] >= figures["shipped_test_accuracy"] - 0.015
    assert (tmp_path / "shapes_default.keras").is_file() and (tmp_path / "shapes_default.json").is_file()

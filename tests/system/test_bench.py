"""The bench/ command lines (time_to_accuracy, tune_recipe, face_latency) end to end on tiny data.

time_to_accuracy runs a recipe against its baseline, tune_recipe tunes on a hold-out without reading
the test split, face_latency times the face pipeline.

They test the benchmark scripts, not a module of core, and each trains or detects for several seconds.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import replace

import numpy as np
import pytest

from core.training.recipes import BASELINES, RECIPES
from tiny_faces import tiny_faces


def test_benchmark_prints_the_json_line_with_the_baseline_side_by_side(tmp_path, monkeypatch, capsys):
    from bench import time_to_accuracy

    tiny_faces(tmp_path)
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


def test_reach_scores_every_epoch_and_says_when_an_accuracy_was_first_reached(tmp_path, monkeypatch, capsys):
    from bench import time_to_accuracy

    assert time_to_accuracy.reached([(1, 0.5, 10.0), (2, 0.82, 19.5), (3, 0.81, 30.0)], [0.8, 0.9]) == {
        "0.8": {"epoch": 2, "test_accuracy": 0.82, "train_seconds": 19.5}, "0.9": None}
    tiny_faces(tmp_path)
    tiny = replace(RECIPES["orl_faces"], key="tiny", folder="tiny", epochs=3, load_options={
        "image_size": [28, 23], "channels": 1, "train_per_class": 3})
    monkeypatch.setitem(RECIPES, "tiny", tiny)
    time_to_accuracy.main(["--dataset", "tiny", "--reach", "0", "1.01", "--data-dir", str(tmp_path)])
    lines = capsys.readouterr().out.strip().splitlines()
    out = json.loads(lines[-1])
    scores = out["recipe"]["epoch_test_accuracy"]
    assert len(scores) == 3 and scores[-1] == out["test_accuracy"]  # the last epoch's score is the final one
    assert out["reached"]["0"]["epoch"] == 1 and out["reached"]["1.01"] is None
    assert 0 < out["reached"]["0"]["train_seconds"] <= out["train_seconds"]
    assert sum(line.startswith("epoch ") for line in lines) == 3


def test_tuning_holds_out_training_images_and_never_reads_the_test_split(tmp_path, capsys):
    from core.data import Dataset
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

    tiny_faces(tmp_path)
    tiny = replace(RECIPES["orl_faces"], key="tiny", folder="tiny", load_options={
        "image_size": [28, 23], "channels": 1, "train_per_class": 3})
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(RECIPES, "tiny", tiny)
        tune_recipe.main(["--dataset", "tiny", "--holdout", "0.25", "--data-dir", str(tmp_path),
                          "--config", '{"epochs": 2, "batch_size": 8}'])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["train_images"] == 9 and out["val_images"] == 3 and 0.0 <= out["val_accuracy"] <= 1.0
    assert out["config"] == {"epochs": 2, "batch_size": 8} and out["spec"]["name"] == "faces_fast"


def test_face_latency_benchmark_prints_its_figures():
    from bench import face_latency

    out = face_latency.main(["--runs", "3"])
    assert out["faces"] == 1 and out["photo"] == "640x480"
    assert 0 < out["detection_ms_p50"] <= out["detection_ms_p90"]
    assert out["pipeline_ms_p50"] >= out["align_ms_p50"] > 0



def test_classroom_benchmark_runs_a_small_class_and_prints_its_figures(tmp_path, capsys):
    """Two students on a classroom server for 20 s (the second also sends the bad inputs): the last line is the
    JSON of the figures, with no error and no cross-user read."""
    import os

    from bench.app_server import chromium_path

    if chromium_path() is None or importlib.util.find_spec("playwright") is None:
        if os.environ.get("CNNLAB_REQUIRE_BROWSER") == "1":
            pytest.fail("no Chromium or no Playwright (CNNLAB_REQUIRE_BROWSER=1: the browser tests must run here)")
        pytest.skip("no Chromium or no Playwright: the classroom benchmark drives a browser")
    from bench import classroom

    # (short arrivals and reading pauses: the class's own, 24 s and 3 to 7 s, would leave too few visits in 20 s)
    classroom.main(["--users", "2", "--seconds", "20", "--arrive-over", "2", "--read", "0.5", "1",
                    "--shots", str(tmp_path / "shots")])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("users", "errors", "cross_user_reads", "page_p50_ms", "page_p90_ms", "queue_wait_p90_s",
                "peak_rss_mb"):
        assert key in out, key
    assert out["users"] == 2 and out["errors"] == 0, out["error_list"]
    assert out["cross_user_reads"] == 0 and out["own_names_missing"] == [], out
    assert out["page_visits"] >= 8 and 0 < out["page_p50_ms"] <= out["page_p90_ms"]
    assert out["runs_done"] == 2 and len(out["queue_waits_s"]) == 2 and out["peak_rss_mb"] > 100
    assert out["arrive_over_s"] == 2 and out["read_s"] == [0.5, 1] and out["browser_nice"] == 10
    assert out["cpu_s"]["browsers"] > 0 and out["server_p90_ms"] <= out["page_p90_ms"] * 1.01
    assert {b["file"] for b in out["bad_inputs"]} == {"notes.jpg", "huge_7000x7000_16bit.png", "damaged.zip",
                                                       "blank_bmps.zip", "giant_dense.keras"}

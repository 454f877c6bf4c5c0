"""core.training, core.jobs, core.storage and the core.train command line."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from core.datasets import load_dataset
from core.jobs import TrainingJob
from core.models import ConvBlock, ModelSpec, build_model
from core.storage import ModelFileError, build_metadata, load_model, save_model
from core.training import ProgressCallback, TrainConfig, evaluate_model, split_validation, train_model

TINY_SPEC = ModelSpec(name="tiny", blocks=[ConvBlock(4)], dense_units=[])


@pytest.fixture(scope="module")
def small_shapes():
    return load_dataset("shapes", {"n_train": 160, "n_test": 40})


@pytest.fixture
def tiny_model(small_shapes):
    return build_model(TINY_SPEC, small_shapes.input_shape, small_shapes.num_classes, seed=0)


# --- training ----------------------------------------------------------------------------

def test_training_lowers_loss_and_beats_chance():
    ds = load_dataset("shapes", {"n_train": 800, "n_test": 200})
    model = build_model(ModelSpec(blocks=[ConvBlock(8), ConvBlock(16)], dense_units=[32]),
                        ds.input_shape, ds.num_classes, seed=0)
    untrained_loss, _ = evaluate_model(model, ds)
    assert untrained_loss == pytest.approx(math.log(4), abs=0.2)  # near-uniform guesses at first
    # Shapes starts on a plateau near ln 4; this setting leaves it within 8 epochs for every
    # seed tried (0-3: final/first loss 0.44-0.55, test accuracy 0.61-0.68), so the bounds
    # below have a wide margin.
    config = TrainConfig(epochs=8, batch_size=32, learning_rate=5e-3, seed=0)
    result = train_model(model, ds, config)
    losses = result["history"]["loss"]
    assert result["epochs_done"] == len(losses) == 8
    assert set(result["history"]) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert losses[-1] < 0.8 * losses[0], losses
    assert result["test_loss"] < untrained_loss - 0.2
    assert result["test_accuracy"] > 0.4, result  # chance is 0.25; 200 test images
    assert result["train_seconds"] > 0


def test_evaluate_model_matches_keras_evaluate(small_shapes, tiny_model):
    loss, acc = evaluate_model(tiny_model, small_shapes, batch_size=16)
    tiny_model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    ref_loss, ref_acc = tiny_model.evaluate(small_shapes.x_test, small_shapes.y_test, verbose=0)
    assert loss == pytest.approx(ref_loss, rel=1e-4)
    assert acc == pytest.approx(ref_acc, abs=1e-6)


BAD_CONFIGS = {
    "zero_epochs": dict(epochs=0),
    "zero_batch": dict(batch_size=0),
    "zero_lr": dict(learning_rate=0.0),
    "negative_lr": dict(learning_rate=-1e-3),
    "nan_lr": dict(learning_rate=float("nan")),
    "unknown_optimizer": dict(optimizer="adagrad_plus"),
    "validation_split_1": dict(validation_split=1.0),
    "negative_validation_split": dict(validation_split=-0.1),
    "label_smoothing_1": dict(label_smoothing=1.0),
    "negative_label_smoothing": dict(label_smoothing=-0.1),
}


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_train_config_rejects_bad_values(case):
    with pytest.raises(ValueError, match="Expected"):
        TrainConfig(**BAD_CONFIGS[case]).validate()


def test_train_config_defaults_are_valid_and_serialisable():
    config = TrainConfig()
    config.validate()
    assert TrainConfig(**json.loads(json.dumps(config.to_dict()))) == config


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_smoothed_loss_matches_keras_categorical_crossentropy(smoothing):
    from core.training import make_loss

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(16, 5)).astype(np.float32)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = rng.integers(0, 5, size=16)
    fn = keras.losses.get(make_loss(TrainConfig(label_smoothing=smoothing)))

    def loss(y_true, y_pred):  # the mean over the batch, whether Keras hands us a function or a Loss
        return np.mean(np.asarray(fn(y_true, y_pred)))

    reference = keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)(np.eye(5)[labels], probs)
    assert float(loss(labels, probs)) == pytest.approx(float(reference), rel=1e-5)
    # by hand: targets 1 - s + s/k on the true class, s/k elsewhere
    targets = np.full((16, 5), smoothing / 5) + (1 - smoothing) * np.eye(5)[labels]
    assert float(loss(labels, probs)) == pytest.approx(float(np.mean(-(targets * np.log(probs)).sum(axis=1))), rel=1e-4)
    # column-shaped labels, as Keras passes them, give the same loss
    assert float(loss(labels[:, None], probs)) == pytest.approx(float(loss(labels, probs)), rel=1e-6)


def test_training_with_label_smoothing_uses_it_and_saves(tmp_path, small_shapes, tiny_model):
    from core.training import SmoothedSparseCrossentropy

    config = TrainConfig(epochs=2, batch_size=32, learning_rate=3e-3, label_smoothing=0.2)
    result = train_model(tiny_model, small_shapes, config)
    assert isinstance(tiny_model.loss, SmoothedSparseCrossentropy) and tiny_model.loss.label_smoothing == 0.2
    assert len(result["history"]["loss"]) == 2 and np.isfinite(result["history"]["loss"]).all()
    # the reported test loss stays the plain cross-entropy, comparable between runs
    ref = keras.losses.SparseCategoricalCrossentropy()(small_shapes.y_test, tiny_model.predict(small_shapes.x_test, verbose=0))
    assert result["test_loss"] == pytest.approx(float(ref), rel=1e-3)
    metadata = build_metadata(tiny_model, small_shapes, name="smooth", spec=TINY_SPEC.to_dict(),
                              train_config=config.to_dict(), result=result)
    save_model(tiny_model, metadata, tmp_path / "smooth")
    loaded, meta = load_model(tmp_path / "smooth")
    assert meta["train_config"]["label_smoothing"] == 0.2
    np.testing.assert_allclose(loaded.predict(small_shapes.x_test[:4], verbose=0),
                               tiny_model.predict(small_shapes.x_test[:4], verbose=0), rtol=1e-5, atol=1e-6)


def test_train_model_rejects_mismatched_model(small_shapes):
    wrong_input = build_model(TINY_SPEC, (28, 28, 1), 4)
    with pytest.raises(ValueError, match="input shape"):
        train_model(wrong_input, small_shapes, TrainConfig(epochs=1))
    wrong_classes = build_model(TINY_SPEC, small_shapes.input_shape, 3)
    with pytest.raises(ValueError, match="4 outputs"):
        train_model(wrong_classes, small_shapes, TrainConfig(epochs=1))


def test_split_validation_is_disjoint_and_seeded():
    x = np.arange(100)[:, None].astype(np.float32)
    y = np.arange(100) % 4
    xt, yt, (xv, yv) = split_validation(x, y, 0.2, seed=1)
    assert len(xv) == 20 and len(xt) == 80
    assert set(xt[:, 0]).isdisjoint(xv[:, 0]) and len(set(xt[:, 0]) | set(xv[:, 0])) == 100
    np.testing.assert_array_equal(yt, xt[:, 0].astype(int) % 4)  # labels follow their images
    again = split_validation(x, y, 0.2, seed=1)
    np.testing.assert_array_equal(again[2][0], xv)
    xt0, yt0, val0 = split_validation(x, y, 0.0, seed=1)
    assert val0 is None and len(xt0) == 100


def test_split_validation_always_leaves_training_images():
    # TrainConfig accepts any validation_split below 1; on a small dataset a large split
    # must still leave something to train on (10 images at 0.95 rounds to 10 held out).
    x = np.zeros((10, 2), np.float32)
    y = np.arange(10) % 2
    xt, yt, validation = split_validation(x, y, 0.95, seed=0)
    assert len(xt) >= 1 and len(xt) + len(validation[0]) == 10


def test_progress_callback_reports_batches_and_epochs(small_shapes, tiny_model):
    batches, epochs = [], []
    callback = ProgressCallback(on_batch=lambda e, b, steps, logs: batches.append((e, b, steps, logs)),
                                on_epoch=lambda e, logs: epochs.append((e, logs)))
    config = TrainConfig(epochs=2, batch_size=32, validation_split=0.2)
    result = train_model(tiny_model, small_shapes, config, callbacks=[callback])
    steps = math.ceil(128 / 32)  # 160 images, 32 held out for validation
    assert [(e, b) for e, b, _, _ in batches] == [(e, b) for e in range(2) for b in range(steps)]
    assert all(s == steps for _, _, s, _ in batches)
    assert all(isinstance(v, float) for _, _, _, logs in batches for v in logs.values())
    assert "loss" in batches[0][3]
    assert [e for e, _ in epochs] == [0, 1]
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(epochs[-1][1])
    assert epochs[-1][1]["loss"] == pytest.approx(result["history"]["loss"][-1])


def test_progress_callback_should_stop_ends_training(small_shapes, tiny_model):
    calls = []
    callback = ProgressCallback(on_batch=lambda *a: calls.append(a), should_stop=lambda: True)
    result = train_model(tiny_model, small_shapes, TrainConfig(epochs=5, batch_size=16), callbacks=[callback])
    assert len(calls) == 1 and result["epochs_done"] == 1


# --- background jobs ---------------------------------------------------------------------

def test_training_job_runs_to_done(small_shapes, tiny_model):
    config = TrainConfig(epochs=2, batch_size=32)
    job = TrainingJob(tiny_model, small_shapes, config, name="tiny", spec=TINY_SPEC.to_dict())
    assert job.snapshot().state == "queued" and not job.finished
    job.start()
    job.join(timeout=120)
    snap = job.snapshot()
    assert snap.state == "done", snap.error
    assert job.finished and snap.fraction == 1.0 and snap.error is None
    assert [e["epoch"] for e in snap.epoch_log] == [1, 2]
    assert len(snap.batch_log) == 2 * snap.steps and snap.batch_log[-1]["step"] == pytest.approx(2.0)
    assert snap.elapsed > 0 and snap.images_per_second > 0
    meta = job.metadata
    assert 0.0 <= meta["metrics"]["test_accuracy"] <= 1.0
    assert meta["name"] == "tiny" and meta["spec"] == TINY_SPEC.to_dict()
    assert meta["train_config"] == config.to_dict() and meta["epochs_done"] == 2
    assert meta["class_names"] == small_shapes.class_names
    json.dumps(meta)


def test_training_job_stop_keeps_a_usable_model(small_shapes, tiny_model):
    config = TrainConfig(epochs=50, batch_size=16)
    job = TrainingJob(tiny_model, small_shapes, config, name="tiny").start()
    job.stop()
    job.join(timeout=120)
    snap = job.snapshot()
    assert snap.state == "stopped", snap.error
    assert job.result["epochs_done"] < config.epochs
    assert job.metadata["epochs_done"] == job.result["epochs_done"]
    assert "test_accuracy" in job.metadata["metrics"]
    probs = np.asarray(tiny_model(small_shapes.x_test[:4], training=False))
    assert np.isfinite(probs).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_training_job_failure_is_reported(small_shapes):
    wrong = build_model(TINY_SPEC, small_shapes.input_shape, 3)
    job = TrainingJob(wrong, small_shapes, TrainConfig(epochs=1), name="wrong").start()
    job.join(timeout=60)
    snap = job.snapshot()
    assert snap.state == "failed"
    assert "ValueError" in snap.error and "outputs" in snap.error
    assert job.metadata is None


def test_training_job_rejects_bad_config(small_shapes, tiny_model):
    with pytest.raises(ValueError):
        TrainingJob(tiny_model, small_shapes, TrainConfig(epochs=0), name="x")


# --- storage -----------------------------------------------------------------------------

def _metadata(model, dataset):
    return build_metadata(model, dataset, name="tiny", spec=TINY_SPEC.to_dict(),
                          train_config=TrainConfig().to_dict(),
                          result={"history": {"loss": [1.0, 0.5]}, "test_accuracy": np.float32(0.5),
                                  "test_loss": 0.9, "epochs_done": 2, "train_seconds": 1.5})


def test_save_and_load_round_trip(tmp_path, small_shapes, tiny_model):
    meta = _metadata(tiny_model, small_shapes)
    keras_path, json_path = save_model(tiny_model, meta, tmp_path / "models" / "tiny")
    assert keras_path.name == "tiny.keras" and json_path.name == "tiny.json"
    # Written atomically: no temporary file is left beside the two results.
    assert sorted(os.listdir(tmp_path / "models")) == ["tiny.json", "tiny.keras"]
    umask = os.umask(0)
    os.umask(umask)
    assert (keras_path.stat().st_mode & 0o777) == (0o666 & ~umask)

    # np.float32 in the metadata is stored as a plain JSON number.
    expected_meta = json.loads(json.dumps(meta, default=lambda v: v.item()))
    for path in (tmp_path / "models" / "tiny", keras_path, json_path):
        loaded, loaded_meta = load_model(path)
        x = small_shapes.x_test[:8]
        np.testing.assert_array_equal(np.asarray(loaded(x, training=False)), np.asarray(tiny_model(x, training=False)))
        assert loaded_meta == expected_meta
        assert loaded_meta["metrics"]["test_accuracy"] == 0.5
        assert [layer.name for layer in loaded.layers] == [layer.name for layer in tiny_model.layers]


def test_save_overwrites_previous_files(tmp_path, small_shapes, tiny_model):
    save_model(tiny_model, {"version": 1}, tmp_path / "m.keras")
    other = build_model(TINY_SPEC, small_shapes.input_shape, 4, seed=1)
    save_model(other, {"version": 2}, tmp_path / "m")
    loaded, meta = load_model(tmp_path / "m")
    assert meta == {"version": 2}
    np.testing.assert_array_equal(loaded.get_weights()[0], other.get_weights()[0])
    assert sorted(os.listdir(tmp_path)) == ["m.json", "m.keras"]


def test_load_model_refuses_lambda_layer(tmp_path):
    inputs = keras.Input((4,))
    x = keras.layers.Lambda(lambda t: t * 2.0, name="double")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
    save_model(model, {}, tmp_path / "unsafe")
    with pytest.raises(ModelFileError, match="unsafe.keras"):
        load_model(tmp_path / "unsafe")


def test_load_model_refuses_random_bytes(tmp_path):
    (tmp_path / "junk.keras").write_bytes(np.random.default_rng(0).bytes(2048))
    with pytest.raises(ModelFileError, match="junk.keras"):
        load_model(tmp_path / "junk.keras")


def test_load_model_missing_file_and_bad_json(tmp_path, tiny_model):
    with pytest.raises(ModelFileError, match="not found"):
        load_model(tmp_path / "absent")
    save_model(tiny_model, {}, tmp_path / "m")
    (tmp_path / "m.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="JSON"):
        load_model(tmp_path / "m")
    (tmp_path / "m.json").unlink()
    assert load_model(tmp_path / "m")[1] == {}


# --- command line ------------------------------------------------------------------------

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
    meta = json.loads((tmp_path / "m.json").read_text())
    assert {"dataset", "class_names", "input_shape", "preprocessing", "train_config", "history", "metrics"} <= set(meta)
    assert meta["dataset"]["name"] == "digits"
    assert meta["input_shape"] == [8, 8, 1] and meta["class_names"] == [str(i) for i in range(10)]
    assert meta["train_config"]["epochs"] == 1 and len(meta["history"]["loss"]) == 1
    assert 0.0 <= meta["metrics"]["test_accuracy"] <= 1.0
    assert meta["metrics"]["test_accuracy"] == pytest.approx(summary["test_accuracy"])
    model, _ = load_model(out)
    assert tuple(model.input_shape) == (None, 8, 8, 1) and tuple(model.output_shape) == (None, 10)

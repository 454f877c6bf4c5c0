"""core.training's own loop: the same step, history and callbacks as Keras's ``fit``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from core.datasets import load_dataset
from core.models import ConvBlock, ModelSpec, build_model
from core.training import (TrainConfig, compile_model, fit_loop, make_train_step, shuffled_batches,
                           train_model, train_towers)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = ModelSpec(name="t", blocks=[ConvBlock(4, 3), ConvBlock(8, 3)], dense_units=[16])  # no dropout: deterministic


def _pair(seed: int = 0):
    """Two models with the same weights, compiled alike."""
    a = build_model(SPEC, (12, 12, 1), 3, seed=seed)
    b = build_model(SPEC, (12, 12, 1), 3, seed=seed)
    b.set_weights(a.get_weights())
    for m in (a, b):
        compile_model(m, TrainConfig(learning_rate=1e-2))
    return a, b


@pytest.mark.parametrize("towers", [1, 2, 3])
@pytest.mark.parametrize("batch", [1, 7, 32])
def test_step_updates_weights_exactly_like_keras_train_on_batch(towers, batch):
    rng = np.random.default_rng(batch)
    x = rng.random((batch, 12, 12, 1), dtype=np.float32)
    y = rng.integers(0, 3, batch)
    ours, ref = _pair()
    ours._symbolic_build(data_batch=(x, y))
    step = make_train_step(ours, towers)
    for _ in range(3):
        ours.reset_metrics()  # as train_on_batch does
        logs = step(x, y)
        ref_logs = ref.train_on_batch(x, y, return_dict=True)
    for w, r in zip(ours.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(w, r, rtol=2e-5, atol=2e-6)
    assert float(logs["loss"]) == pytest.approx(ref_logs["loss"], rel=1e-5)
    assert float(logs["accuracy"]) == pytest.approx(ref_logs["accuracy"])


def test_shuffled_batches_cover_every_image_once_per_epoch_in_a_new_order():
    x = np.arange(50, dtype=np.float32).reshape(50, 1, 1, 1)
    y = np.arange(50)
    batches = shuffled_batches(x, y, 16, seed=3)
    seen = []
    for epoch in range(2):
        got = list(batches(epoch))
        assert [len(b[1]) for b in got] == [16, 16, 16, 2]
        labels = np.concatenate([b[1] for b in got])
        assert sorted(labels) == list(range(50))
        assert all(np.array_equal(b[0].ravel(), b[1]) for b in got)  # images stay with their labels
        seen.append(labels)
    assert not np.array_equal(seen[0], seen[1])
    again = np.concatenate([b[1] for b in shuffled_batches(x, y, 16, seed=3)(0)])
    np.testing.assert_array_equal(again, seen[0])  # seeded


def test_fit_loop_history_and_callbacks_match_keras_fit():
    ds = load_dataset("shapes", {"n_train": 240, "n_test": 60, "size": 12})
    x, y = ds.x_train, ds.y_train
    events: dict[str, list] = {"ours": [], "keras": []}

    class Recorder(keras.callbacks.Callback):
        def __init__(self, key):
            super().__init__()
            self.key = key

        def on_train_begin(self, logs=None):
            events[self.key].append(("train_begin", self.params["epochs"], self.params["steps"]))

        def on_epoch_end(self, epoch, logs=None):
            events[self.key].append(("epoch_end", epoch, sorted(logs)))

        def on_train_batch_end(self, batch, logs=None):
            events[self.key].append(("batch_end", batch))

    model = build_model(SPEC, ds.input_shape, ds.num_classes, seed=0)
    ref = build_model(SPEC, ds.input_shape, ds.num_classes, seed=0)
    for m in (model, ref):
        compile_model(m, TrainConfig(learning_rate=3e-3))
    val = (x[:40], y[:40])
    history = fit_loop(model, shuffled_batches(x, y, 32, 0), steps=8, epochs=3, callbacks=[Recorder("ours")],
                       sample=(x[:1], y[:1]), validation=val, batch_size=32)
    ref_history = ref.fit(x, y, batch_size=32, epochs=3, validation_data=val, verbose=0,
                          callbacks=[Recorder("keras")])
    assert events["ours"] == events["keras"]
    assert sorted(history.history) == sorted(ref_history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert history.history["loss"][-1] < history.history["loss"][0]
    # the validation figures are the model's own evaluation
    val_loss, val_acc = model.evaluate(*val, verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(val_loss, rel=1e-5)
    assert history.history["val_accuracy"][-1] == pytest.approx(val_acc)


def test_fit_loop_stops_after_the_batch_that_asked():
    ds = load_dataset("shapes", {"n_train": 200, "n_test": 40, "size": 12})
    model = build_model(SPEC, ds.input_shape, ds.num_classes, seed=0)
    compile_model(model, TrainConfig())
    seen = []

    class StopAtThree(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(batch)
            if batch == 2:
                self.model.stop_training = True

    history = fit_loop(model, shuffled_batches(ds.x_train, ds.y_train, 16, 0), steps=13, epochs=5,
                       callbacks=[StopAtThree()], sample=(ds.x_train[:1], ds.y_train[:1]))
    assert seen == [0, 1, 2]
    assert len(history.history["loss"]) == 1


def test_train_model_with_a_batch_of_one_at_the_end():
    # 33 images in batches of 32: the last batch has one image, so one tower of two is empty
    ds = load_dataset("shapes", {"n_train": 37, "n_test": 20, "size": 12})
    model = build_model(SPEC, ds.input_shape, ds.num_classes, seed=0)
    result = train_model(model, ds, TrainConfig(epochs=2, batch_size=32, validation_split=0.1))
    assert len(ds.x_train) - 4 == 33
    assert all(np.isfinite(result["history"]["loss"]))
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_two_towers_on_a_multicore_cpu_and_four_for_big_batches():
    multicore = len(os.sched_getaffinity(0)) >= 2
    assert train_towers() == train_towers(128) == (2 if multicore else 1)
    assert train_towers(256) == train_towers(1024) == (4 if multicore else 1)


def _threads(env_extra: dict) -> dict:
    code = ("import json, os, core, tensorflow as tf; "
            "print(json.dumps([os.environ.get('TF_NUM_INTRAOP_THREADS'), os.environ.get('TF_NUM_INTEROP_THREADS'), "
            "tf.config.threading.get_intra_op_parallelism_threads(), tf.config.threading.get_inter_op_parallelism_threads()]))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_NUM_")}
    env.update(env_extra)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_core_sets_thread_pools_for_two_towers_and_respects_the_users_choice():
    cores = len(os.sched_getaffinity(0))
    if cores < 2:
        pytest.skip("one core: core leaves TensorFlow's thread pools alone")
    intra, inter, _, _ = _threads({})
    assert (intra, inter) == (str(cores // 2), "2")
    intra, inter, _, _ = _threads({"TF_NUM_INTRAOP_THREADS": "3", "TF_NUM_INTEROP_THREADS": "5"})
    assert (intra, inter) == ("3", "5")

"""core.training.loop: CNN Lab's own training loop, with the same step, history and callbacks as Keras's ``fit``."""

from __future__ import annotations

import functools
import os

import keras
import numpy as np
import pytest

from core.data import load_dataset
from core.models.architecture import ConvBlock, ModelSpec, build_model
from core.training.config import TrainConfig
from core.training.run import compile_model
from core.training.loop import (evaluate_batches, fit_loop, make_test_step, make_train_step, shuffled_batches,
                                train_towers)

SPEC = ModelSpec(name="t", blocks=[ConvBlock(4, 3), ConvBlock(8, 3)], dense_units=[16])  # no dropout: deterministic


def _compiled(seed: int = 0):
    model = build_model(SPEC, (12, 12, 1), 3, seed=seed)
    compile_model(model, TrainConfig(learning_rate=1e-2))
    return model


def _batch(batch: int):
    rng = np.random.default_rng(batch)
    return rng.random((batch, 12, 12, 1), dtype=np.float32), rng.integers(0, 3, batch)


@functools.lru_cache(maxsize=None)
def _keras_reference(batch: int):
    """Weights and logs after three ``train_on_batch`` of the same model on the same batch.

    The same for every number of towers, so it is computed once per batch size.
    """
    ref = _compiled()
    x, y = _batch(batch)
    for _ in range(3):
        ref_logs = ref.train_on_batch(x, y, return_dict=True)
    return ref.get_weights(), ref_logs


@pytest.mark.parametrize("towers", [1, 2, 3])
@pytest.mark.parametrize("batch", [1, 7, 32])
def test_step_updates_weights_exactly_like_keras_train_on_batch(towers, batch):
    x, y = _batch(batch)
    ours = _compiled()
    ours._symbolic_build(data_batch=(x, y))
    step = make_train_step(ours, towers)
    for _ in range(3):
        ours.reset_metrics()  # as train_on_batch does
        logs = step(x, y)
    ref_weights, ref_logs = _keras_reference(batch)
    for w, r in zip(ours.get_weights(), ref_weights):
        np.testing.assert_allclose(w, r, rtol=2e-5, atol=2e-6)
    assert float(logs["loss"]) == pytest.approx(ref_logs["loss"], rel=1e-5)
    assert float(logs["accuracy"]) == pytest.approx(ref_logs["accuracy"])


def test_a_step_given_a_sample_batch_is_traced_once_for_every_batch_size():
    x, y = _batch(7)
    ours = _compiled()
    ours._symbolic_build(data_batch=(x, y))
    step = make_train_step(ours, 1, sample=(x[:1], y[:1]))
    for _ in range(3):
        ours.reset_metrics()
        step(x, y)
    ref_weights, _ = _keras_reference(7)
    for w, r in zip(ours.get_weights(), ref_weights):
        np.testing.assert_allclose(w, r, rtol=2e-5, atol=2e-6)
    for n in (5, 2, 1):  # smaller last batches of an epoch
        step(*_batch(n))
    assert step.experimental_get_tracing_count() == 1
    other = _compiled()
    other._symbolic_build(data_batch=(x, y))
    relaxed = make_train_step(other, 1)  # without a sample: traced again for a new batch size
    for n in (7, 5):
        relaxed(*_batch(n))
    assert relaxed.experimental_get_tracing_count() == 2


def test_the_step_returns_each_images_cross_entropy_before_the_update():
    rng = np.random.default_rng(0)
    x = rng.random((10, 12, 12, 1), dtype=np.float32)
    y = rng.integers(0, 3, 10)
    model = build_model(SPEC, (12, 12, 1), 3, seed=0)
    compile_model(model, TrainConfig(learning_rate=1e-2, label_smoothing=0.1))
    model._symbolic_build(data_batch=(x, y))
    before = model.get_weights()
    probs = model(x, training=False).numpy()
    expected = -np.log(probs[np.arange(10), y])  # plain cross-entropy, whatever the smoothing of the training loss
    for towers in (1, 2):
        model.set_weights(before)
        logs, losses = make_train_step(model, towers, per_image=True)(x, y)
        np.testing.assert_allclose(np.asarray(losses), expected, rtol=1e-5, atol=1e-6)
        assert "loss" in logs and "accuracy" in logs
        assert any(not np.allclose(w, b) for w, b in zip(model.get_weights(), before))  # and it trained


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


@pytest.mark.parametrize("n, batch", [(37, 8), (5, 32)])
def test_evaluate_batches_gives_what_keras_evaluate_gives(n, batch):
    rng = np.random.default_rng(n)
    x, y = rng.random((n, 12, 12, 1), dtype=np.float32), rng.integers(0, 3, n)
    model = build_model(SPEC, (12, 12, 1), 3, seed=1)
    compile_model(model, TrainConfig(label_smoothing=0.2))  # the compiled loss, smoothing included
    model._symbolic_build(data_batch=(x[:1], y[:1]))
    ours = evaluate_batches(model, make_test_step(model, (x[:1], y[:1])), x, y, batch)
    ref = model.evaluate(x, y, batch_size=batch, verbose=0, return_dict=True)
    assert sorted(ours) == sorted(ref) == ["accuracy", "loss"]
    assert ours["loss"] == pytest.approx(ref["loss"], rel=1e-5)
    assert ours["accuracy"] == pytest.approx(ref["accuracy"])


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


def test_two_towers_on_a_multicore_cpu_and_four_for_big_batches():
    multicore = len(os.sched_getaffinity(0)) >= 2
    assert train_towers() == train_towers(128) == (2 if multicore else 1)
    assert train_towers(256) == train_towers(1024) == (4 if multicore else 1)


"""core.training.callbacks: the cosine learning-rate schedule and the progress reports, both ordinary Keras callbacks."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from core.data.shapes import load_shapes
from core.models.architecture import ModelSpec, build_model
from core.training.callbacks import CosineSchedule, ProgressCallback, cosine_learning_rate
from core.training.config import TrainConfig
from core.training.run import train_model


def test_both_are_keras_callbacks():
    assert isinstance(ProgressCallback(), keras.callbacks.Callback)
    assert isinstance(CosineSchedule(0.1), keras.callbacks.Callback)
    assert ProgressCallback.async_safe  # Keras may report batch ends from a helper thread


# --- the cosine schedule -------------------------------------------------------------------


def test_cosine_schedule_warms_up_then_decays_to_zero():
    total, warmup, base = 100, 5, 0.01
    rates = [cosine_learning_rate(s, total, base, warmup) for s in range(total + 1)]
    assert rates[0] == pytest.approx(0.001)
    assert rates[warmup] == pytest.approx(base)
    assert all(a <= b for a, b in zip(rates[:warmup], rates[1:warmup + 1]))
    assert all(a >= b for a, b in zip(rates[warmup:], rates[warmup + 1:]))
    assert rates[-1] == pytest.approx(0.0, abs=1e-12)
    assert rates[warmup + (total - warmup) // 2] == pytest.approx(base / 2, rel=0.02)


def compiled(learning_rate=0.01):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy")
    return model


@pytest.mark.parametrize("params, total", [({"steps": 40, "epochs": 5}, 200),
                                           ({"steps": 40, "epochs": 5, "total_steps": 120}, 120)])
def test_cosine_schedule_sets_the_rate_of_every_batch(params, total):
    # called as Keras calls it: the rate before each batch is the formula's, as float32 stores it
    model = compiled()
    schedule = CosineSchedule(0.01)
    schedule.set_model(model)
    schedule.set_params(params)
    schedule.on_train_begin()
    assert (schedule.total, schedule.warmup) == (total, min(40, int(0.03 * total)))
    for batch in range(total):
        schedule.on_train_batch_begin(batch)
        assert float(model.optimizer.learning_rate.numpy()) == schedule.rates[-1]
    expected = [cosine_learning_rate(s, total, 0.01, schedule.warmup) for s in range(total)]
    np.testing.assert_allclose(schedule.rates, np.float32(expected), rtol=1e-6, atol=1e-12)


def test_cosine_schedule_steps_aside_for_a_rate_set_by_hand():
    model = compiled()
    schedule = CosineSchedule(0.01)
    schedule.set_model(model)
    schedule.set_params({"steps": 10, "epochs": 2})
    schedule.on_train_begin()
    for batch in range(3):
        schedule.on_train_batch_begin(batch)
    model.optimizer.learning_rate.assign(0.123)
    for batch in range(3, 6):
        schedule.on_train_batch_begin(batch)
    assert not schedule.active and len(schedule.rates) == 3
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.123)


def test_a_learning_rate_set_by_hand_ends_the_cosine_schedule():
    ds = load_shapes(n_train=320, n_test=64, size=16, seed=3)
    model = build_model(ModelSpec(), ds.input_shape, ds.num_classes, seed=0)

    class Hand(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 3:
                self.model.optimizer.learning_rate.assign(0.0005)

    train_model(model, ds, TrainConfig(epochs=1, batch_size=32, learning_rate=0.004, schedule="cosine"),
                callbacks=[Hand()])
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.0005)


# --- progress reports ----------------------------------------------------------------------


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


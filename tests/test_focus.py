"""Hard-image focus: later epochs train on the images with the highest loss, plus a random share of the rest."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from core.datasets import load_dataset
from core.jobs import JobQueue, TrainingJob
from core.models import ConvBlock, ModelSpec, build_model
from core.recipes import RECIPES
from core.training import (FOCUS, FocusedBatches, TrainConfig, compile_model, epoch_images, make_train_step,
                           train_model)

SPEC = ModelSpec(name="t", blocks=[ConvBlock(4, 3), ConvBlock(8, 3)], dense_units=[16])  # no dropout: deterministic


def test_epoch_images_whole_epochs_then_the_focused_share():
    assert epoch_images(1000, TrainConfig(epochs=4)) == [1000] * 4
    config = TrainConfig(epochs=5, focus=0.5, focus_warmup=2, focus_revisit=0.2)
    # the hardest 500, and a fifth of the other 500
    assert epoch_images(1000, config) == [1000, 1000, 600, 600, 600]
    # by default: 2 whole epochs, then a tenth of the others
    assert epoch_images(1000, TrainConfig(epochs=3, focus=0.5)) == [1000, 1000, 550]
    assert epoch_images(1000, TrainConfig(epochs=3, focus=0.3, focus_warmup=1, focus_revisit=0.0)) == [1000, 300, 300]
    assert epoch_images(1000, TrainConfig(epochs=2, focus=0.3, focus_warmup=1, focus_revisit=1.0)) == [1000, 1000]
    assert epoch_images(1, TrainConfig(epochs=2, focus=0.3, focus_warmup=1)) == [1, 1]  # at least one image


@pytest.mark.parametrize("fields, message", [
    ({"focus": 1.0}, "focus in"), ({"focus": -0.1}, "focus in"),
    ({"focus": 0.5, "focus_warmup": 0}, "focus_warmup"), ({"focus_revisit": 1.5}, "focus_revisit"),
])
def test_bad_focus_settings_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**fields).validate()
    TrainConfig(focus_warmup=0).validate()  # no focus: the warm-up does not matter


def test_focused_epochs_hold_the_hardest_images_and_a_random_share_of_the_rest():
    n = 1000
    x = np.arange(n, dtype=np.float32).reshape(n, 1, 1, 1)  # an image's value is its index
    y = np.zeros(n, np.int64)
    config = TrainConfig(epochs=6, batch_size=64, focus=0.3, focus_warmup=2, focus_revisit=0.25, seed=3)
    batches = FocusedBatches(x, y, config)
    losses = np.random.default_rng(0).random(n).astype(np.float32)
    seen = []
    for epoch in range(config.epochs):
        order = []
        for xb, yb in batches(epoch):
            pick = xb[:, 0, 0, 0].astype(int)
            assert np.all(np.diff(pick) > 0)  # sorted within the batch, no repeats
            order.append(pick)
            batches.record(losses[pick])
        order = np.concatenate(order)
        assert len(order) == len(set(order.tolist())) == epoch_images(n, config)[epoch]
        seen.append(set(order.tolist()))
        if epoch < 2:
            assert seen[-1] == set(range(n))
        else:
            hardest = set(np.argsort(-losses)[:300].tolist())
            assert hardest <= seen[-1]
            assert len(seen[-1] - hardest) == round(0.25 * 700)
    # the revisited images are drawn anew each epoch
    assert seen[2] != seen[3]
    # a loss recorded later replaces the earlier one: an image learnt no longer counts as hard
    batches.order(0)  # takes in the losses of the last epoch's batches
    batches.losses[:] = 0.0
    batches.losses[:10] = 5.0
    order = batches.order(2)
    assert set(range(10)) <= set(order.tolist())


def test_losses_are_read_at_the_next_epoch_not_after_every_batch():
    import tensorflow as tf

    x = np.arange(8, dtype=np.float32).reshape(8, 1, 1, 1)
    batches = FocusedBatches(x, np.zeros(8, np.int64), TrainConfig(epochs=3, batch_size=4, focus=0.5, focus_warmup=1))
    for xb, _ in batches(0):
        batches.record(tf.constant(10.0 * xb[:, 0, 0, 0]))  # a tensor, as the step returns it
    assert np.all(np.isinf(batches.losses))  # still pending: the loop did not wait for them
    batches.order(1)
    np.testing.assert_array_equal(batches.losses, 10.0 * np.arange(8))


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


def _shapes():
    return load_dataset("shapes", {"n_train": 600, "n_test": 200, "size": 28, "seed": 0})


def test_training_with_focus_runs_shorter_epochs_and_schedules_over_their_batches():
    ds = _shapes()
    config = TrainConfig(epochs=4, batch_size=32, learning_rate=3e-3, schedule="cosine", validation_split=0.1,
                         focus=0.4, focus_warmup=1, focus_revisit=0.25)
    seen_steps, batches_run, rates = [], [], []

    class Watch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen_steps.append(self.params["steps"])
            batches_run.append(0)

        def on_train_batch_begin(self, batch, logs=None):  # after the schedule's, which comes first
            rates.append(float(self.model.optimizer.learning_rate.numpy()))

        def on_train_batch_end(self, batch, logs=None):
            batches_run[-1] += 1

    model = build_model(SPEC, ds.input_shape, ds.num_classes, seed=0)
    result = train_model(model, ds, config, callbacks=[Watch()])
    n = 540  # 600 less the 10% validation share
    assert result["epoch_images"] == [540, 216 + 81, 297, 297] == epoch_images(n, config)
    assert seen_steps == batches_run == [17, 10, 10, 10]
    assert result["epochs_done"] == 4 and len(result["history"]["val_accuracy"]) == 4
    # the cosine schedule spans the 47 batches run, not 4 whole epochs of 17
    assert len(rates) == 47
    assert max(rates) == pytest.approx(3e-3, rel=0.01)
    assert rates[-1] == pytest.approx(3e-3 * 0.5 * (1 + np.cos(np.pi * 45 / 46)), rel=1e-3)
    assert result["history"]["loss"][-1] < result["history"]["loss"][0]


def test_focus_with_augmentation_augments_the_focused_batches():
    ds = _shapes()
    config = TrainConfig(epochs=2, batch_size=64, validation_split=0.0, focus=0.5, focus_warmup=1,
                         augmentation={"flip": "horizontal", "translation": 0.1})
    model = build_model(SPEC, ds.input_shape, ds.num_classes, seed=0)
    result = train_model(model, ds, config)
    assert result["epoch_images"] == [600, 330]  # the hardest 300 and a tenth of the other 300
    assert np.isfinite(result["history"]["loss"]).all()


def test_focus_refuses_a_distribution_strategy():
    import tensorflow as tf

    ds = _shapes()
    model = build_model(SPEC, ds.input_shape, ds.num_classes, seed=0)
    with pytest.raises(ValueError, match="one device for hard-image focus"):
        train_model(model, ds, TrainConfig(epochs=1, focus=0.5), strategy=tf.distribute.OneDeviceStrategy("/cpu:0"))


def test_a_job_with_focus_counts_progress_in_images():
    ds = _shapes()
    config = TrainConfig(epochs=3, batch_size=50, validation_split=0.0, focus=0.5, focus_warmup=1, focus_revisit=0.0)
    job = TrainingJob(build_model(SPEC, ds.input_shape, ds.num_classes, seed=0), ds, config, name="focus",
                      queue=JobQueue(1))
    first = job.snapshot()
    assert first.images_total == 600 + 300 + 300 and first.fraction == 0.0
    job.start().join(120)
    done = job.snapshot()
    assert done.state == "done", done.error
    assert done.images == done.images_total == 1200
    assert job.result["epoch_images"] == [600, 300, 300]
    assert job.metadata["train_config"]["focus"] == 0.5


def test_the_fashion_recipe_focuses_and_the_others_do_not():
    assert RECIPES["fashion_mnist"].train_config().focus in FOCUS[1:]
    for key in ("mnist", "orl_faces", "cifar10"):
        assert RECIPES[key].train_config().focus == 0.0

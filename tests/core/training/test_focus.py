"""core.training.focus: later epochs train on the images with the highest loss, plus a random share of the rest."""

from __future__ import annotations

import numpy as np

from core.training.config import TrainConfig, epoch_images
from core.training.focus import FocusedBatches


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


"""core.training.losses: cross-entropy with label smoothing on integer labels, against Keras's categorical loss."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from core.training.config import TrainConfig
from core.training.losses import SmoothedSparseCrossentropy, make_loss


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_smoothed_loss_matches_keras_categorical_crossentropy(smoothing):
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


def test_make_loss_is_keras_own_without_smoothing_and_the_smoothed_loss_survives_a_save():
    assert make_loss(TrainConfig()) == "sparse_categorical_crossentropy"
    loss = make_loss(TrainConfig(label_smoothing=0.15))
    assert isinstance(loss, SmoothedSparseCrossentropy) and loss.label_smoothing == 0.15
    # registered with Keras: a saved model's loss comes back as the same loss
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(again, SmoothedSparseCrossentropy) and again.label_smoothing == 0.15

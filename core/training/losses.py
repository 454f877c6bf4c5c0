"""Losses the training runs use beyond Keras's own: cross-entropy with label smoothing on integer labels.

Importing this module imports Keras (and TensorFlow); ``core.training.run`` imports it when it compiles.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from core.training.config import TrainConfig


@keras.saving.register_keras_serializable(package="cnn_lab")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Keras's ``CategoricalCrossentropy(label_smoothing=s)`` for integer labels.

    Keras's sparse cross-entropy has no smoothing; this one-hot encodes the
    labels inside the loss, so datasets keep their integer labels (and the
    accuracy metric stays the sparse one).
    """

    def __init__(self, label_smoothing: float = 0.1, name: str = "smoothed_sparse_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        labels = tf.cast(tf.reshape(y_true, [-1]), tf.int32)
        one_hot = tf.one_hot(labels, tf.shape(y_pred)[-1], dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(one_hot, y_pred, label_smoothing=self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


def make_loss(config: TrainConfig):
    """Cross-entropy on integer labels; with label smoothing when ``config`` asks for it."""
    if config.label_smoothing:
        return SmoothedSparseCrossentropy(config.label_smoothing)
    return "sparse_categorical_crossentropy"

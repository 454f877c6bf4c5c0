"""A tiny image classifier and probe images for the registry tests (tests/core/storage, tests/system/test_registry_crash.py)."""

from __future__ import annotations

import keras
import numpy as np


def tiny_cnn(input_shape=(32, 32, 3), classes=4, seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(input_shape, name="image")
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="tiny_cnn")


def probe(shape=(32, 32, 3), n=3):
    return np.random.default_rng(1).random((n, *shape), dtype=np.float32)


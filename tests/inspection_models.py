"""Tiny Keras models with named layers and random, non-zero biases, so every number can be recomputed by hand.

Shared by tests/core/inspection/test_layers.py and test_predict.py.
"""

from __future__ import annotations

import numpy as np

from core.storage.card import ModelCard
from core.storage.files import load_model, save_model

INPUT_SHAPE = (8, 8, 3)
KINDS = ("functional", "sequential", "functional_reloaded")


def tiny_layers():
    import keras  # here, so that the suite's conftest can read KINDS without importing TensorFlow

    return [
        keras.layers.Conv2D(4, 3, padding="valid", activation="relu", name="conv_a"),
        keras.layers.MaxPooling2D(2, name="pool_a"),
        keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="conv_b"),
        keras.layers.AveragePooling2D(2, name="pool_b"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(3, activation="softmax", name="predictions"),
    ]


def randomise(model, seed=0):
    """Random kernels and biases (Keras starts biases at 0, which would hide a bias bug)."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def functional_model():
    import keras  # here, so that the suite's conftest can read KINDS without importing TensorFlow

    inputs = keras.Input(INPUT_SHAPE, name="image")
    x = inputs
    for layer in tiny_layers():
        x = layer(x)
    return randomise(keras.Model(inputs, x, name="tiny_functional"))


def sequential_model():
    import keras  # here, so that the suite's conftest can read KINDS without importing TensorFlow

    return randomise(keras.Sequential([keras.Input(INPUT_SHAPE), *tiny_layers()], name="tiny_sequential"))


def tiny_model(kind: str, folder):
    """One of ``KINDS``: functional, sequential, or functional saved to ``folder`` and loaded back."""
    if kind == "sequential":
        return sequential_model()
    model = functional_model()
    if kind == "functional_reloaded":
        save_model(model, ModelCard(name="tiny"), folder / "tiny")
        model, card = load_model(folder / "tiny")
        assert card.name == "tiny"
    return model


def random_image(seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).random(INPUT_SHAPE, dtype=np.float32)

"""core.models.presets: every preset is registered under its key and builds on every built-in input shape."""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest

from core.models.architecture import ModelSpec, ModelSpecError, build_model
from core.models.presets import PRESET_SPECS, PRESETS

# (input shape, classes) of the built-in datasets.
INPUT_SHAPES = {
    "shapes": ((32, 32, 3), 4),
    "digits": ((8, 8, 1), 10),
    "mnist": ((28, 28, 1), 10),
    "cifar10": ((32, 32, 3), 10),
    "folder": ((64, 64, 3), 5),
    "orl_faces": ((112, 92, 1), 40),
}

LAYER_NAME = re.compile(r"^[a-z_]+[0-9_]*$")


def non_input_layers(model):
    return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def test_presets_registry_is_consistent():
    assert set(PRESETS) == set(PRESET_SPECS)
    for key, preset in PRESETS.items():
        assert preset.key == key
        spec = preset.spec()
        assert isinstance(spec, ModelSpec) and spec.name == key
        assert preset.spec() is not spec  # a fresh spec every time: editing one cannot change the preset


# The Keras CIFAR-10 example pools twice only: on 112x92 faces its flatten into dense 512 is 18 M weights, over the
# server's default limit of 10 M (the Train page says so and keeps Train off).
OVER_THE_LIMITS = {("keras_cifar10_cnn", "orl_faces")}


@pytest.mark.parametrize("dataset", list(INPUT_SHAPES))
@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_preset_builds_on_every_input(preset, dataset):
    shape, n_classes = INPUT_SHAPES[dataset]
    spec = PRESETS[preset].spec()
    if (preset, dataset) in OVER_THE_LIMITS:
        with pytest.raises(ModelSpecError, match="CNNLAB_MAX_PARAMS"):
            build_model(spec, shape, n_classes, seed=0)
        return
    model = build_model(spec, shape, n_classes, seed=0)
    assert tuple(model.input_shape) == (None, *shape)
    assert tuple(model.output_shape) == (None, n_classes)
    x = np.random.default_rng(0).random((3, *shape), dtype=np.float32)
    probs = np.asarray(model(x, training=False))
    assert probs.shape == (3, n_classes)
    assert (probs >= 0).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)

    names = [layer.name for layer in model.layers]
    assert len(names) == len(set(names)), f"duplicate layer names: {names}"
    bad = [n for n in names if not LAYER_NAME.match(n)]
    assert not bad, f"unreadable layer names: {bad}"
    assert names[-1] == "predictions"
    assert ("flatten" in names) == (spec.head == "flatten")
    assert spec.head == "flatten" or f"{spec.head}pool" in names


def test_keras_mnist_convnet_matches_keras_io_example():
    model = build_model(PRESETS["keras_mnist_convnet"].spec(), (28, 28, 1), 10)
    assert model.count_params() == 34_826
    assert [layer.name for layer in non_input_layers(model)] == [
        "conv1", "maxpool1", "conv2", "maxpool2", "flatten", "dropout_flat", "predictions"]

    # The reference: keras-io examples/vision/mnist_convnet.py, written out with Keras.
    reference = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        keras.layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(10, activation="softmax"),
    ])
    ours = non_input_layers(model)
    assert len(ours) == len(reference.layers)
    for mine, ref in zip(ours, reference.layers):
        assert type(mine) is type(ref)
        assert tuple(mine.output.shape) == tuple(ref.output.shape)
        assert mine.count_params() == ref.count_params()
        if isinstance(ref, keras.layers.Conv2D):
            assert mine.get_config()["activation"] == "relu" and mine.padding == "valid"
    assert model.get_layer("dropout_flat").rate == 0.5


"""core.inspection.featurevis: activation maximisation, top-activating images and the image cache.

Gradient ascent is checked by what it promises: on the shipped model, the synthesised image
excites its filter far more than the grey noise it starts from and more than any real image
of a small sample. Maps and scores are checked against a plain ``keras.Model`` sub-model.
"""

from __future__ import annotations

import threading

import keras
import numpy as np
import pytest

from core.inspection import featurevis
from core.data import load_dataset
from core.inspection.featurevis import (FilterVisCache, cached_maximize, filter_activation, initial_image, maximize_filter,
                             top_activating)


@pytest.fixture(scope="module")
def shipped_with_weights(shipped):
    """The shipped model and a copy of its weights taken before any test here ran."""
    return shipped, [w.copy() for w in shipped.get_weights()]


@pytest.fixture(scope="module")
def images():
    return load_dataset("shapes", {"n_train": 128, "n_test": 1}).x_train


def reference_maps(model, layer_name, x):
    """The layer's output through a sub-model built here, independently of core.inspection.featurevis."""
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return np.asarray(keras.Model(inputs, model.get_layer(layer_name).output)(x, training=False))


def tiny_model(input_shape=(8, 8, 3), sequential=False):
    layers = [keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_a"),
              keras.layers.MaxPooling2D(2, name="pool_a"),
              keras.layers.GlobalAveragePooling2D(name="gap"),
              keras.layers.Dense(3, activation="softmax", name="predictions")]
    if sequential:
        model = keras.Sequential([keras.Input(input_shape), *layers])
    else:
        inputs = keras.Input(input_shape)
        x = inputs
        for layer in layers:
            x = layer(x)
        model = keras.Model(inputs, x)
    rng = np.random.default_rng(0)
    # Positive biases keep every ReLU filter awake on grey, so a few steps always move the image.
    model.set_weights([np.abs(rng.normal(0, 0.5, w.shape)).astype(np.float32) if w.ndim == 1
                       else rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


# The first convolution is linear before its ReLU, so on [0, 1] images its response is bounded,
# and grey already gives about half of it: the shipped model's filters gain about 2x there.
# Deeper layers combine many such responses and gain 15x to 45x. Hence 1.5x and 3x.
@pytest.mark.parametrize("layer_name, min_gain", [("conv1", 1.5), ("maxpool2", 3.0), ("conv3", 3.0)])
def test_ascent_makes_the_filter_fire(shipped_with_weights, images, layer_name, min_gain):
    model, _ = shipped_with_weights
    noise = initial_image((32, 32, 3), seed=0)
    start = reference_maps(model, layer_name, noise[None])[0].mean(axis=(0, 1))
    real_best = reference_maps(model, layer_name, images).mean(axis=(1, 2)).max(axis=0)
    # The two filters most active on the starting noise: they surely get a gradient.
    for f in np.argsort(-start)[:2]:
        image = maximize_filter(model, layer_name, int(f), seed=0)
        assert image.shape == (32, 32, 3) and image.dtype == np.float32
        assert image.min() >= 0.0 and image.max() <= 1.0
        reached = reference_maps(model, layer_name, image[None])[0, ..., f].mean()
        assert reached >= min_gain * start[f], (layer_name, f, reached, start[f])
        assert reached > real_best[f], f"{layer_name}/{f}: below a real image ({reached} <= {real_best[f]})"
        assert filter_activation(model, layer_name, int(f), image)[0] == pytest.approx(reached, rel=1e-4)


def test_a_filter_silent_on_grey_still_gets_a_picture(shipped_with_weights, images):
    model, _ = shipped_with_weights
    start = reference_maps(model, "conv3", initial_image((32, 32, 3))[None])[0, 1:-1, 1:-1].mean(axis=(0, 1))
    real = reference_maps(model, "conv3", images).mean(axis=(1, 2)).max(axis=0)
    silent = np.flatnonzero((start == 0) & (real > 0.1))
    if not len(silent):
        pytest.skip("every conv3 filter of this model fires on grey noise")
    image = maximize_filter(model, "conv3", int(silent[0]))
    assert filter_activation(model, "conv3", int(silent[0]), image)[0] > 0.1


def test_seed_makes_the_result_reproducible():
    model = tiny_model()
    first = maximize_filter(model, "conv_a", 1, steps=5, seed=3)
    np.testing.assert_array_equal(first, maximize_filter(model, "conv_a", 1, steps=5, seed=3))
    assert not np.array_equal(first, maximize_filter(model, "conv_a", 1, steps=5, seed=4))


def test_sequential_and_any_size_models():
    image = maximize_filter(tiny_model(sequential=True), "pool_a", 2, steps=5)
    assert image.shape == (8, 8, 3) and 0.0 <= image.min() and image.max() <= 1.0
    any_size = tiny_model(input_shape=(None, None, 3))
    assert maximize_filter(any_size, "conv_a", 0, steps=5, size=12).shape == (12, 12, 3)
    assert maximize_filter(any_size, "conv_a", 0, steps=5, size=(10, 14)).shape == (10, 14, 3)
    with pytest.raises(ValueError, match="size"):
        maximize_filter(any_size, "conv_a", 0, steps=5)


@pytest.mark.parametrize("layer_name, filter_index, kwargs, message", [
    ("predictions", 0, {}, "4-D output"),
    ("gap", 0, {}, "4-D output"),
    ("conv_a", 4, {}, r"filter index in \[0, 3\]"),
    ("conv_a", -1, {}, r"filter index in \[0, 3\]"),
    ("conv_a", 0, {"size": 16}, r"size=\(8, 8\)"),
])
def test_bad_requests_raise_clear_errors(layer_name, filter_index, kwargs, message):
    with pytest.raises(ValueError, match=message):
        maximize_filter(tiny_model(), layer_name, filter_index, steps=2, **kwargs)


def test_top_activating_matches_a_keras_sub_model(shipped_with_weights, images):
    model, _ = shipped_with_weights
    maps = reference_maps(model, "conv2", images)
    f = int(np.argmax(maps.max(axis=(0, 1, 2))))  # a filter that surely fires
    scores = maps[..., f].max(axis=(1, 2))
    top = top_activating(model, "conv2", f, images, k=9, batch_size=50)  # batches across the split
    assert len(top) == 9 and len({t["index"] for t in top}) == 9
    got = np.array([t["score"] for t in top])
    assert (np.diff(got) <= 0).all(), "highest score first"
    np.testing.assert_allclose(got, scores[[t["index"] for t in top]], rtol=1e-5, atol=1e-6)
    rest = np.delete(scores, [t["index"] for t in top])
    assert got[-1] >= rest.max() - 1e-5, "a better image was left out"
    for t in top:
        assert t["map"].shape == (16, 16)
        np.testing.assert_allclose(t["map"], maps[t["index"], ..., f], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(filter_activation(model, "conv2", f, images, batch_size=50),
                               maps[..., f].mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
    assert len(top_activating(model, "conv2", f, images[:4], k=9)) == 4
    with pytest.raises(ValueError, match="k of at least 1"):
        top_activating(model, "conv2", f, images, k=0)


def test_cache_hands_back_the_same_array_and_stays_bounded():
    model = tiny_model()
    cache = FilterVisCache(max_entries=2)
    a = cached_maximize(model, "m1", "conv_a", 0, cache=cache, steps=3)
    assert cached_maximize(model, "m1", "conv_a", 0, cache=cache, steps=3) is a
    assert cached_maximize(model, "m1", "conv_a", 0, cache=cache, steps=3, seed=0) is a  # a default, spelt out
    assert not a.flags.writeable, "a cached array is shared: it must be read-only"
    other_key = cached_maximize(model, "m2", "conv_a", 0, cache=cache, steps=3)
    assert other_key is not a and len(cache) == 2
    np.testing.assert_array_equal(other_key, a)

    cached_maximize(model, "m1", "conv_a", 0, cache=cache, steps=3)  # a is now the most recent
    cached_maximize(model, "m1", "conv_a", 1, cache=cache, steps=3)  # evicts the "m2" entry
    assert len(cache) == 2
    assert cached_maximize(model, "m1", "conv_a", 0, cache=cache, steps=3) is a
    assert cached_maximize(model, "m2", "conv_a", 0, cache=cache, steps=3) is not other_key
    with pytest.raises(ValueError, match="max_entries"):
        FilterVisCache(max_entries=0)


def test_cache_is_thread_safe():
    model = tiny_model()
    cache = FilterVisCache(max_entries=4)
    results = [None] * 4

    def work(i):
        results[i] = cache.get(model, "m", "conv_a", 2, steps=3)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r is results[0] for r in results) and len(cache) == 1


def test_the_model_is_left_unchanged(shipped_with_weights, images):
    model, weights_before = shipped_with_weights
    output_before = np.asarray(model(images[:8], training=False))
    maximize_filter(model, "conv2", 0, steps=5)
    top_activating(model, "conv1", 0, images, k=3)
    for before, after in zip(weights_before, model.get_weights()):
        np.testing.assert_array_equal(before, after)
    np.testing.assert_array_equal(output_before, np.asarray(model(images[:8], training=False)))
    assert len(model.outputs) == 1 and model.layers[-1].name == "predictions"
    assert model in featurevis._PROBES  # the sub-models are cached beside the model, not in it

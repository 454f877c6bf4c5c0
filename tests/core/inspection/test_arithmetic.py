"""core.inspection.arithmetic, checked against the real Keras layers and TensorFlow's own patch extraction.

Fixture models are tiny (9x9 input) with named layers and random, non-zero biases. Each
puts a "pre" convolution in front of the layer under test, so the layer's input is a
computed feature map, not the image.
"""

from __future__ import annotations

import gc
import weakref

import keras
import numpy as np
import pytest
import tensorflow as tf

from core.inspection import arithmetic
from core.inspection.arithmetic import conv_step, pool_maps, pool_step, preactivation_maps

SIDE = 9

# (input channels, kernel, strides, padding, activation): 9 -> output side
CONV_CASES = [
    (1, 3, 1, "same", "relu"),  # 9
    (3, 3, 1, "valid", "tanh"),  # 7
    (3, 3, 2, "same", "linear"),  # 5: one row of padding each side
    (1, 3, 2, "valid", "relu"),  # 4: the last input row is never read
    (3, 4, 2, "same", "relu"),  # 5: pad_total 3, so 1 before and 2 after (TF's rule)
    (3, (2, 3), (1, 2), "same", "tanh"),  # rectangular kernel and strides
]

# (class, pool_size, strides, padding)
POOL_CASES = [
    (keras.layers.MaxPooling2D, 2, None, "valid"),
    (keras.layers.MaxPooling2D, 3, 2, "valid"),  # overlapping windows
    (keras.layers.MaxPooling2D, 3, 2, "same"),
    (keras.layers.AveragePooling2D, 2, None, "valid"),
    (keras.layers.AveragePooling2D, 3, 2, "same"),  # border windows average fewer cells
    (keras.layers.AveragePooling2D, (2, 3), (1, 2), "same"),
]


def randomise(model, seed=0):
    """Random kernels and biases (Keras starts biases at 0, which would hide a bias bug)."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def model_around(layer, channels=3, pre=True, sequential=False):
    """Input -> [Conv2D "pre"] -> layer -> Flatten -> Dense softmax."""
    stack = ([keras.layers.Conv2D(channels, 3, padding="same", activation="relu", name="pre")] if pre else [])
    stack += [layer, keras.layers.Flatten(name="flatten"), keras.layers.Dense(2, activation="softmax", name="out")]
    inputs = keras.Input((SIDE, SIDE, channels), name="image")
    if sequential:
        return randomise(keras.Sequential([inputs, *stack]))
    x = inputs
    for item in stack:
        x = item(x)
    return randomise(keras.Model(inputs, x))


def image_for(model, seed=1):
    return np.random.default_rng(seed).random(model.input_shape[1:], dtype=np.float32)


def real(model, tensor, image):
    return np.asarray(keras.Model(model.inputs[0], tensor)(image[None], training=False))[0]


def positions(out_h, out_w):
    """Corners, borders and the middle."""
    return sorted({(r, c) for r in (0, out_h // 2, out_h - 1) for c in (0, 1, out_w // 2, out_w - 1) if c < out_w})


@pytest.mark.parametrize("channels, kernel, strides, padding, activation", CONV_CASES)
@pytest.mark.parametrize("pre", [True, False], ids=["after_conv", "on_image"])
def test_conv_step_equals_the_real_layer(channels, kernel, strides, padding, activation, pre):
    conv = keras.layers.Conv2D(3, kernel, strides=strides, padding=padding, activation=activation, name="conv")
    model = model_around(conv, channels, pre=pre)
    image = image_for(model)
    layer_in, layer_out = real(model, conv.input, image), real(model, conv.output, image)
    kh, kw = conv.kernel_size
    sh, sw = conv.strides
    # TensorFlow's own patches, padded by its own rule: an independent reference for the patch.
    patches = tf.image.extract_patches(layer_in[None], [1, kh, kw, 1], [1, sh, sw, 1], [1, 1, 1, 1], padding.upper())
    patches = np.asarray(patches)[0]
    assert patches.shape[:2] == layer_out.shape[:2]
    kernel_all, bias_all = conv.get_weights()
    for r, c in positions(*layer_out.shape[:2]):
        for ch in (0, 2):
            step = conv_step(model, "conv", image, ch, r, c)
            assert step["patch"].shape == step["kernel"].shape == step["products"].shape == (kh, kw, channels)
            np.testing.assert_array_equal(step["patch"].reshape(-1), patches[r, c])
            np.testing.assert_array_equal(step["kernel"], kernel_all[..., ch])
            np.testing.assert_array_equal(step["products"], step["patch"].astype(np.float64) * kernel_all[..., ch])
            assert step["products"].sum() + step["bias"] == pytest.approx(step["preactivation"], abs=1e-12)
            assert step["bias"] == pytest.approx(float(bias_all[ch]))
            assert step["activation"] == activation
            assert step["layer_output"] == layer_out[r, c, ch]
            assert step["postactivation"] == pytest.approx(layer_out[r, c, ch], abs=1e-5)
            if activation == "linear":
                assert step["preactivation"] == pytest.approx(step["postactivation"], abs=1e-6)
            # The window sits where the stride and the padding say, and only padding is zero-filled.
            assert (step["patch"][~step["valid"]] == 0).all()
            if padding == "valid":
                assert step["valid"].all() and (step["top"], step["left"]) == (r * sh, c * sw)
    # Asymmetric 'same' padding: TF puts the odd row after, so the first window starts at -1, not -2.
    if kernel == 4:
        assert conv_step(model, "conv", image, 0, 0, 0)["top"] == -1
        assert not conv_step(model, "conv", image, 0, 4, 4)["valid"][-2:].any()  # reaches 2 past the end


@pytest.mark.parametrize("channels, kernel, strides, padding, activation", CONV_CASES)
def test_preactivation_maps_equal_a_linear_copy_of_the_layer(channels, kernel, strides, padding, activation):
    conv = keras.layers.Conv2D(3, kernel, strides=strides, padding=padding, activation=activation, name="conv")
    model = model_around(conv, channels)
    image = image_for(model)
    maps = preactivation_maps(model, "conv", image)
    if activation == "linear":
        assert maps is None
        return
    linear = keras.layers.Conv2D.from_config({**conv.get_config(), "activation": None, "name": "linear_copy"})
    linear.build(conv.input.shape)
    linear.set_weights(conv.get_weights())
    layer_in = real(model, conv.input, image)
    expected = np.asarray(linear(layer_in[None]))[0]
    assert maps.shape == expected.shape and maps.dtype == np.float32
    np.testing.assert_allclose(maps, expected, rtol=1e-5, atol=1e-5)
    reference_activation = {"relu": lambda v: np.maximum(v, 0), "tanh": np.tanh}[activation]
    np.testing.assert_allclose(reference_activation(maps), real(model, conv.output, image), atol=1e-5)
    if activation == "relu":
        assert (maps < 0).any() and (maps > 0).any()  # the ReLU really cuts something here
    r, c = maps.shape[0] - 1, 0
    assert conv_step(model, "conv", image, 1, r, c)["preactivation"] == pytest.approx(maps[r, c, 1], abs=1e-5)


def test_conv_step_on_the_shipped_model_middle_layer(shipped):
    image = np.random.default_rng(3).random((32, 32, 3), dtype=np.float32)
    layer = shipped.get_layer("conv2")
    real_out = real(shipped, layer.output, image)
    maps = preactivation_maps(shipped, "conv2", image)
    np.testing.assert_allclose(np.maximum(maps, 0), real_out, atol=1e-5)
    for r, c in [(0, 0), (0, 15), (15, 15), (7, 0), (8, 9), (15, 1)]:
        for ch in (0, 13, 31):
            step = conv_step(shipped, "conv2", image, ch, r, c)
            assert step["patch"].shape == (3, 3, 16)
            assert step["layer_output"] == real_out[r, c, ch]
            assert step["postactivation"] == pytest.approx(real_out[r, c, ch], abs=1e-5)
            assert step["preactivation"] == pytest.approx(maps[r, c, ch], abs=1e-5)
            assert step["products"].sum() + step["bias"] == pytest.approx(step["preactivation"], abs=1e-12)
    assert step["activation"] == "relu"
    assert not conv_step(shipped, "conv2", image, 0, 0, 0)["valid"].all()  # the corner reads padding


def test_conv_step_with_batch_norm_and_separate_activation():
    inputs = keras.Input((SIDE, SIDE, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Activation("relu", name="relu")(x)
    model = randomise(keras.Model(inputs, keras.layers.Dense(2, name="out")(keras.layers.Flatten()(x))))
    model.get_layer("bn").moving_variance.assign(np.full(4, 2.0, np.float32))  # a valid variance
    image = image_for(model)
    step = conv_step(model, "conv", image, 1, 0, 8)
    assert step["activation"] == "linear" and step["postactivation"] == pytest.approx(step["preactivation"], abs=1e-6)
    assert step["layer_output"] == pytest.approx(step["preactivation"], abs=1e-5)
    assert preactivation_maps(model, "conv", image) is None


@pytest.mark.parametrize("pool_class, size, strides, padding", POOL_CASES)
@pytest.mark.parametrize("sequential", [False, True], ids=["functional", "sequential"])
def test_pool_step_equals_keras_pooling(pool_class, size, strides, padding, sequential):
    pool = pool_class(size, strides=strides, padding=padding, name="pool")
    model = model_around(pool, sequential=sequential)
    image = image_for(model)
    input_maps, output_maps = pool_maps(model, "pool", image)
    reference = pool_class.from_config({**pool.get_config(), "name": "reference"})
    np.testing.assert_allclose(output_maps, np.asarray(reference(input_maps[None]))[0], rtol=1e-6)
    np.testing.assert_allclose(input_maps, real(model, pool.input, image))
    out_h, out_w = output_maps.shape[:2]
    for r in range(out_h):
        for c in range(out_w):
            ch = (r + c) % 3
            step = pool_step(model, "pool", image, ch, r, c)
            assert step["layer_output"] == output_maps[r, c, ch]
            assert step["value"] == pytest.approx(output_maps[r, c, ch], rel=1e-6, abs=1e-7)
            window, valid = step["window"], step["valid"]
            assert np.isnan(window[~valid]).all() and not np.isnan(window[valid]).any()
            if step["kind"] == "max":
                wr, wc = step["argmax"]
                assert valid[wr, wc] and window[wr, wc] == step["value"] == window[valid].max()
                # The position points into the layer's input map.
                assert input_maps[step["top"] + wr, step["left"] + wc, ch] == step["value"]
            else:
                assert step["count"] == valid.sum()
                assert step["value"] == pytest.approx(window[valid].mean(), rel=1e-6)
    if padding == "same" and size == 3:
        corner = pool_step(model, "pool", image, 0, out_h - 1, out_w - 1)
        assert not corner["valid"].all()  # the last window reaches into the padding


def test_pool_average_same_padding_divides_by_the_cells_inside():
    pool = keras.layers.AveragePooling2D(3, strides=2, padding="same", name="pool")
    model = model_around(pool, pre=False)  # on the image itself: no ReLU zeros to hide a wrong divisor
    image = image_for(model)
    step = pool_step(model, "pool", image, 0, 0, 0)
    # 9 rows, stride 2: pad_total = 4 * 2 + 3 - 9 = 2, one before, so the window at (-1, -1) keeps 2x2 cells.
    assert step["count"] == 4
    window = step["window"][step["valid"]]
    assert step["layer_output"] == pytest.approx(window.sum() / 4, rel=1e-6)
    assert step["layer_output"] != pytest.approx(window.sum() / 9, rel=1e-3)


def test_errors_say_what_was_expected():
    model = model_around(keras.layers.MaxPooling2D(2, name="pool"))
    image = image_for(model)
    with pytest.raises(ValueError, match="Expected a channels-last Conv2D layer. Received: pool"):
        conv_step(model, "pool", image, 0, 0, 0)
    with pytest.raises(ValueError, match="Expected a channels-last MaxPooling2D or AveragePooling2D"):
        pool_step(model, "pre", image, 0, 0, 0)
    with pytest.raises(ValueError, match=r"Expected row in \[0, 4\). Received: row=4"):
        pool_step(model, "pool", image, 0, 4, 0)
    with pytest.raises(ValueError, match=r"Expected channel in \[0, 3\). Received: channel=-1"):
        conv_step(model, "pre", image, -1, 0, 0)
    with pytest.raises(ValueError, match=r"Expected an image of shape \(9, 9, 3\). Received: shape=\(1, 9, 9, 3\)"):
        conv_step(model, "pre", image[None], 0, 0, 0)
    dilated = model_around(keras.layers.Conv2D(2, 3, dilation_rate=2, name="conv"))
    with pytest.raises(ValueError, match="dilation_rate"):
        conv_step(dilated, "conv", image, 0, 0, 0)


def test_the_model_is_unchanged_and_its_cache_dropped(shipped):
    image = np.random.default_rng(5).random((32, 32, 3), dtype=np.float32)
    weights = [w.copy() for w in shipped.get_weights()]
    output = np.asarray(shipped(image[None], training=False))
    names = [layer.name for layer in shipped.layers]
    conv_step(shipped, "conv1", image, 0, 0, 0)
    preactivation_maps(shipped, "conv3", image)
    pool_step(shipped, "maxpool2", image, 3, 7, 7)
    step = conv_step(shipped, "conv1", image, 0, 31, 31)
    step["kernel"][...] = 0  # scribbling on a result must not reach the model
    for before, after in zip(weights, shipped.get_weights()):
        np.testing.assert_array_equal(before, after)
    np.testing.assert_array_equal(output, np.asarray(shipped(image[None], training=False)))
    assert [layer.name for layer in shipped.layers] == names and len(shipped.outputs) == 1

    model = model_around(keras.layers.MaxPooling2D(2, name="pool"))
    pool_step(model, "pool", image_for(model), 0, 0, 0)
    probe = weakref.ref(next(iter(arithmetic._PROBES[model].values())))
    del model
    for _ in range(3):  # the model goes in one collection, its cache entry (a cycle itself) in the next
        gc.collect()
    assert probe() is None, "the cached sub-models must not outlive their model"


@pytest.mark.parametrize("channels, kernel, strides, padding, activation", CONV_CASES)
def test_window_spec_places_the_conv_window_as_tensorflow_does(channels, kernel, strides, padding, activation):
    conv = keras.layers.Conv2D(3, kernel, strides=strides, padding=padding, activation=activation, name="conv")
    model = model_around(conv, channels)
    image = image_for(model)
    spec = arithmetic.window_spec(model, "conv")
    layer_in, layer_out = real(model, conv.input, image), real(model, conv.output, image)
    assert spec.in_shape == layer_in.shape and spec.out_shape == layer_out.shape
    assert spec.size == tuple(conv.kernel_size) and spec.stride == tuple(conv.strides)
    for r, c in positions(*layer_out.shape[:2]):
        step = conv_step(model, "conv", image, 0, r, c)
        assert spec.origin(r, c) == (step["top"], step["left"])
        # a click on the centre of a window picks that window's output
        top, left = spec.origin(r, c)
        centre = top + (spec.size[0] - 1) / 2, left + (spec.size[1] - 1) / 2
        assert spec.position_at(*centre) == (r, c)
    # clicks outside the output's reach are clamped to the nearest output position
    assert spec.position_at(-50, -50) == (0, 0)
    assert spec.position_at(500, 500) == (layer_out.shape[0] - 1, layer_out.shape[1] - 1)


@pytest.mark.parametrize("pool_class, size, strides, padding", POOL_CASES)
def test_window_spec_places_the_pool_window_as_keras_does(pool_class, size, strides, padding):
    pool = pool_class(size, strides=strides, padding=padding, name="pool")
    model = model_around(pool)
    image = image_for(model)
    spec = arithmetic.window_spec(model, "pool")
    assert spec.out_shape == real(model, pool.output, image).shape
    for r, c in positions(*spec.out_shape[:2]):
        assert spec.origin(r, c) == (lambda s: (s["top"], s["left"]))(pool_step(model, "pool", image, 1, r, c))


@pytest.mark.parametrize("background", [0.0, 1.0])
def test_busiest_position_starts_on_the_content(background):
    conv = keras.layers.Conv2D(2, 3, padding="same", name="conv")
    model = model_around(conv, channels=1, pre=False)
    spec = arithmetic.window_spec(model, "conv")
    image = np.full((SIDE, SIDE, 1), background, np.float32)
    image[6:9, 0:3] = 1.0 - background  # a blob in the bottom-left corner, dark or light on its background
    r, c = arithmetic.busiest_position(image, spec)
    top, left = spec.origin(r, c)
    assert (top, left) == (6, 0)  # the window covers the whole blob, none of it padding
    # brute force over every output position: no window holds more of the blob
    content = np.abs(image[..., 0] - background)
    sums = [content[max(t, 0):t + 3, max(lf, 0):lf + 3].sum()
            for t, lf in (spec.origin(i, j) for i in range(SIDE) for j in range(SIDE))]
    assert content[top:top + 3, left:left + 3].sum() == max(sums)
    # a blank input starts in the middle, not on the padding in a corner
    assert arithmetic.busiest_position(np.zeros((SIDE, SIDE, 1), np.float32), spec) == (4, 4)
    with pytest.raises(ValueError, match=r"height and width \(9, 9\)"):
        arithmetic.busiest_position(np.zeros((8, 8, 1)), spec)

"""core.introspection and core.tiles, checked against Keras layers and NumPy references.

The fixture models are tiny (8x8x3 input) with named layers and random, non-zero biases,
so every number can be recomputed by hand.
"""

from __future__ import annotations

import gc
import weakref

import keras
import numpy as np
import pytest

from core import introspection, tiles
from core.introspection import activations, class_probabilities, conv_filters, conv_layers, top_k, visual_layers
from core.storage import load_model, save_model

INPUT_SHAPE = (8, 8, 3)
# name -> activation shape for one image
EXPECTED_SHAPES = {
    "conv_a": (6, 6, 4),  # 3x3 'valid'
    "pool_a": (3, 3, 4),  # 2x2 max
    "conv_b": (3, 3, 5),  # 3x3 'same'
    "pool_b": (1, 1, 5),  # 2x2 average of a 3x3 map: the last row and column are dropped
    "flatten": (5,),
    "predictions": (3,),
}


def tiny_layers():
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
    inputs = keras.Input(INPUT_SHAPE, name="image")
    x = inputs
    for layer in tiny_layers():
        x = layer(x)
    return randomise(keras.Model(inputs, x, name="tiny_functional"))


def sequential_model():
    return randomise(keras.Sequential([keras.Input(INPUT_SHAPE), *tiny_layers()], name="tiny_sequential"))


@pytest.fixture(params=["functional", "sequential", "functional_reloaded"])
def tiny_model(request, tmp_path):
    if request.param == "sequential":
        return sequential_model()
    model = functional_model()
    if request.param == "functional_reloaded":
        save_model(model, {"name": "tiny"}, tmp_path / "tiny")
        model, meta = load_model(tmp_path / "tiny")
        assert meta == {"name": "tiny"}
    return model


@pytest.fixture
def image():
    return np.random.default_rng(1).random(INPUT_SHAPE, dtype=np.float32)


# --- NumPy references --------------------------------------------------------------------

def conv2d_reference(x, kernel, bias, padding):
    """Cross-correlation (what Conv2D computes), stride 1, odd square kernel, then ReLU."""
    kh, kw, cin, cout = kernel.shape
    x = x.astype(np.float64)
    if padding == "same":
        x = np.pad(x, ((kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    out_h, out_w = x.shape[0] - kh + 1, x.shape[1] - kw + 1
    out = np.zeros((out_h, out_w, cout))
    for i in range(out_h):
        for j in range(out_w):
            window = x[i:i + kh, j:j + kw, :]  # (kh, kw, cin)
            for o in range(cout):
                out[i, j, o] = np.sum(window * kernel[..., o]) + bias[o]
    return np.maximum(out, 0.0)


def pool2d_reference(x, size, reduce):
    h, w, c = x.shape
    oh, ow = h // size, w // size
    windows = x[: oh * size, : ow * size].reshape(oh, size, ow, size, c)
    return reduce(windows, axis=(1, 3))


# --- activations -------------------------------------------------------------------------

def test_activations_cover_every_layer_in_order(tiny_model, image):
    acts = activations(tiny_model, image)
    assert list(acts) == list(EXPECTED_SHAPES)
    for name, shape in EXPECTED_SHAPES.items():
        assert acts[name].shape == shape, name
        assert acts[name].dtype == np.float32


def test_each_activation_equals_keras_sub_model(tiny_model, image):
    acts = activations(tiny_model, image)
    for name in EXPECTED_SHAPES:
        layer = tiny_model.get_layer(name)
        reference = keras.Model(tiny_model.inputs, layer.output)([image[None]], training=False)
        np.testing.assert_allclose(acts[name], np.asarray(reference)[0], rtol=1e-5, atol=1e-6, err_msg=name)


def test_conv_activations_equal_numpy_convolution(tiny_model, image):
    acts = activations(tiny_model, image)
    kernel_a, bias_a = conv_filters(tiny_model, "conv_a")
    np.testing.assert_allclose(acts["conv_a"], conv2d_reference(image, kernel_a, bias_a, "valid"), atol=1e-5)
    kernel_b, bias_b = conv_filters(tiny_model, "conv_b")
    np.testing.assert_allclose(acts["conv_b"], conv2d_reference(acts["pool_a"], kernel_b, bias_b, "same"), atol=1e-5)
    # The test means something only if the ReLU both passes and cuts values.
    assert (acts["conv_a"] > 0).any() and (acts["conv_a"] == 0).any()


def test_pooling_activations_equal_numpy_pooling(tiny_model, image):
    acts = activations(tiny_model, image)
    np.testing.assert_allclose(acts["pool_a"], pool2d_reference(acts["conv_a"], 2, np.max), atol=1e-6)
    np.testing.assert_allclose(acts["pool_b"], pool2d_reference(acts["conv_b"], 2, np.mean), atol=1e-6)
    np.testing.assert_allclose(acts["flatten"], acts["pool_b"].reshape(-1), atol=0)


def test_class_probabilities_equal_model_output(tiny_model, image):
    probs = class_probabilities(tiny_model, image)
    assert probs.shape == (3,)
    np.testing.assert_allclose(probs, np.asarray(tiny_model(image[None], training=False))[0], rtol=1e-5, atol=1e-7)
    assert probs.sum() == pytest.approx(1.0, abs=1e-5)
    # And the dense layer by hand: softmax(flatten @ W + b).
    acts = activations(tiny_model, image)
    w, b = tiny_model.get_layer("predictions").get_weights()
    logits = acts["flatten"].astype(np.float64) @ w + b
    np.testing.assert_allclose(probs, np.exp(logits) / np.exp(logits).sum(), atol=1e-6)


def test_introspection_leaves_the_model_unchanged(tiny_model, image):
    weights_before = [w.copy() for w in tiny_model.get_weights()]
    output_before = np.asarray(tiny_model(image[None], training=False))
    layer_names = [layer.name for layer in tiny_model.layers]
    activations(tiny_model, image)
    class_probabilities(tiny_model, image)
    kernel, bias = conv_filters(tiny_model, "conv_a")
    kernel[...] = 0.0  # a caller scribbling on the returned arrays must not reach the model
    bias[...] = 0.0
    for before, after in zip(weights_before, tiny_model.get_weights()):
        np.testing.assert_array_equal(before, after)
    np.testing.assert_array_equal(output_before, np.asarray(tiny_model(image[None], training=False)))
    assert [layer.name for layer in tiny_model.layers] == layer_names
    assert len(tiny_model.outputs) == 1


def test_activations_follow_weight_changes(image):
    # The extractor is cached per model; it must read the live weights, not a snapshot.
    model = functional_model()
    before = activations(model, image)["conv_a"]
    randomise(model, seed=5)
    after = activations(model, image)["conv_a"]
    kernel, bias = conv_filters(model, "conv_a")
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, conv2d_reference(image, kernel, bias, "valid"), atol=1e-5)


def test_inference_mode_for_dropout_and_batch_norm(image):
    inputs = keras.Input(INPUT_SHAPE)
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Dropout(0.9, name="drop")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    model = randomise(keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="out")(x)))
    first = activations(model, image)
    second = activations(model, image)
    np.testing.assert_array_equal(first["drop"], second["drop"])
    np.testing.assert_allclose(first["drop"], first["bn"])  # dropout is the identity at inference
    np.testing.assert_allclose(first["out"], np.asarray(model(image[None], training=False))[0], rtol=1e-5)


def test_wrong_image_shape_raises(image):
    model = functional_model()
    with pytest.raises(ValueError, match="shape"):
        activations(model, image[None])  # a batch, not one image
    with pytest.raises(ValueError, match="shape"):
        activations(model, np.zeros((8, 8, 1), np.float32))


def test_extractor_cache_is_reused_and_dropped_with_model(image):
    model = functional_model()
    extractor = introspection.get_extractor(model)
    assert introspection.get_extractor(model) is extractor
    extractor_ref = weakref.ref(extractor)
    del model, extractor
    gc.collect()
    assert extractor_ref() is None, "the cached extractor must not outlive its model"


# --- filters and layer lists -------------------------------------------------------------

def test_conv_filters_match_layer_weights(tiny_model):
    for name, shape in (("conv_a", (3, 3, 3, 4)), ("conv_b", (3, 3, 4, 5))):
        kernel, bias = conv_filters(tiny_model, name)
        weights = tiny_model.get_layer(name).get_weights()
        assert kernel.shape == shape and bias.shape == (shape[-1],)
        np.testing.assert_array_equal(kernel, weights[0])
        np.testing.assert_array_equal(bias, weights[1])
    with pytest.raises(ValueError, match="Conv2D"):
        conv_filters(tiny_model, "predictions")


def test_conv_and_visual_layer_lists(tiny_model):
    assert [layer.name for layer in conv_layers(tiny_model)] == ["conv_a", "conv_b"]
    assert [layer.name for layer in visual_layers(tiny_model)] == ["conv_a", "pool_a", "conv_b", "pool_b"]


def test_top_k():
    assert top_k(np.array([0.1, 0.6, 0.3]), ["a", "b", "c"], k=2) == [("b", pytest.approx(0.6)), ("c", pytest.approx(0.3))]


# --- tiles -------------------------------------------------------------------------------
# The layout (columns, gaps, exact enlargement) is the page designer's choice, so these tests
# do not fix it: they find the whole-number enlargement (about tile_px) and the gap that make
# the picture a row-major grid of equal tiles, then check that every tile sits where it
# should and shows what it should.

def split_grid(image, tile_h, tile_w, n, cols=None):
    """The n tiles of a row-major grid with equal gaps, as (cols, pad, [tiles])."""
    height, width = image.shape[:2]
    for pad in range(0, 33):
        if (width + pad) % (tile_w + pad) or (height + pad) % (tile_h + pad):
            continue
        found_cols, rows = (width + pad) // (tile_w + pad), (height + pad) // (tile_h + pad)
        if (cols is not None and found_cols != cols) or found_cols > n or rows != -(-n // found_cols):
            continue
        cells = [image[r * (tile_h + pad): r * (tile_h + pad) + tile_h, c * (tile_w + pad): c * (tile_w + pad) + tile_w]
                 for r, c in (divmod(i, found_cols) for i in range(n))]
        return found_cols, pad, cells
    raise AssertionError(f"{image.shape} is not a grid of {n} tiles of {tile_h}x{tile_w}")


def find_grid(image, side, n, tile_px, cols=None):
    """(factor, cols, pad, tiles) for n square maps of ``side`` px enlarged to about ``tile_px``."""
    candidates = sorted({max(1, -(-tile_px // side)), max(1, round(tile_px / side)), max(1, tile_px // side)})
    for factor in candidates:
        try:
            return (factor, *split_grid(image, side * factor, side * factor, n, cols))
        except AssertionError:
            continue
    raise AssertionError(f"{image.shape} is not a grid of {n} tiles of {side} px enlarged to about {tile_px} px")


def enlarge(image, factor):
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def test_feature_map_grid_size_and_content():
    maps = np.random.default_rng(0).random((6, 6, 5), dtype=np.float32)
    out = tiles.feature_map_grid(maps, cmap="gray", cols=3, tile_px=64)
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[-1] == 3
    factor, cols, pad, cells = find_grid(out, 6, 5, tile_px=64, cols=3)
    t = 6 * factor  # 66 px today: ceil(64 / 6) = 11
    assert out.shape[:2] == (2 * t + pad, 3 * t + 2 * pad)
    for c, cell in enumerate(cells):
        np.testing.assert_array_equal(cell, enlarge(tiles.colorize(maps[..., c], "gray"), factor), err_msg=f"channel {c}")
    if pad:
        assert (out[t:t + pad] == 255).all()  # the gap between the rows
    assert (out[t + pad:, 2 * (t + pad):] == 255).all()  # the empty sixth cell

    # max_channels draws fewer maps; the default layout still holds every one of them.
    assert len(find_grid(tiles.feature_map_grid(maps, max_channels=2, tile_px=64), 6, 2, 64)[3]) == 2
    many = tiles.feature_map_grid(np.random.default_rng(1).random((4, 4, 40), dtype=np.float32), tile_px=16)
    assert len(find_grid(many, 4, 40, 16)[3]) == 40


@pytest.mark.parametrize("cmap", ["viridis", "gray"])
@pytest.mark.parametrize("normalise", ["channel", "layer"])
def test_feature_map_grid_is_each_map_coloured_alone(cmap, normalise):
    # the whole-layer arithmetic gives exactly the tiles of colorize + upscale on each channel
    rng = np.random.default_rng(3)
    maps = (rng.normal(size=(7, 9, 12)) * 40).astype(np.float32)
    maps[..., 4] = 2.5  # a flat map: all one colour
    lo, hi = (None, None) if normalise == "channel" else (float(maps.min()), float(maps.max()))
    factor = tiles._scale_for(9, 32)
    expected = tiles.grid(np.stack([tiles.upscale(tiles.colorize(maps[..., c], cmap, lo, hi), factor)
                                    for c in range(12)]), 8)
    np.testing.assert_array_equal(tiles.feature_map_grid(maps, cmap, normalise, tile_px=32), expected)


def test_feature_map_grid_layer_normalisation_shows_strength():
    maps = np.stack([np.full((4, 4), 1.0), np.full((4, 4), 3.0)], axis=-1).astype(np.float32)
    per_layer = tiles.feature_map_grid(maps, cmap="gray", normalise="layer", cols=2, tile_px=4)
    _, _, _, (weak, strong) = find_grid(per_layer, 4, 2, 4, cols=2)
    assert (weak == 0).all() and (strong == 255).all()
    per_channel = tiles.feature_map_grid(maps, cmap="gray", normalise="channel", cols=2, tile_px=4)
    _, _, _, (a, b) = find_grid(per_channel, 4, 2, 4, cols=2)
    np.testing.assert_array_equal(a, b)  # each flat map stretched to its own (empty) range


def test_filter_grid_rgb_tiles():
    kernel = np.random.default_rng(0).normal(size=(3, 3, 3, 8)).astype(np.float32)
    out = tiles.filter_grid(kernel, tile_px=48)
    assert out.dtype == np.uint8 and out.shape[-1] == 3
    # One colour tile per filter, its weights min..max onto 0..255.
    factor, _, _, cells = find_grid(out, 3, 8, 48)
    for f, cell in enumerate(cells):
        k = kernel[..., f]
        expected = ((k - k.min()) / (k.max() - k.min()) * 255 + 0.5).astype(np.uint8)
        np.testing.assert_array_equal(cell, enlarge(expected, factor), err_msg=f"filter {f}")
    assert len(find_grid(tiles.filter_grid(kernel, tile_px=48, max_filters=3), 3, 3, 48)[3]) == 3


def test_filter_grid_per_channel_rows():
    kernel = np.random.default_rng(0).normal(size=(3, 3, 4, 5)).astype(np.float32)
    out = tiles.filter_grid(kernel, tile_px=48)
    # One row per filter, one column per input channel.
    factor, cols, _, cells = find_grid(out, 3, 20, 48, cols=4)
    for i, cell in enumerate(cells):
        f, c = divmod(i, 4)
        expected = tiles.diverging(kernel[:, :, c, f], np.abs(kernel[..., f]).max())
        np.testing.assert_array_equal(cell, enlarge(expected, factor), err_msg=f"filter {f}, input {c}")
    assert find_grid(tiles.filter_grid(kernel, tile_px=48, max_inputs=2), 3, 10, 48, cols=2)[1] == 2

    signed = np.zeros((3, 3, 1, 1), np.float32)
    signed[0, 0, 0, 0], signed[2, 2, 0, 0] = 1.0, -1.0
    tile = tiles.filter_grid(signed, tile_px=3)
    assert tile.shape == (3, 3, 3)
    red, blue = tile[0, 0].astype(int), tile[2, 2].astype(int)
    assert red[0] > red[2] and blue[2] > blue[0]  # positive red, negative blue
    assert (tile[1, 1] > 240).all()  # zero weight is white


def test_colorize_gray_ramp_is_monotonic():
    ramp = np.linspace(-2.0, 5.0, 300, dtype=np.float32).reshape(1, -1)
    rgb = tiles.colorize(ramp, "gray")
    assert rgb.shape == (1, 300, 3) and rgb.dtype == np.uint8
    grey = rgb[0, :, 0].astype(int)
    assert (np.diff(grey) >= 0).all()
    assert grey[0] == 0 and grey[-1] == 255
    assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()
    viridis = tiles.colorize(ramp, "viridis")
    assert viridis.shape == (1, 300, 3) and not (viridis[0, 0] == viridis[0, -1]).all()


def test_tiles_reject_bad_input():
    with pytest.raises(ValueError, match="height, width, channels"):
        tiles.feature_map_grid(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="kh, kw, in, out"):
        tiles.filter_grid(np.zeros((3, 3, 3)))
    with pytest.raises(ValueError, match="colour map"):
        tiles.colorize(np.zeros((2, 2)), "jet")

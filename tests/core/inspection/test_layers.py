"""core.inspection.layers: every layer's activations, conv filters and layer lists, against Keras and NumPy.

The fixture models (``tests/inspection_models.py``) are tiny (8x8x3 input) with named layers and
random, non-zero biases, so every number can be recomputed by hand.
"""

from __future__ import annotations

import gc
import weakref

import keras
import numpy as np
import pytest

from core.inspection import layers as introspection
from core.inspection.layers import activations, conv_filters, conv_layers, visual_layers
from core.inspection.predict import class_probabilities
from inspection_models import INPUT_SHAPE, functional_model, randomise

# name -> activation shape for one image
EXPECTED_SHAPES = {
    "conv_a": (6, 6, 4),  # 3x3 'valid'
    "pool_a": (3, 3, 4),  # 2x2 max
    "conv_b": (3, 3, 5),  # 3x3 'same'
    "pool_b": (1, 1, 5),  # 2x2 average of a 3x3 map: the last row and column are dropped
    "flatten": (5,),
    "predictions": (3,),
}


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


def test_activations_cover_every_layer_in_order(model_of_each_kind, image):
    acts = activations(model_of_each_kind, image)
    assert list(acts) == list(EXPECTED_SHAPES)
    for name, shape in EXPECTED_SHAPES.items():
        assert acts[name].shape == shape, name
        assert acts[name].dtype == np.float32


def test_each_activation_equals_keras_sub_model(model_of_each_kind, image):
    acts = activations(model_of_each_kind, image)
    for name in EXPECTED_SHAPES:
        layer = model_of_each_kind.get_layer(name)
        reference = keras.Model(model_of_each_kind.inputs, layer.output)([image[None]], training=False)
        np.testing.assert_allclose(acts[name], np.asarray(reference)[0], rtol=1e-5, atol=1e-6, err_msg=name)


def test_conv_activations_equal_numpy_convolution(model_of_each_kind, image):
    acts = activations(model_of_each_kind, image)
    kernel_a, bias_a = conv_filters(model_of_each_kind, "conv_a")
    np.testing.assert_allclose(acts["conv_a"], conv2d_reference(image, kernel_a, bias_a, "valid"), atol=1e-5)
    kernel_b, bias_b = conv_filters(model_of_each_kind, "conv_b")
    np.testing.assert_allclose(acts["conv_b"], conv2d_reference(acts["pool_a"], kernel_b, bias_b, "same"), atol=1e-5)
    # The test means something only if the ReLU both passes and cuts values.
    assert (acts["conv_a"] > 0).any() and (acts["conv_a"] == 0).any()


def test_pooling_activations_equal_numpy_pooling(model_of_each_kind, image):
    acts = activations(model_of_each_kind, image)
    np.testing.assert_allclose(acts["pool_a"], pool2d_reference(acts["conv_a"], 2, np.max), atol=1e-6)
    np.testing.assert_allclose(acts["pool_b"], pool2d_reference(acts["conv_b"], 2, np.mean), atol=1e-6)
    np.testing.assert_allclose(acts["flatten"], acts["pool_b"].reshape(-1), atol=0)


def test_introspection_leaves_the_model_unchanged(model_of_each_kind, image):
    weights_before = [w.copy() for w in model_of_each_kind.get_weights()]
    output_before = np.asarray(model_of_each_kind(image[None], training=False))
    layer_names = [layer.name for layer in model_of_each_kind.layers]
    activations(model_of_each_kind, image)
    class_probabilities(model_of_each_kind, image)
    kernel, bias = conv_filters(model_of_each_kind, "conv_a")
    kernel[...] = 0.0  # a caller scribbling on the returned arrays must not reach the model
    bias[...] = 0.0
    for before, after in zip(weights_before, model_of_each_kind.get_weights()):
        np.testing.assert_array_equal(before, after)
    np.testing.assert_array_equal(output_before, np.asarray(model_of_each_kind(image[None], training=False)))
    assert [layer.name for layer in model_of_each_kind.layers] == layer_names
    assert len(model_of_each_kind.outputs) == 1


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


def test_conv_filters_match_layer_weights(model_of_each_kind):
    for name, shape in (("conv_a", (3, 3, 3, 4)), ("conv_b", (3, 3, 4, 5))):
        kernel, bias = conv_filters(model_of_each_kind, name)
        weights = model_of_each_kind.get_layer(name).get_weights()
        assert kernel.shape == shape and bias.shape == (shape[-1],)
        np.testing.assert_array_equal(kernel, weights[0])
        np.testing.assert_array_equal(bias, weights[1])
    with pytest.raises(ValueError, match="Conv2D"):
        conv_filters(model_of_each_kind, "predictions")


def test_conv_and_visual_layer_lists(model_of_each_kind):
    assert [layer.name for layer in conv_layers(model_of_each_kind)] == ["conv_a", "conv_b"]
    assert [layer.name for layer in visual_layers(model_of_each_kind)] == ["conv_a", "pool_a", "conv_b", "pool_b"]


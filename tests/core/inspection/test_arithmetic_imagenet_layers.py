"""core.inspection.arithmetic_layers: depthwise and pointwise convolution and batch norm, checked against Keras.

Every variant of a kind is one branch of one small model built once per module (an 8×8 input,
so 'same' with stride 2 pads one row after and none before, as TensorFlow does), with random
weights, biases and batch-norm statistics: a wrong channel, a wrong padding side or a missing
bias cannot hide behind zeros and ones. A real MobileNetV2 (weights=None: nothing downloads)
checks one layer of each kind as keras.applications builds it.
"""

from __future__ import annotations

import itertools
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from core.inspection import arithmetic
from core.inspection.arithmetic import conv_step, window_maps, window_spec
from core.inspection.arithmetic_layers import batchnorm_maps, batchnorm_step, depthwise_step, describe, \
    input_channel_of, largest_terms, step_kind, step_layers, unexplained_layers

SIDE, CHANNELS = 8, 3
TOL = {"rtol": 1e-5, "atol": 1e-5}

DEPTHWISE = [dict(strides=s, padding=p, use_bias=b, depth_multiplier=m)
             for s, p, b, m in itertools.product((1, 2), ("same", "valid"), (True, False), (1, 2))]
POINTWISE = [dict(strides=s, padding=p, use_bias=b) for s, p, b in itertools.product((1, 2), ("same", "valid"),
                                                                                     (True, False))]
BATCHNORM = [dict(center=c, scale=s) for c, s in itertools.product((True, False), (True, False))]


def name_of(prefix: str, config: dict) -> str:
    return prefix + "_" + "_".join(f"{k}{int(v) if isinstance(v, bool) else v}" for k, v in config.items())


def randomise(model, seed=0):
    """Random weights everywhere; batch-norm variances positive and away from 0, as trained ones are."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            size = layer.moving_variance.shape
            layer.moving_mean.assign(rng.normal(0.3, 1.0, size).astype(np.float32))
            layer.moving_variance.assign(rng.uniform(0.05, 3.0, size).astype(np.float32))
    return model


def real(model, tensor, image):
    return np.asarray(keras.Model(model.inputs[0], tensor)(image[None], training=False))[0]


def positions(out_h, out_w):
    """Corners, borders and the middle."""
    return sorted({(r, c) for r in (0, out_h // 2, out_h - 1) for c in (0, 1, out_w // 2, out_w - 1) if c < out_w})


@pytest.fixture(scope="module")
def branches():
    """Input -> Conv2D "pre" -> every variant side by side (its input a computed map, not the image)."""
    inputs = keras.Input((SIDE, SIDE, CHANNELS), name="image")
    x = keras.layers.Conv2D(CHANNELS, 3, padding="same", activation="relu", name="pre")(inputs)
    outputs = []
    for config in DEPTHWISE:  # with a depth multiplier, a ReLU too: the activation is applied after the bias
        act = "relu" if config["depth_multiplier"] == 2 else None
        outputs.append(keras.layers.DepthwiseConv2D(3, activation=act, name=name_of("dw", config), **config)(x))
    for config in POINTWISE:
        outputs.append(keras.layers.Conv2D(4, 1, name=name_of("pw", config), **config)(x))
    for config in BATCHNORM:
        outputs.append(keras.layers.BatchNormalization(epsilon=0.01, name=name_of("bn", config), **config)(x))
    outputs.append(keras.layers.Add(name="add")([x, x]))
    model = randomise(keras.Model(inputs, outputs))
    image = np.random.default_rng(1).random((SIDE, SIDE, CHANNELS), dtype=np.float32)
    return model, image


@pytest.mark.parametrize("config", DEPTHWISE, ids=[name_of("dw", c) for c in DEPTHWISE])
def test_depthwise_step_equals_the_real_layer(branches, config):
    model, image = branches
    name = name_of("dw", config)
    layer = model.get_layer(name)
    layer_in, layer_out = real(model, layer.input, image), real(model, layer.output, image)
    m, (sh, sw) = config["depth_multiplier"], layer.strides
    assert layer_out.shape[-1] == CHANNELS * m
    # TensorFlow's own patches, padded by its own rule: an independent reference for each window
    patches = np.asarray(tf.image.extract_patches(layer_in[None], [1, 3, 3, 1], [1, sh, sw, 1], [1, 1, 1, 1],
                                                  config["padding"].upper()))[0].reshape(*layer_out.shape[:2], 3, 3,
                                                                                         CHANNELS)
    kernel_all = layer.get_weights()[0]
    for r, c in positions(*layer_out.shape[:2]):
        for ch in range(CHANNELS * m):
            step = depthwise_step(model, name, image, ch, r, c)
            assert (step["in_channel"], step["multiplier_index"]) == divmod(ch, m)  # output c*m+k reads input c
            assert input_channel_of(model, name, ch) == ch // m
            np.testing.assert_array_equal(step["patch"], patches[r, c, :, :, ch // m])
            np.testing.assert_array_equal(step["kernel"], kernel_all[:, :, ch // m, ch % m])
            assert step["products"].sum() + step["bias"] == pytest.approx(step["preactivation"], abs=1e-12)
            assert (step["bias"] != 0) == config["use_bias"]
            assert step["layer_output"] == layer_out[r, c, ch]
            np.testing.assert_allclose(step["postactivation"], layer_out[r, c, ch], **TOL)
            assert (step["patch"][~step["valid"]] == 0).all()
    if config["padding"] == "same" and config["strides"] == 2:
        # 8 rows, stride 2, 3×3: pad_total 1, all of it after; the first window starts on the input
        first, last = depthwise_step(model, name, image, 0, 0, 0), depthwise_step(model, name, image, 0, 3, 3)
        assert (first["top"], first["left"]) == (0, 0) and first["valid"].all()
        assert not last["valid"][-1].any() and last["valid"][:2, :2].all()
    spec = window_spec(model, name)
    assert spec.size == (3, 3) and spec.out_shape == layer_out.shape
    np.testing.assert_array_equal(window_maps(model, name, image)[1], layer_out)


@pytest.mark.parametrize("config", POINTWISE, ids=[name_of("pw", c) for c in POINTWISE])
def test_pointwise_step_is_a_sum_over_the_input_channels_at_one_pixel(branches, config):
    model, image = branches
    name = name_of("pw", config)
    layer = model.get_layer(name)
    layer_in, layer_out = real(model, layer.input, image), real(model, layer.output, image)
    kernel, bias = layer.get_weights()[0][0, 0], (layer.get_weights()[1] if config["use_bias"] else np.zeros(4))
    s = config["strides"]
    assert step_kind(layer) == "pointwise" and describe(layer).startswith("pointwise conv 1×1")
    for r, c in positions(*layer_out.shape[:2]):
        for ch in range(4):
            step = conv_step(model, name, image, ch, r, c)
            assert step["pointwise"] and step["valid"].all()
            pixel = layer_in[r * s, c * s]  # a 1×1 window needs no padding, 'same' or 'valid'
            np.testing.assert_array_equal(step["patch"][0, 0], pixel)
            expected = float(np.dot(pixel.astype(np.float64), kernel[:, ch].astype(np.float64)) + bias[ch])
            assert step["preactivation"] == pytest.approx(expected, abs=1e-9)
            np.testing.assert_allclose(step["postactivation"], layer_out[r, c, ch], **TOL)
            terms = largest_terms(step, n=2)
            assert list(terms["channels"]) == sorted(range(CHANNELS), key=lambda i: -abs(step["products"][0, 0, i]))[:2]
            assert terms["products"].sum() + terms["rest_sum"] == pytest.approx(step["sum"], abs=1e-12)
            assert terms["positive_sum"] + terms["negative_sum"] == pytest.approx(step["sum"], abs=1e-12)


def test_pointwise_over_many_channels_is_fast_and_sums_them_all():
    inputs = keras.Input((4, 4, 600))
    model = randomise(keras.Model(inputs, keras.layers.Conv2D(8, 1, name="pw")(inputs)))
    image = np.random.default_rng(2).normal(size=(4, 4, 600)).astype(np.float32)
    out = real(model, model.get_layer("pw").output, image)
    conv_step(model, "pw", image, 0, 0, 0)  # the sub-model is built once
    start = time.perf_counter()
    step = conv_step(model, "pw", image, 5, 2, 3)
    terms = largest_terms(step)
    assert time.perf_counter() - start < 0.5
    np.testing.assert_allclose(step["postactivation"], out[2, 3, 5], **TOL)
    assert terms["count"] == 600 and len(terms["channels"]) == 8 and terms["rest_count"] == 592
    assert np.all(np.diff(np.abs(terms["products"])) <= 0)
    assert terms["products"].sum() + terms["rest_sum"] + step["bias"] == pytest.approx(step["preactivation"], abs=1e-9)
    assert terms["positive_count"] + terms["negative_count"] == 600
    with pytest.raises(ValueError, match=r"Expected the step of a 1×1 convolution. Received: products of shape"):
        largest_terms({"products": np.zeros((3, 3, 2))})


@pytest.mark.parametrize("config", BATCHNORM, ids=[name_of("bn", c) for c in BATCHNORM])
def test_batchnorm_step_equals_the_real_layer_in_inference_mode(branches, config):
    model, image = branches
    name = name_of("bn", config)
    layer = model.get_layer(name)
    layer_in, layer_out = batchnorm_maps(model, name, image)
    np.testing.assert_array_equal(layer_out, real(model, layer.output, image))
    gamma = layer.gamma.numpy() if config["scale"] else np.ones(CHANNELS)
    beta = layer.beta.numpy() if config["center"] else np.zeros(CHANNELS)
    for r, c in positions(SIDE, SIDE):
        for ch in range(CHANNELS):
            step = batchnorm_step(model, name, image, ch, r, c)
            assert step["x"] == layer_in[r, c, ch] and step["epsilon"] == pytest.approx(0.01)
            assert step["mean"] == layer.moving_mean.numpy()[ch]
            assert step["variance"] == layer.moving_variance.numpy()[ch]
            assert (step["gamma"], step["beta"]) == (pytest.approx(gamma[ch]), pytest.approx(beta[ch]))
            assert (step["scale"], step["center"]) == (config["scale"], config["center"])
            np.testing.assert_allclose(step["value"], layer_out[r, c, ch], **TOL)
            assert step["layer_output"] == layer_out[r, c, ch]
            assert step["slope"] * step["x"] + step["offset"] == pytest.approx(step["value"], abs=1e-9)
    # the stored statistics, not this image's: a trained network normalizes every image alike
    assert abs(step["mean"]) > 0.01 and abs(step["variance"] - 1) > 0.01


def test_which_layers_step_by_step_explains(branches):
    model, image = branches
    kinds = step_layers(model)
    assert kinds["pre"] == "conv" and "add" not in kinds and "image" not in kinds
    assert {kinds[name_of("dw", c)] for c in DEPTHWISE} == {"depthwise"}
    assert {kinds[name_of("bn", c)] for c in BATCHNORM} == {"batchnorm"}
    assert unexplained_layers(model) == {"Add": 1}
    assert describe(model.get_layer(name_of("dw", DEPTHWISE[-1]))) == "depthwise 3×3, stride 2, 3 → 6 channels"
    assert describe(model.get_layer("pre")) == "conv 3×3, 3 → 3 channels"
    assert input_channel_of(model, "pre", 2) is None
    with pytest.raises(ValueError, match=r"Expected a layer Step by step explains. Received: add \(Add\)"):
        describe(model.get_layer("add"))
    with pytest.raises(ValueError, match=r"Expected a BatchNormalization over the channels .* Received: add \(Add\)"):
        batchnorm_step(model, "add", image, 0, 0, 0)
    with pytest.raises(ValueError, match=r"Expected a channels-last DepthwiseConv2D layer. Received: pre \(Conv2D\)"):
        depthwise_step(model, "pre", image, 0, 0, 0)
    with pytest.raises(ValueError, match=r"Expected channel in \[0, 6\). Received: channel=6"):
        depthwise_step(model, name_of("dw", DEPTHWISE[-1]), image, 6, 0, 0)
    # a BN over another axis, a dilated depthwise and a batch norm of flat features are left out, not explained wrongly
    inputs = keras.Input((6, 6, 2))
    odd = [keras.layers.BatchNormalization(axis=1, name="bn_rows")(inputs),
           keras.layers.DepthwiseConv2D(3, dilation_rate=2, name="dw_dilated")(inputs),
           keras.layers.BatchNormalization(name="bn_flat")(keras.layers.Flatten()(inputs))]
    assert step_layers(keras.Model(inputs, odd)) == {}


@pytest.fixture(scope="module")
def mobilenet():
    model = randomise(keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3)), seed=4)
    image = np.random.default_rng(5).uniform(-1, 1, (96, 96, 3)).astype(np.float32)
    return model, image


def test_mobilenet_v2_layers_of_each_kind(mobilenet):
    model, image = mobilenet
    kinds = step_layers(model)
    assert list(kinds.values()).count("depthwise") == 17 and list(kinds.values()).count("batchnorm") == 52
    assert {"Add", "ReLU", "ZeroPadding2D", "GlobalAveragePooling2D", "Dense"} == set(unexplained_layers(model))
    assert all(describe(model.get_layer(name)) for name in kinds)
    cases = {"Conv1": conv_step,  # 3×3, stride 2, 'same' on 96 rows: one row of padding, after
             "block_1_depthwise": depthwise_step,  # stride 2 'valid' after a ZeroPadding2D
             "block_2_depthwise": depthwise_step,  # stride 1 'same'
             "block_1_project": conv_step,  # pointwise 96 -> 24
             "block_1_depthwise_BN": batchnorm_step}
    for name, step_of in cases.items():
        layer = model.get_layer(name)
        out = real(model, layer.output, image)
        for r, c in [(0, 0), (out.shape[0] - 1, out.shape[1] - 1), (out.shape[0] // 2, 3)]:
            for ch in (0, out.shape[-1] - 1):
                step = step_of(model, name, image, ch, r, c)
                shown = step["value"] if step_of is batchnorm_step else step["postactivation"]
                np.testing.assert_allclose(shown, out[r, c, ch], **TOL, err_msg=f"{name} at {(r, c, ch)}")
        # only the layers up to this one are run, not the 150 of the whole network
        probe = arithmetic._PROBES[model][name]
        assert len(probe.layers) < 25, (name, len(probe.layers))
    assert kinds["block_1_project"] == "pointwise"
    terms = largest_terms(conv_step(model, "block_1_project", image, 3, 5, 7))
    assert terms["count"] == 96 and terms["rest_count"] == 88


def test_one_run_of_the_sub_model_serves_every_value_of_a_layer_and_image(branches):
    model, image = branches
    name = name_of("dw", DEPTHWISE[0])
    depthwise_step(model, name, image, 0, 0, 0)
    probe, calls = arithmetic._PROBES[model][name], []
    arithmetic._PROBES[model][name] = lambda *args, **kwargs: calls.append(1) or probe(*args, **kwargs)
    try:
        for r in range(SIDE):
            depthwise_step(model, name, image, 1, r, 2)
        maps = window_maps(model, name, image)
        assert calls == []  # the same layer and image: the last run's maps
        maps[0][...] = 0  # a caller's edits do not reach the next caller
        assert window_maps(model, name, image)[0].any() and calls == []
        other = image[::-1].copy()
        np.testing.assert_allclose(depthwise_step(model, name, other, 1, 0, 2)["layer_output"],
                                   real(model, model.get_layer(name).output, other)[0, 2, 1], **TOL)
        assert calls == [1]
    finally:
        arithmetic._PROBES[model][name] = probe

"""Step by step on the layers of the ImageNet networks: depthwise, pointwise (576 input channels) and batch norm.

A small model in the session, built like a MobileNet block (with a hard-swish Activation and a
global pooling the page cannot explain), random weights and batch-norm statistics; each number
the page shows is checked against the Keras layer's own output for the page's image.
"""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest

from apptest_helpers import markdown_rows, open_page
from core.data import load_dataset
from core.storage.card import ModelCard
from ui.workspace import personal_user, workspace_for


def block_model():
    inputs = keras.Input((32, 32, 3), name="image")
    x = keras.layers.Conv2D(8, 3, padding="same", name="stem")(inputs)
    x = keras.layers.BatchNormalization(name="stem_bn")(x)
    x = keras.layers.ReLU(6.0, name="stem_relu")(x)
    x = keras.layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2, name="dw")(x)  # 16×16×16
    x = keras.layers.Conv2D(576, 1, name="expand")(x)
    x = keras.layers.Activation("hard_swish", name="expand_hswish")(x)
    x = keras.layers.Conv2D(12, 1, name="project")(x)  # pointwise, 576 -> 12
    x = keras.layers.BatchNormalization(center=False, name="project_bn")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    model = keras.Model(inputs, keras.layers.Dense(4, activation="softmax", name="predictions")(x))
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.3, w.shape).astype(np.float32) for w in model.get_weights()])
    for name in ("stem_bn", "project_bn"):
        bn = model.get_layer(name)
        bn.moving_mean.assign(rng.normal(0.2, 1, bn.moving_mean.shape).astype(np.float32))
        bn.moving_variance.assign(rng.uniform(0.2, 3, bn.moving_variance.shape).astype(np.float32))
    return model


def bold_numbers(text: str) -> list[float]:
    return [float(v) for v in re.findall(r"\*\*(-?\d+\.\d+)\*\*", text)]


def open_with_block_model():
    """The page with the block model current, the model, and the image the page shows (test image 0).

    One AppTest for every check: each test has its own workspace folder (tests/conftest.py), so a session
    cannot outlive its test.
    """
    at = open_page("pages/arithmetic.py")
    shipped = at.session_state["models"]["shipped:shapes_default"]
    card = ModelCard(name="mobile_block", class_names=list(shipped.card.class_names), input_shape=(32, 32, 3),
                     dataset=shipped.card.dataset)
    ws = workspace_for(personal_user())
    model = block_model()
    ws.set_current(ws.add_model(model, card).id)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at, model, load_dataset("shapes", card.dataset.options).x_test[0]


def real(model, name, image):
    return np.asarray(keras.Model(model.inputs[0], model.get_layer(name).output)(image[None], training=False))[0]


def checks(at) -> list[str]:
    return [m.value for m in at.markdown if "layer's own output" in m.value]


def choose(at, prefix: str, layer: str, channel: int, row: int, col: int):
    at.selectbox(key=f"{prefix}_layer").set_value(layer).run()
    for what, value in (("channel", channel), ("row", row), ("col", col)):
        at.number_input(key=f"{prefix}_{what}").set_value(value).run()
    assert not at.exception and not at.error, [e.value for e in at.exception] + [e.value for e in at.error]


def check_the_choice_offers_what_the_page_explains_and_names_the_rest(at, model, image):
    conv_box = at.selectbox(key="arith_conv_layer")
    assert conv_box.options == ["stem · conv 3×3, 3 → 8 channels", "dw · depthwise 3×3, stride 2, 8 → 16 channels",
                                "expand · pointwise conv 1×1, 16 → 576 channels",
                                "project · pointwise conv 1×1, 576 → 12 channels"]
    assert at.selectbox(key="arith_bn_layer").options == ["stem_bn · batch norm, 8 channels",
                                                          "project_bn · batch norm, 12 channels"]
    assert any("no pooling layer" in i.value for i in at.info)  # the global pooling is not offered
    note = next(c.value for c in at.caption if "Not step by step" in c.value)
    for kind in ("1 ReLU", "1 Activation", "1 GlobalAveragePooling2D", "1 Dense"):
        assert kind in note, note


def check_a_depthwise_value_reads_one_channel_and_matches_the_layer(at, model, image):
    choose(at, "arith_conv", "dw", 5, 15, 15)  # the last row and column: 'same' stride 2 pads after only
    out = real(model, "dw", image)
    (check,) = [c for c in checks(at) if "channel 5:" in c]
    assert check.endswith(":material/check_circle: the same]")
    total, pre, post, layer_output = bold_numbers(check)
    assert layer_output == pytest.approx(out[15, 15, 5], abs=1e-4) and post == pytest.approx(out[15, 15, 5], abs=1e-4)
    assert "Sum of the 9 products (input channel 2 only)" in check  # output 5 = 2 * 2 + 1 reads input channel 2
    grids = [h.proto.body for h in at.get("html")]
    assert any("depthwise filter 5 weights" in g for g in grids) and any("input patch (channel 2)" in g for g in grids)
    assert sum(g.count(">pad<") for g in grids if "input patch" in g) == 5  # the row and column after the input
    assert any("depth multiplier 2" in c.value for c in at.caption)


def check_a_pointwise_value_over_576_channels_shows_its_largest_terms(at, model, image):
    choose(at, "arith_conv", "project", 7, 4, 9)
    out = real(model, "project", image)
    (check,) = [c for c in checks(at) if "channel 7:" in c]
    assert check.endswith(":material/check_circle: the same]")
    assert "Sum of all 576 products, one per input channel" in check
    total, pre, post, layer_output = bold_numbers(check)
    assert post == pytest.approx(out[4, 9, 7], abs=1e-4) and layer_output == pytest.approx(out[4, 9, 7], abs=1e-4)
    assert any("mixes the channels at one pixel" in m.value and "row 4, column 9" in m.value for m in at.markdown)
    rows = markdown_rows(at, "input channel")
    assert len(rows) == 8  # the largest products in a table, not 576 widgets
    x = real(model, "expand_hswish", image)[4, 9]
    kernel = model.get_layer("project").get_weights()[0][0, 0, :, 7]
    products = x.astype(np.float64) * kernel
    assert [int(r["input channel"]) for r in rows] == list(np.argsort(-np.abs(products), kind="stable")[:8])
    for r in rows:
        assert float(r["value × weight"]) == pytest.approx(products[int(r["input channel"])], abs=1e-4)
    assert total == pytest.approx(products.sum(), abs=1e-4)
    assert any("the other 568 add up to" in c.value for c in at.caption)
    assert not [g for g in (h.proto.body for h in at.get("html")) if "patch × weights" in g]


def check_a_batch_norm_value_shows_its_four_numbers_and_epsilon(at, model, image):
    choose(at, "arith_bn", "project_bn", 3, 10, 12)
    out, bn = real(model, "project_bn", image), model.get_layer("project_bn")
    (check,) = [c for c in checks(at) if "channel 3:" in c and "Moving mean" in c]
    assert check.endswith(":material/check_circle: the same]")
    assert f"Moving mean μ = {bn.moving_mean.numpy()[3]:.4f}" in check
    assert f"moving variance σ² = {bn.moving_variance.numpy()[3]:.4f}, ε = 0.001" in check
    assert f"γ = {bn.gamma.numpy()[3]:.4f}, β = 0 (center=False: no β)" in check
    x, value, layer_output = bold_numbers(check)
    assert x == pytest.approx(real(model, "project", image)[10, 12, 3], abs=1e-4)
    assert value == pytest.approx(out[10, 12, 3], abs=1e-4) and layer_output == pytest.approx(out[10, 12, 3], abs=1e-4)
    # a layer with fewer channels keeps the page working: the kept channel is clipped, nothing raises
    at.number_input(key="arith_bn_channel").set_value(11).run()
    at.selectbox(key="arith_bn_layer").set_value("stem_bn").run()
    assert not at.exception and at.number_input(key="arith_bn_channel").value == 7
    assert sum(c.endswith(":material/check_circle: the same]") for c in checks(at)) == 2


def test_step_by_step_explains_depthwise_pointwise_and_batch_norm_layers():
    at, model, image = open_with_block_model()
    check_the_choice_offers_what_the_page_explains_and_names_the_rest(at, model, image)
    check_a_depthwise_value_reads_one_channel_and_matches_the_layer(at, model, image)
    check_a_pointwise_value_over_576_channels_shows_its_largest_terms(at, model, image)
    check_a_batch_norm_value_shows_its_four_numbers_and_epsilon(at, model, image)

"""Activations and Filters with a keras.applications network of 156 layers (MobileNetV2, 10 classes, 96×96):
a block first, then its layers, or a search across blocks; only the layers shown are computed."""

from __future__ import annotations

import io

import keras
import numpy as np
import pytest
from PIL import Image

from apptest_helpers import open_page
from core.inspection import layers as introspection
from core.storage.card import ModelCard
from ui.workspace import personal_user, workspace_for


def photo() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (120, 120, 3), dtype=np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def mobilenet():
    keras.utils.set_random_seed(0)
    return keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3), classes=10)


def open_with(model, page: str):
    """``page`` in a new session whose current model is ``model``."""
    at = open_page("pages/home.py")
    ws = workspace_for(personal_user())
    card = ModelCard(name="mobilenet_v2", class_names=[f"class {i}" for i in range(10)], input_shape=(96, 96, 3))
    ws.set_current(ws.add_model(model, card).id)
    return open_page(page, at)


def shown_layers(at) -> list[str]:
    """The layers whose maps the Activations page draws, from their headings."""
    return [m.value[5:].split(" · ")[0] for m in at.markdown if m.value.startswith("#### ")]


def test_activations_shows_the_layers_picked_by_block_or_by_search_and_computes_only_those(mobilenet):
    at = open_with(mobilenet, "pages/activations.py")
    at.file_uploader(key="act_upload").set_value(("photo.jpg", photo(), "image/jpeg")).run()
    assert not at.exception and not at.error, [e.value for e in at.exception]
    block = at.selectbox(key="act_layers_block")
    assert block.options[:3] == ["stem · 3 layers", "block 0 · 5 layers", "block 1 · 9 layers"]
    assert shown_layers(at) == ["Conv1", "bn_Conv1", "Conv1_relu"]  # the first block, to start with

    block.set_value("block 5").run()
    block_5 = [layer.name for layer in mobilenet.layers if layer.name.startswith("block_5_")]
    options = at.multiselect(key="act_layers").options
    assert [o.split(" · ")[0] for o in options] == block_5
    assert options[:2] == ["block_5_expand · pointwise convolution", "block_5_expand_BN · batch norm"]
    assert shown_layers(at) == block_5  # a new block: all its layers
    at.multiselect(key="act_layers").set_value(["block_5_depthwise"]).run()
    assert not at.exception and shown_layers(at) == ["block_5_depthwise"]
    assert at.selectbox(key="act_inspect_layer").options == ["block_5_depthwise"]
    assert any(m.value.startswith("Prediction: **class ") for m in at.markdown)

    at.text_input(key="act_layers_find").input("depthwise").run()
    assert not at.exception
    options = at.multiselect(key="act_layers").options
    assert len(options) == 17 * 3  # each block's depthwise convolution, its batch norm and its ReLU
    assert all("depthwise" in option for option in options)
    assert "block_3_depthwise · depthwise convolution · block 3" in options
    assert "act_layers_block" not in [w.key for w in at.selectbox]  # the search lists layers of every block
    assert shown_layers(at) == ["block_5_depthwise"]  # the choice stays while it is among those found
    at.multiselect(key="act_layers").set_value(["block_1_depthwise", "block_12_depthwise_relu"]).run()
    assert shown_layers(at) == ["block_1_depthwise", "block_12_depthwise_relu"]

    # every layer's maps were never computed: only the sets shown, each with the softmax for the prediction
    assert mobilenet not in introspection._EXTRACTORS
    assert ("block_1_depthwise", "block_12_depthwise_relu", "predictions") in introspection._CHOSEN[mobilenet]


def test_filters_picks_a_block_then_a_convolution_and_keeps_both_across_pages(mobilenet):
    at = open_with(mobilenet, "pages/filters.py")
    assert not at.exception and not at.error
    assert at.selectbox(key="filters_layer").value == "Conv1"
    at.selectbox(key="filters_layer_block").set_value("block 5").run()
    layer = at.selectbox(key="filters_layer")
    assert layer.options == ["block_5_expand · pointwise convolution", "block_5_project · pointwise convolution"]
    assert layer.value == "block_5_expand"  # a new block: its first convolution
    layer.set_value("block_5_project").run()
    assert not at.exception
    assert "**block_5_project**: 32 filters of 1×1×192 weights" in " ".join(m.value for m in at.markdown)

    at.text_input(key="filters_layer_find").input("depthwise").run()  # Filters lists Conv2D layers only
    assert any("0 layers match “depthwise”" in c.value for c in at.caption)
    assert at.selectbox(key="filters_layer_block").value == "block 5"  # nothing found: the blocks stay
    assert at.selectbox(key="filters_layer").value == "block_5_project"
    at.text_input(key="filters_layer_find").input("_expand").run()
    layer = at.selectbox(key="filters_layer")
    assert len(layer.options) == 16 and all("_expand · pointwise convolution · block " in o for o in layer.options)
    layer.set_value("block_9_expand").run()
    at.text_input(key="filters_layer_find").input("").run()
    assert at.selectbox(key="filters_layer_block").value == "block 9"  # the block of the layer found

    open_page("pages/home.py", at)
    open_page("pages/filters.py", at)
    assert at.selectbox(key="filters_layer_block").value == "block 9"
    assert at.selectbox(key="filters_layer").value == "block_9_expand"

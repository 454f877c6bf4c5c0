"""Every view of the app on an ImageNet network, under AppTest: what tests/app and tests/system check per network.

``tour(at, key)`` makes the network the current model of the session ``at`` (its weights made here and
vouched for: ``tests/imagenet_files.py``), then visits Activations, Filters, Step by step and Predict on a
sample photo and checks what each promises: the first layer's maps and filters, the arithmetic of its
first value, a depthwise layer found by the search, the top classes and the explanations.
"""

from __future__ import annotations

import numpy as np

from apptest_helpers import open_page, workspace_of
from core.models.imagenet import NETWORKS, last_conv_maps
from core.models.imagenet_weights import weights_path
from imagenet_files import trust, weights_file

# the first convolution: (name, filters, kernel side), as keras.applications builds it
FIRST_CONV = {"mobilenet_v3_small": ("conv", 16, 3), "mobilenet_v2": ("Conv1", 32, 3),
              "efficientnet_b0": ("stem_conv", 32, 3), "resnet50": ("conv1_conv", 64, 7),
              "vgg16": ("block1_conv1", 64, 3)}


def _ok(at, page: str):
    assert not at.exception, (page, [e.value for e in at.exception])
    assert not at.error, (page, [e.value for e in at.error])


def use_network(at, key: str, folder, monkeypatch):
    net = NETWORKS[key]
    trust(weights_file(net, weights_path(net).parent), net, folder, monkeypatch)
    ws = workspace_of(at)
    entry = ws.add_network(key)
    ws.set_current(entry.id)
    return entry


def tour(at, key: str, folder, monkeypatch) -> dict[str, str]:
    """Visit every view with network ``key`` as the current model; returns what each page said it showed."""
    entry = use_network(at, key, folder, monkeypatch)
    conv, filters, side = FIRST_CONV[key]
    seen = {}

    at = open_page("pages/activations.py", at)
    at.radio(key="act_source").set_value("photo").run()
    _ok(at, "activations")
    headings = [m.value for m in at.markdown if m.value.startswith("#### ")]
    assert any(h.startswith(f"#### {conv} · Conv2D") for h in headings) or key == "vgg16", headings
    assert len(at.get("imgs")) + len([e for e in at.main if e.type == "image"]) > 3
    seen["activations"] = headings[0]

    at = open_page("pages/filters.py", at)
    _ok(at, "filters")
    facts = next(m.value for m in at.markdown if m.value.startswith(f"**{conv}**"))
    assert f"{filters} filters of {side}×{side}×3 weights" in facts, facts
    assert any("colour" in c.value for c in at.caption)  # the first layer's filters drawn in colour
    seen["filters"] = facts

    at = open_page("pages/arithmetic.py", at)
    at.radio(key="arith_source").set_value("photo").run()
    _ok(at, "arithmetic")
    line = next(m.value for m in at.markdown if m.value.startswith("Sum of all"))
    assert f"Sum of all {side * side * 3} products (3 input channels)" in line, line
    if key != "vgg16" and key != "resnet50":  # the MobileNets and EfficientNet filter each channel alone
        at.text_input(key="arith_conv_layer_find").input("depthwise").run()
        _ok(at, "arithmetic, a depthwise layer")
        assert any("Nothing is summed across channels" in c.value for c in at.caption), [c.value for c in at.caption]
    seen["arithmetic"] = line

    at = open_page("pages/predict.py", at)
    at.radio(key="pred_source").set_value("photo").run()
    _ok(at, "predict")
    metric = at.metric[0]
    assert metric.label or metric.value
    probs = entry.model(np.zeros((1, 224, 224, 3), np.float32))
    assert tuple(probs.shape) == (1, 1000)
    assert any(s.value == "Why this class?" for s in at.subheader)
    assert any("last conv layer" in c.value for c in at.caption)
    seen["predict"] = f"{metric.label} {metric.value}"
    seen["gradcam_layer"] = last_conv_maps(entry.model)
    return seen

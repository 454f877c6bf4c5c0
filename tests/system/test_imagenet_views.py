"""Every view on each of the four other ImageNet networks (MobileNetV3Small's: tests/app), under AppTest, from
weights files made here: slow (VGG16's file alone is 528 MB), so in ``make test-all``."""

from __future__ import annotations

import pytest

from apptest_helpers import open_page
from download_fixtures import closed_port_url, offline_cache
from imagenet_tour import tour

GRADCAM_LAYERS = {"mobilenet_v2": "out_relu", "efficientnet_b0": "top_activation", "resnet50": "conv5_block3_out",
                  "vgg16": "block5_conv3"}


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    offline_cache(tmp_path, monkeypatch)
    monkeypatch.setenv("CNNLAB_WEIGHTS_MIRROR", closed_port_url())
    monkeypatch.setattr("core.models.imagenet_weights._LOADED", {})


@pytest.mark.parametrize("key", list(GRADCAM_LAYERS))
def test_every_view_on_each_imagenet_network(tmp_path, monkeypatch, key):
    seen = tour(open_page("pages/home.py"), key, tmp_path, monkeypatch)
    assert seen["gradcam_layer"] == GRADCAM_LAYERS[key]

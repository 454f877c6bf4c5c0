"""Every view on MobileNetV3Small, the default ImageNet network, under AppTest (the other four: tests/system)."""

from __future__ import annotations

import pytest

from apptest_helpers import open_page
from download_fixtures import closed_port_url, offline_cache
from imagenet_tour import tour


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    offline_cache(tmp_path, monkeypatch)
    monkeypatch.setenv("CNNLAB_WEIGHTS_MIRROR", closed_port_url())
    monkeypatch.setattr("core.models.imagenet_weights._LOADED", {})


def test_every_view_on_mobilenet_v3_small(tmp_path, monkeypatch):
    seen = tour(open_page("pages/home.py"), "mobilenet_v3_small", tmp_path, monkeypatch)
    assert seen["gradcam_layer"] == "activation_17"

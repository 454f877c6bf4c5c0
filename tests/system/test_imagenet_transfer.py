"""My classes trained on MobileNetV3Small's frozen features under AppTest, from a weights file made here: a run at
224×224 (half a minute on two cores), so in ``make test-all``."""

from __future__ import annotations

import pytest

from core.models.imagenet import NETWORKS
from core.models.imagenet_weights import weights_path
from apptest_helpers import open_page
from download_fixtures import closed_port_url, offline_cache
from imagenet_files import trust, weights_file

SMALL = NETWORKS["mobilenet_v3_small"]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    offline_cache(tmp_path, monkeypatch)
    monkeypatch.setenv("CNNLAB_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CNNLAB_WEIGHTS_CHECKSUMS", raising=False)
    monkeypatch.setenv("CNNLAB_WEIGHTS_MIRROR", closed_port_url())
    monkeypatch.setattr("core.models.imagenet_weights._LOADED", {})


def test_my_classes_trains_a_new_layer_on_mobilenet_v3_small_and_the_network_stays_as_it_was(tmp_path, monkeypatch):
    import numpy as np

    from apptest_helpers import markdown_rows, train_to_end, widget_by_prefix
    from class_photos import photo
    from core.models.backbones import BACKBONES

    path = weights_file(SMALL, weights_path(SMALL).parent)
    trust(path, SMALL, tmp_path, monkeypatch)
    at = open_page("pages/classes.py")
    for name, kind in (("Class 1", "china"), ("Class 2", "flower")):
        cid = at.session_state["classes_ids"][name]
        files = [(f"{kind}{i}.jpg", photo(kind, i), "image/jpeg") for i in range(6)]
        widget_by_prefix(at.file_uploader, f"cls_up_{cid}_").set_value(files).run()
    at.number_input(key="cls_epochs").set_value(2).run()
    at.radio(key="cls_start_from").set_value("backbone").run()
    at.selectbox(key="cls_backbone").set_value("mobilenet_v3_small").run()
    assert not at.exception and not at.error, ([e.value for e in at.exception], [e.value for e in at.error])
    rows = {r["layer"]: r for r in markdown_rows(at, "layer")}
    assert rows["resize"]["output shape"] == "(224, 224, 3)" and "frozen" in rows["conv"]["training"]
    assert rows["features"]["output shape"] == "(576,)" and rows["predictions"]["training"] == "trains"
    train_to_end(at, "cls_train", timeout=240)
    entry = at.session_state["models"][at.session_state["current_model"]]
    assert entry.card.extra["transfer"]["backbone"] == "mobilenet_v3_small" and len(entry.card.history["loss"]) == 2
    shared = BACKBONES["mobilenet_v3_small"].load()
    for name in ("conv", "expanded_conv_depthwise", "conv_1"):
        assert all(np.array_equal(a, b) for a, b in zip(entry.model.get_layer(name).get_weights(),
                                                        shared.get_layer(name).get_weights())), name

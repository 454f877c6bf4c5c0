"""The Models page's ImageNet networks under AppTest: offline download, import, use, the memory limit.

The weights are made here (tests/imagenet_files.py) and vouched for through ``$CNNLAB_WEIGHTS_CHECKSUMS``;
nothing downloads: the download goes to a closed port, or to a local mirror.
"""

from __future__ import annotations

import pytest

from core.models.imagenet import NETWORKS
from core.models.imagenet_weights import weights_path
from apptest_helpers import open_page, workspace_of
from download_fixtures import closed_port_url, local_mirror, offline_cache
from imagenet_files import md5, trust, weights_file

SMALL = NETWORKS["mobilenet_v3_small"]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    offline_cache(tmp_path, monkeypatch)
    monkeypatch.setenv("CNNLAB_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CNNLAB_WEIGHTS_CHECKSUMS", raising=False)
    monkeypatch.setenv("CNNLAB_WEIGHTS_MIRROR", closed_port_url())  # never Keras's own address
    from core.models import imagenet_weights

    monkeypatch.setattr(imagenet_weights, "_LOADED", {})  # each test loads its networks afresh


def messages(at, kind):
    return [e.value for e in getattr(at, kind)]


def test_offline_the_download_names_the_address_then_a_file_on_this_machine_is_imported_and_used(tmp_path,
                                                                                                 monkeypatch):
    at = open_page("pages/models.py")
    assert at.button(key="models_net_use").disabled
    at.button(key="models_net_download").click().run()
    errors = " ".join(messages(at, "error"))
    assert "Could not download MobileNetV3Small's ImageNet weights from http://127.0.0.1:" in errors
    assert SMALL.file_name in errors and "no connection" in errors

    cut = weights_file(SMALL, tmp_path / "cut")
    cut.write_bytes(cut.read_bytes()[:100_000])
    at.text_input(key="models_net_path").input(str(cut)).run()
    at.button(key="models_net_import_path").click().run()
    assert "cut short or damaged" in " ".join(messages(at, "error")), messages(at, "error")
    assert not weights_path(SMALL).exists() and at.button(key="models_net_use").disabled

    good = weights_file(SMALL, tmp_path / "good")
    trust(good, SMALL, tmp_path, monkeypatch)
    at.text_input(key="models_net_path").input(str(good)).run()
    at.button(key="models_net_import_path").click().run()
    assert any("weights are on this server now, checked" in m for m in messages(at, "success")), messages(at, "error")
    assert md5(weights_path(SMALL)) == md5(good)

    at.button(key="models_net_use").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("MobileNetV3Small** is now the current model" in m for m in messages(at, "success"))
    ws = workspace_of(at)
    entry = ws.models[ws.current]
    assert ws.current == "imagenet:mobilenet_v3_small" and entry.model.count_params() == SMALL.params
    assert len(entry.class_names) == 1000 and entry.class_names[281] == "tabby"
    assert "keras.applications" in entry.label


def test_the_download_from_a_mirror_fills_keras_cache(tmp_path, monkeypatch):
    served = weights_file(SMALL, tmp_path / "served")
    trust(served, SMALL, tmp_path, monkeypatch)
    with local_mirror(monkeypatch) as mirror:
        monkeypatch.setenv("CNNLAB_WEIGHTS_MIRROR", mirror.url)
        mirror.files[SMALL.file_name] = served.read_bytes()
        at = open_page("pages/models.py")
        at.button(key="models_net_download").click().run()
    assert not messages(at, "error"), messages(at, "error")
    assert md5(weights_path(SMALL)) == md5(served) and not at.button(key="models_net_use").disabled
    table = next(d.value for d in at.dataframe if "on this server" in d.value.columns)
    assert table.set_index("network").loc["MobileNetV3Small", "on this server"] == "ready"


def test_a_network_over_the_memory_limit_is_refused_with_the_figures(tmp_path, monkeypatch):
    good = weights_file(SMALL, tmp_path / "good")
    trust(good, SMALL, tmp_path, monkeypatch)
    weights_file(SMALL, weights_path(SMALL).parent)
    monkeypatch.setenv("CNNLAB_MAX_IMAGENET_BYTES", "5M")
    at = open_page("pages/models.py")
    at.button(key="models_net_use").click().run()
    errors = " ".join(messages(at, "error"))
    assert "MobileNetV3Small needs 9.7 MB of memory for its weights" in errors and "allows 5.0 MB" in errors, errors
    assert workspace_of(at).current == "shipped:shapes_default"


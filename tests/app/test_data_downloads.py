"""The Data page's dataset downloads (core.data.download) under AppTest, from a localhost mirror.

The progress bar moves during a download; offline, the page says what failed and offers both imports.
"""

from __future__ import annotations

from collections import Counter

import pytest

from core.data.download import SOURCES
from core.data.idx import IDX_FILES
from download_fixtures import cifar_archive, idx_set

# Every test of this module has a Keras cache of its own, offline unless it starts a mirror.
pytestmark = pytest.mark.usefixtures("private_cache")


@pytest.fixture
def fresh_classic_datasets():
    """No MNIST, Fashion-MNIST or CIFAR-10 left in the app's per-process dataset cache by another test."""
    from ui import dataset_cache

    def drop():
        with dataset_cache._DATASETS_LOCK:
            for key in [k for k in dataset_cache._DATASETS if k[0] in SOURCES]:
                del dataset_cache._DATASETS[key]

    drop()
    yield
    drop()


def test_data_page_shows_the_download_moving_then_the_dataset(mirror, monkeypatch, fresh_classic_datasets):
    from streamlit.delta_generator import DeltaGenerator

    from apptest_helpers import open_page

    mirror.files, _ = idx_set(n_train=1500)  # 1.2 MB of training images
    mirror.delay = 0.1  # about 0.8 s a file, so the page redraws the bar several times
    drawn, real_progress = [], DeltaGenerator.progress

    def progress(self, value, text=None, **kwargs):
        drawn.append((value, text or ""))
        return real_progress(self, value, text=text, **kwargs)

    monkeypatch.setattr(DeltaGenerator, "progress", progress)
    at = open_page("pages/data.py")
    at.selectbox(key="data_name").set_value("fashion_mnist").run()
    assert at.radio(key="data_source").value == "download"
    at.button(key="data_load").click().run()
    assert not at.exception and not at.error
    assert {m.label: m.value for m in at.metric}["Training images"] == "1,500"
    assert any("Keras dataset cache" in c.value for c in at.caption)

    bar = [(v, t) for v, t in drawn if t.startswith("Fashion-MNIST: ")]
    values = [v for v, _ in bar]
    assert all(b >= a for a, b in zip(values, values[1:])), values
    assert len({v for v in values if 0.0 < v < 1.0}) >= 2, bar  # it moved during the download
    assert any(t.endswith(" MB") and "downloading" in t for _, t in bar), "\n".join(t for _, t in bar)
    assert mirror.requests == Counter({name: 1 for name in IDX_FILES.values()})


def test_data_page_offline_says_what_failed_and_offers_both_imports(fresh_classic_datasets):
    from apptest_helpers import open_page

    at = open_page("pages/data.py")
    at.selectbox(key="data_name").set_value("cifar10").run()
    at.button(key="data_load").click().run()
    assert not at.exception

    def failure():
        return [e.value for e in at.error if "Could not download CIFAR-10 from http://127.0.0.1:" in e.value]

    assert failure() and "cifar-10-python.tar.gz" in failure()[0] and "no connection" in failure()[0]
    at.slider(key="data_per_class").set_value(5).run()
    assert failure(), "the failure should stay while the same download is chosen"

    at.button(key="data_import_folder").click().run()
    assert at.radio(key="data_source").value == "folder" and at.text_input(key="data_folder")
    at.radio(key="data_source").set_value("download").run()
    at.button(key="data_import_upload").click().run()
    assert at.radio(key="data_source").value == "upload" and not failure()

    at.file_uploader(key="data_cifar_tar").set_value(
        ("cifar-10-python.tar.gz", cifar_archive(per_batch=10), "application/gzip")).run()
    assert not at.exception and not at.error
    assert any("Stored in" in c.value for c in at.caption)
    at.button(key="data_load").click().run()
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Training images"], metrics["Test images"], metrics["Image size"]) == ("50", "10", "32×32×3")


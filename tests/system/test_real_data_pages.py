"""The Data page with the real, full-size datasets of ../shared/datasets under AppTest (60,000 MNIST images, the ORL faces).

They read tens of megabytes each, so they run with the system tests (make test-all); they skip where
../shared/datasets is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

from apptest_helpers import open_page, sample_grids


def test_official_mnist_files_can_be_uploaded_once_for_every_session(shared_datasets):
    at = open_page("pages/data.py")
    at.selectbox(key="data_name").set_value("mnist").run()
    at.radio(key="data_source").set_value("upload").run()
    files = [(p.name, p.read_bytes(), "application/gzip") for p in sorted((shared_datasets / "mnist").glob("*.gz"))]
    at.file_uploader(key="data_idx").set_value(files[:3]).run()  # one file missing
    assert any("Missing: " in e.value for e in at.error)
    at.file_uploader(key="data_idx").set_value([("notes.gz", b"hello", "application/gzip")]).run()
    assert any("Expected only the official files" in e.value for e in at.error)
    at.file_uploader(key="data_idx").set_value(files).run()
    assert not at.error
    at.button(key="data_load").click().run()
    assert not at.exception and not at.error
    assert {m.label: m.value for m in at.metric}["Training images"] == "60,000"
    stored = Path(at.session_state["dataset"]["options"]["folder"])
    assert stored == Path(os.environ["CNNLAB_DATA_DIR"]) / "datasets" / "mnist"
    # another session finds the stored files without uploading them again
    other = open_page("pages/data.py")
    other.selectbox(key="data_name").set_value("mnist").run()
    other.radio(key="data_source").set_value("upload").run()
    assert any(str(stored) in c.value for c in other.caption)


def test_data_page_loads_mnist_from_the_official_files(shared_datasets):
    at = open_page("pages/data.py")
    at.selectbox(key="data_name").set_value("mnist").run()
    at.radio(key="data_source").set_value("folder").run()
    at.text_input(key="data_folder").input(str(shared_datasets / "mnist")).run()
    at.button(key="data_load").click().run()
    assert not at.exception and not at.error
    assert at.session_state["dataset"] == {"name": "mnist", "options": {"folder": str(shared_datasets / "mnist")}}
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Training images"] == "60,000" and metrics["Image size"] == "28×28×1"
    assert len(sample_grids(at)) == 10


def test_data_page_loads_the_orl_faces_with_five_photos_per_person_for_training(shared_datasets):
    at = open_page("pages/data.py")
    at.selectbox(key="data_name").set_value("folder").run()
    at.text_input(key="data_path").input(str(shared_datasets / "orl_faces")).run()
    at.radio(key="data_split").set_value("per_class").run()
    at.number_input(key="data_k").set_value(5).run()
    at.button(key="data_load").click().run()
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Classes"] == "40" and metrics["Training images"] == "200" and metrics["Test images"] == "200"

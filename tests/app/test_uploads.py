"""Uploading a zip of class folders on the Data page: extracted per session, listed, loadable, deletable."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from apptest_helpers import open_page, workspace_of


def png(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def zip_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


GOOD = {**{f"pets/cats/{i}.png": png(i) for i in range(6)}, **{f"pets/dogs/{i}.png": png(100 + i) for i in range(6)},
        "pets/readme.txt": b"not an image"}


def upload_page(user: str | None = None):
    at = open_page("pages/data.py", user=user)
    at.selectbox(key="data_name").set_value("folder").run()
    at.radio(key="data_where").set_value("zip").run()
    return at


def test_a_zip_of_class_folders_becomes_a_dataset_of_its_users_workspace_only():
    at = upload_page()
    at.file_uploader(key="data_zip").set_value(("pets.zip", zip_of(GOOD), "application/zip")).run()
    assert not at.exception
    assert any("12 images in 2 classes (cats 6, dogs 6)" in s.value for s in at.success)
    assert any("1 files skipped" in i.value and "readme.txt" in i.value for i in at.info)
    at.select_slider(key="data_size").set_value(16).run()
    at.button(key="data_load").click().run()
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Classes"] == "2" and metrics["Image size"] == "16×16×3"
    folder = Path(at.session_state["dataset"]["options"]["path"])
    assert folder.parent == workspace_of(at).store.uploads

    again = open_page("pages/data.py")  # the same user's refreshed tab: the dataset and the upload are back
    assert again.session_state["dataset"] == at.session_state["dataset"]
    assert again.selectbox(key="data_name").value == "folder" and again.radio(key="data_where").value == "zip"
    assert again.selectbox(key="data_zip_pick").value == folder
    other = upload_page(user="someone_else")  # another user's workspace
    assert "data_zip_pick" not in [w.key for w in other.selectbox]

    at.button(key="data_zip_delete").click().run()
    assert not at.exception and not folder.exists()


def test_a_zip_that_escapes_its_folder_is_refused_and_writes_nothing():
    at = upload_page()
    evil = zip_of({"cats/1.png": png(1), "../../evil.png": png(2), "dogs/1.png": png(3)})
    at.file_uploader(key="data_zip").set_value(("evil.zip", evil, "application/zip")).run()
    assert not at.exception
    assert any("evil.zip was refused" in e.value for e in at.error)
    root = Path(os.environ["CNNLAB_DATA_DIR"])
    assert not any(p.name == "evil.png" for p in root.parent.rglob("evil.png"))
    assert not [p for p in root.rglob("*") if p.is_file() and p.name != "state.json"]


def test_a_zip_with_its_own_train_and_test_folders_keeps_that_split():
    split = {f"{part}/{cls}/{i}.png": png(1000 * (part == "test") + 100 * c + i)
             for part, n in (("train", 6), ("test", 2)) for c, cls in enumerate(["cats", "dogs"]) for i in range(n)}
    at = upload_page()
    at.file_uploader(key="data_zip").set_value(("split.zip", zip_of(split), "application/zip")).run()
    assert not at.exception
    assert any("12 images in 2 classes (cats 6, dogs 6), and its own test split: 4 images in test/" in s.value
               for s in at.success), [s.value for s in at.success]
    assert any("own train/ and test/ folders" in c.value for c in at.caption)
    at.select_slider(key="data_size").set_value(16).run()
    at.button(key="data_load").click().run()
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Classes"], metrics["Training images"], metrics["Test images"]) == ("2", "12", "4")


def test_an_unsafe_cifar_archive_upload_is_refused_and_nothing_is_kept():
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/test_batch")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)
    at = open_page("pages/data.py")
    at.selectbox(key="data_name").set_value("cifar10").run()
    at.radio(key="data_source").set_value("upload").run()
    at.file_uploader(key="data_cifar_tar").set_value(("cifar-10-python.tar.gz", buf.getvalue(), "application/gzip")).run()
    assert not at.exception
    assert any("cifar-10-python.tar.gz was refused" in e.value and "a link" in e.value for e in at.error)
    stored = Path(os.environ["CNNLAB_DATA_DIR"]) / "datasets" / "cifar10"
    assert not (stored / "cifar-10-batches-py").exists()
    assert not any(c.value.startswith("Stored in") for c in at.caption)


def test_own_photos_from_the_overview_in_one_upload_then_the_train_page():
    at = open_page("pages/home.py")
    steps = [link.proto.label for link in at.get("page_link")]
    assert steps[:3] == ["Data: browse the images", "Train: build and train", "Filters"]
    assert "Open My classes" in steps and "Open Who am I?" in steps
    at.file_uploader(key="home_zip").set_value(("pets.zip", zip_of(GOOD), "application/zip")).run()
    assert not at.exception and not at.error
    assert at.session_state["dataset"]["name"] == "folder"
    assert any("is now the dataset on every page" in s.value and "cats" in s.value for s in at.success)
    assert "Train on them" in [link.proto.label for link in at.get("page_link")]
    at = open_page("pages/train.py", at)
    assert any("Training on **Folder: pets**" in m.value for m in at.markdown)
    assert not [i for i in at.info if "too few" in i.value]  # safe defaults: enough weight updates


def test_a_bad_zip_on_the_overview_is_refused_and_the_dataset_stays():
    at = open_page("pages/home.py")
    at.file_uploader(key="home_zip").set_value(("notes.zip", b"not a zip at all", "application/zip")).run()
    assert not at.exception
    assert any("notes.zip was refused" in e.value for e in at.error)
    assert at.session_state["dataset"]["name"] == "shapes"


def test_a_zip_over_the_users_quota_is_refused_before_anything_is_written(monkeypatch):
    at = upload_page()
    monkeypatch.setenv("CNNLAB_USER_QUOTA", "4K")  # the 12 photos unpack to about 15 KB
    at.file_uploader(key="data_zip").set_value(("pets.zip", zip_of(GOOD), "application/zip")).run()
    assert not at.exception
    [error] = [e.value for e in at.error]
    assert error.startswith("pets.zip was refused:") and "the room left for your uploads" in error
    uploads = workspace_of(at).store.uploads
    assert not uploads.exists() or not [p for p in uploads.rglob("*") if p.is_file()]
    monkeypatch.setenv("CNNLAB_USER_QUOTA", "1M")
    at.file_uploader(key="data_zip").set_value(("pets.zip", zip_of({**GOOD, "x/a.png": png(1)}),
                                                "application/zip")).run()
    assert any("images in" in s.value for s in at.success)


def test_a_small_zip_of_many_tiny_images_is_refused_before_it_fills_the_memory(monkeypatch):
    tiny = io.BytesIO()
    Image.new("RGB", (1, 1), (200, 30, 30)).save(tiny, "PNG")
    members = {f"dots/{c}/{i}.png": tiny.getvalue() for c in ("red", "blue") for i in range(200)}
    data = zip_of(members)  # 400 one-pixel PNGs: about 40 KB
    # at 128x128x3 they would be 400 x 196,608 bytes = 75 MB as float32; a lower limit than the 1 GB default
    # stands for the 20,000 members a zip may hold (3.9 GB)
    monkeypatch.setenv("CNNLAB_MAX_DATASET_BYTES", "16M")
    at = upload_page()
    at.file_uploader(key="data_zip").set_value(("dots.zip", data, "application/zip")).run()
    assert not at.exception and any("400 images in 2 classes" in s.value for s in at.success)
    at.select_slider(key="data_size").set_value(128).run()
    at.button(key="data_load").click().run()
    assert not at.exception
    [error] = [e.value for e in at.error]
    assert "Expected a dataset of at most 16 MB in memory (CNNLAB_MAX_DATASET_BYTES)" in error
    assert "Received: 400 images of 128x128x3, 75 MB" in error and "At this size 85 images fit" in error
    assert at.session_state["dataset"]["name"] == "shapes"  # the dataset in use stays
    at.select_slider(key="data_size").set_value(32).run()  # 4.7 MB: accepted
    at.button(key="data_load").click().run()
    assert not at.exception and not at.error
    assert {m.label: m.value for m in at.metric}["Image size"] == "32×32×3"

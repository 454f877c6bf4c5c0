"""The My classes page under AppTest: classes filled through the real camera and upload widgets, trained, tried.

AppTest stages photos in ``st.camera_input`` and files in ``st.file_uploader``
(``set_value``) exactly as the browser would send them, so no test-only path
exists in the page.
"""

from __future__ import annotations

import os
from pathlib import Path


from apptest_helpers import open_page, train_to_end, widget_by_prefix, workspace_of
from core.workspace import personal_user
from class_photos import TEXT_AS_JPG, photo, truncated_png



def cid(at, name: str) -> str:
    return at.session_state["classes_ids"][name]


def class_folder(at, name: str) -> Path:
    root = Path(os.environ["CNNLAB_DATA_DIR"]) / "workspaces" / personal_user() / "uploads" / "my_classes"
    return root / name


def images_on_disk(at, name: str) -> list[Path]:
    return sorted(p for p in class_folder(at, name).iterdir() if not p.name.startswith("."))


def rename(at, old: str, new: str):
    at.text_input(key=f"cls_name_{cid(at, old)}").input(new).run()
    assert not at.exception
    return at


def snap(at, name: str, data: bytes):
    """Take one webcam snapshot for class ``name``."""
    key = cid(at, name)
    if not at.toggle(key=f"cls_cam_on_{key}").value:
        at.toggle(key=f"cls_cam_on_{key}").set_value(True).run()
    widget_by_prefix(at.camera_input, f"cls_cam_{key}_").set_value(("snapshot.jpg", data, "image/jpeg")).run()
    assert not at.exception
    return at


def upload(at, name: str, files: list[tuple[str, bytes, str]]):
    widget_by_prefix(at.file_uploader, f"cls_up_{cid(at, name)}_").set_value(files).run()
    assert not at.exception
    return at


def test_name_snap_upload_delete_train_and_try_your_own_classes():
    at = open_page("pages/classes.py")
    assert [t.value for t in at.text_input if t.key.startswith("cls_name_")] == ["Class 1", "Class 2"]
    assert at.button(key="cls_train").disabled
    assert any("'Class 1' has 0 images; it needs at least 5." in w.value for w in at.warning)

    rename(at, "Class 1", "temple")
    rename(at, "Class 2", "flower")
    at.button(key="cls_add").click().run()
    rename(at, "Class 3", "sunset")
    rename(at, "sunset", "Temple")  # taken, whatever the case: refused, the name stays
    assert any("There is already a class named 'Temple'" in e.value for e in at.error)
    assert [t.value for t in at.text_input if t.key.startswith("cls_name_")] == ["temple", "flower", "sunset"]

    # temple and sunset from the webcam: every snapshot is added once, however often the page reruns
    for i in range(6):
        snap(at, "temple", photo("china", i))
    at.run()
    at.run()
    assert len(images_on_disk(at, "temple")) == 6
    for i in range(5):
        snap(at, "sunset", photo("sunset", i))
    assert len(images_on_disk(at, "sunset")) == 5

    # flower by upload, with two bad files among the good ones
    upload(at, "flower", [(f"flower{i}.jpg", photo("flower", i), "image/jpeg") for i in range(3)])
    kept = {p.name: p.read_bytes() for p in images_on_disk(at, "flower")}
    upload(at, "flower", [("notes.jpg", TEXT_AS_JPG, "image/jpeg"), ("flower3.jpg", photo("flower", 3), "image/jpeg"),
                          ("cut.png", truncated_png(), "image/png"), ("flower4.jpg", photo("flower", 4), "image/jpeg")])
    errors = " ".join(e.value for e in at.error)
    assert "notes.jpg: This file is not an image we can read" in errors
    assert "cut.png: The image file is damaged or truncated" in errors
    after = {p.name: p.read_bytes() for p in images_on_disk(at, "flower")}
    assert len(after) == 5 and all(after[name] == data for name, data in kept.items())
    assert not at.button(key="cls_train").disabled

    # delete one thumbnail: gone from disk, and too few images turn Train off with the reason
    gone = images_on_disk(at, "flower")[0]
    at.button(key=f"cls_del_{cid(at, 'flower')}_{gone.stem}").click().run()
    assert not gone.exists() and len(images_on_disk(at, "flower")) == 4
    assert at.button(key="cls_train").disabled
    assert any("'flower' has 4 images; it needs at least 5." in w.value for w in at.warning)
    upload(at, "flower", [("flower5.jpg", photo("flower", 5), "image/jpeg")])
    assert not at.button(key="cls_train").disabled

    # train: small input and few epochs keep it fast
    at.select_slider(key="cls_size").set_value(32)
    at.number_input(key="cls_epochs").set_value(20)
    at.text_input(key="cls_model_name").input("landscapes").run()
    job = train_to_end(at, "cls_train")
    assert job.config.epochs == 20 and job.config.validation_split == 0.0
    assert job.dataset.input_shape == (32, 32, 3) and job.dataset.class_names == ["flower", "sunset", "temple"]
    assert job.dataset.class_counts("test") == {"flower": 1, "sunset": 1, "temple": 1}
    entry = at.session_state["models"][at.session_state["current_model"]]
    assert entry.card.name == "landscapes" and entry.class_names == ["flower", "sunset", "temple"]
    assert entry.saved_id and not entry.save_error
    assert (Path(os.environ["CNNLAB_MODELS_DIR"]) / f"{entry.saved_id}.keras").is_file()
    assert any("It is now the current model" in s.value for s in at.success)

    # try it: a new photo of each kind, uploaded and from the webcam
    at.radio(key="cls_try_source").set_value("upload").run()
    for name, kind in (("flower", "flower"), ("sunset", "sunset"), ("temple", "china")):
        at.file_uploader(key="cls_try_upload").set_value((f"new_{kind}.jpg", photo(kind, 100), "image/jpeg")).run()
        assert not at.exception and not at.error
        assert at.metric[-1].label == "It sees" and at.metric[-1].value == name, (name, at.caption[-1].value)
    at.radio(key="cls_try_source").set_value("camera").run()
    at.camera_input(key="cls_try_camera").set_value(("shot.jpg", photo("china", 101), "image/jpeg")).run()
    assert at.metric[-1].value == "temple"
    assert len(at.get("plotly_chart")) >= 2  # the training curve and the probability bars

    # the inspection pages show the new model; the images are still there after the trip
    assert entry.card.dataset_title == "My classes: temple, flower, sunset"
    for page in ("pages/filters.py", "pages/activations.py", "pages/predict.py"):
        at = open_page(page, at)
        assert at.session_state["current_model"] == workspace_of(at).page_model("classes").id
    assert any("Classes: flower, sunset, temple" in m.value for m in at.markdown)  # Predict
    at = open_page("pages/classes.py", at)
    assert {name: len(images_on_disk(at, name)) for name in ("flower", "sunset", "temple")} == \
        {"flower": 5, "sunset": 5, "temple": 6}
    assert [t.value for t in at.text_input if t.key.startswith("cls_name_")] == ["temple", "flower", "sunset"]
    # and so are the training settings chosen before the trip
    assert at.select_slider(key="cls_size").value == 32 and at.number_input(key="cls_epochs").value == 20
    assert at.text_input(key="cls_model_name").value == "landscapes"

    # a photo deleted after training is deleted from the copy the model was trained on too
    user_folder = Path(os.environ["CNNLAB_DATA_DIR"]) / "workspaces" / personal_user()
    gone = images_on_disk(at, "temple")[0]
    content = gone.read_bytes()
    assert len([p for p in user_folder.rglob("*") if p.is_file() and p.read_bytes() == content]) == 2
    at.button(key=f"cls_del_{cid(at, 'temple')}_{gone.stem}").click().run()
    assert not at.exception
    assert [p for p in user_folder.rglob("*") if p.is_file() and p.read_bytes() == content] == []


def test_clear_and_remove_a_class_and_a_bad_snapshot():
    at = open_page("pages/classes.py")
    upload(at, "Class 1", [(f"{i}.jpg", photo("flower", i), "image/jpeg") for i in range(2)])
    snap(at, "Class 2", photo("china", 0))
    snap(at, "Class 2", b"\xff\xd8\xff\xe0 not really a jpeg")
    assert any("webcam snapshot: " in e.value for e in at.error)
    assert len(images_on_disk(at, "Class 2")) == 1

    at.button(key=f"cls_clear_{cid(at, 'Class 1')}").click().run()
    assert images_on_disk(at, "Class 1") == []
    folder = class_folder(at, "Class 2")
    at.button(key=f"cls_remove_{cid(at, 'Class 2')}").click().run()
    assert not at.exception and not folder.exists()
    assert [t.value for t in at.text_input if t.key.startswith("cls_name_")] == ["Class 1"]
    assert any("Add at least two classes" in w.value for w in at.warning)
    assert at.button(key="cls_train").disabled


def test_an_upload_batch_is_bounded_and_refused_files_count(monkeypatch):
    monkeypatch.setenv("CNNLAB_MAX_UPLOAD_FILES", "3")
    at = open_page("pages/classes.py")
    upload(at, "Class 1", [(f"notes{i}.jpg", TEXT_AS_JPG, "image/jpeg") for i in range(4)]
           + [("good.jpg", photo("china", 1), "image/jpeg")])
    errors = " ".join(e.value for e in at.error)
    assert errors.count("This file is not an image we can read") == 3
    assert "Only the first 3 of the 5 files sent were looked at" in errors
    assert images_on_disk(at, "Class 1") == []  # the good one came fifth: not looked at

"""Who am I? and Predict's face mode under AppTest: enrol from the webcam, train, recognise.

Snapshots go in through the real ``st.camera_input`` and ``st.file_uploader``
widgets (AppTest's ``set_value`` sends what a browser sends), made from
scikit-image's astronaut and cameraman photos (``face_photos``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from apptest_helpers import open_page, train_to_end, widget_by_prefix, workspace_of
from class_photos import TEXT_AS_JPG
from face_photos import no_face, snapshot, two_faces



def iid(at, name: str) -> str:
    return at.session_state["face_ids"][name]


def snap(at, name: str, data: bytes):
    key = iid(at, name)
    if not at.toggle(key=f"face_cam_on_{key}").value:
        at.toggle(key=f"face_cam_on_{key}").set_value(True).run()
    widget_by_prefix(at.camera_input, f"face_cam_{key}_").set_value(("snapshot.jpg", data, "image/jpeg")).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def enrolled(at) -> dict[str, int]:
    return workspace_of(at).face_gallery.counts()


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_enrol_from_the_webcam_train_and_recognise(shared_datasets_or_none):
    at = open_page("pages/faces.py")
    data_dir, models_dir = Path(os.environ["CNNLAB_DATA_DIR"]), Path(os.environ["CNNLAB_MODELS_DIR"])
    before = files_under(data_dir) + files_under(models_dir)
    assert at.button(key="face_train").disabled
    assert any("Enrol at least two people" in w.value for w in at.warning)

    at.text_input(key="face_new_name").input("Eileen")
    at.button(key="face_add").click().run()
    workspace_of(at).face_gallery.remove_identity("Me")  # the default first identity is not used here
    at.text_input(key="face_new_name").input("Sam")
    at.button(key="face_add").click().run()
    assert workspace_of(at).face_gallery.names() == ["Eileen", "Sam"]

    for seed in range(6):
        snap(at, "Eileen", snapshot("astronaut", seed))
        snap(at, "Sam", snapshot("cameraman", seed))
    assert any("face found" in s.value and "added to Sam" in s.value for s in at.success)
    at.run()  # a rerun adds nothing twice
    assert enrolled(at) == {"Eileen": 6, "Sam": 6}

    # rejected snapshots: no face, two faces, not an image; nothing is added
    snap(at, "Eileen", no_face())
    assert any("No face found in this snapshot" in e.value for e in at.error)
    snap(at, "Eileen", two_faces())
    assert any("2 faces in this snapshot" in e.value for e in at.error)
    snap(at, "Eileen", TEXT_AS_JPG)
    assert any("not an image we can read" in e.value for e in at.error)
    assert enrolled(at) == {"Eileen": 6, "Sam": 6}

    # the kept faces are aligned crops; one is deleted with its button
    gallery = workspace_of(at).face_gallery
    crops = gallery.faces("Eileen")
    assert all(f.crop.shape == (64, 64, 3) for f in crops)
    at.button(key=f"face_del_{crops[0].id}").click().run()
    assert enrolled(at) == {"Eileen": 5, "Sam": 6}
    assert not at.button(key="face_train").disabled

    job = train_to_end(at, "face_train", timeout=180)
    assert job.dataset.class_names == ["Eileen", "Sam"] and job.dataset.class_counts("test") == {"Eileen": 1, "Sam": 1}
    entry = workspace_of(at).page_model("faces")
    assert entry.card.private and entry.class_names == ["Eileen", "Sam"]
    assert not entry.saved_id
    # nothing was written to disk: no snapshot, no crop, no model
    assert files_under(data_dir) + files_under(models_dir) == before
    # the Train page does not claim the faces run as its own, nor that it was saved
    train = open_page("pages/train.py", at)
    assert not [s for s in train.success if "saved on the Models page" in s.value]
    assert [s.value for s in train.subheader if s.value.startswith("Run:")] == []
    at = open_page("pages/faces.py", train)

    # the card keeps what tells the enrolled people from strangers; the page says how it was calibrated
    reference = entry.card.face_reference
    assert reference is not None and reference.class_names == ["Eileen", "Sam"]
    assert any("cannot say \"nobody I know\"" in c.value for c in at.caption)
    assert any(c.value.startswith(f"Distance threshold {reference.threshold:.2f}: halfway") for c in at.caption)

    # recognise new snapshots from the webcam: each person by name, both in one frame, with the distance
    for person, name in (("astronaut", "Eileen"), ("cameraman", "Sam")):
        at.camera_input(key="face_try_camera").set_value(("live.jpg", snapshot(person, 50), "image/jpeg")).run()
        assert not at.exception and not at.error
        answers = [m for m in at.metric if m.label == "5 · Answer"]
        assert [m.value for m in answers] == [name], [m.value for m in answers]
        assert any(c.value.startswith("Distance ") and f", threshold {reference.threshold:.2f}: {name}." in c.value
                   for c in at.caption)
    # a stranger's face is unknown however sure the softmax is: too far from both people's faces
    if shared_datasets_or_none is not None:
        from PIL import Image

        from face_photos import jpeg

        stranger = np.asarray(Image.open(shared_datasets_or_none / "orl_faces" / "s1" / "1.pgm").convert("RGB"))
        at.camera_input(key="face_try_camera").set_value(("stranger.jpg", jpeg(stranger), "image/jpeg")).run()
        assert [m.value for m in at.metric if m.label == "5 · Answer"] == ["unknown"]
        assert any(c.value.startswith("Distance ") and f", threshold {reference.threshold:.2f}: unknown." in c.value
                   and "The CNN's best guess is" in c.value for c in at.caption)
    at.camera_input(key="face_try_camera").set_value(("both.jpg", two_faces(51), "image/jpeg")).run()
    assert [m.value for m in at.metric if m.label == "5 · Answer"] == ["Eileen", "Sam"]
    # a face is named only when its probability is over the threshold: at 100 % nobody is
    at.slider(key="face_try_threshold").set_value(100).run()
    assert [m.value for m in at.metric if m.label == "5 · Answer"] == ["unknown", "unknown"]
    assert any("not sure enough" in c.value for c in at.caption)
    at.slider(key="face_try_threshold").set_value(60).run()
    at.camera_input(key="face_try_camera").set_value(("empty.jpg", no_face(), "image/jpeg")).run()
    assert any("No face found in this picture" in w.value for w in at.warning)

    # saving is the user's choice: then, and only then, the model is written (weights, no photos)
    at.button(key="face_save").click().run()
    assert not at.exception
    saved = entry.saved_id
    assert (models_dir / f"{saved}.keras").is_file()

    # delete everything: the faces and the session's face models are gone
    at.button(key="face_delete_all").click().run()
    assert enrolled(at) == {}
    assert not any(e.card.private for e in at.session_state["models"].values())
    assert any("Every enrolled face" in s.value for s in at.success)


def test_face_mode_on_predict_finds_and_identifies_each_face():
    at = open_page("pages/faces.py")
    gallery = workspace_of(at).face_gallery
    gallery.add_identity("Sam")
    gallery.remove_identity("Me")
    gallery.add_identity("Eileen")
    for seed in range(5):
        gallery.enrol("Eileen", snapshot("astronaut", seed))
        gallery.enrol("Sam", snapshot("cameraman", seed))
    at.run()
    train_to_end(at, "face_train", timeout=180)

    at = open_page("pages/predict.py", at)  # the face model is the current one: face mode is on
    assert at.session_state["current_model"] == workspace_of(at).page_model("faces").id
    at.radio(key="pred_source").set_value("upload").run()
    at.file_uploader(key="pred_upload").set_value(("group.jpg", two_faces(60), "image/jpeg")).run()
    assert not at.exception
    assert [m.value for m in at.metric if m.label == "5 · Answer"] == ["Eileen", "Sam"]  # left to right
    captions = " ".join(img.caption for el in at.get("image") for img in el.proto.imgs)
    for stage in ("MTCNN found 2 faces", "1 · Detection", "2 · Alignment", "3 · CNN input", "4 · Activations"):
        assert captions.count(stage) == (1 if stage.startswith("MTCNN") else 2), stage


def test_face_mode_with_any_model_and_a_photo_without_faces():
    """Face mode works with a model that knows no faces too: the pipeline still runs; a faceless photo says so."""
    from face_photos import jpeg, source

    at = open_page("pages/predict.py")
    mode = next(t for t in at.toggle if t.key.startswith("pred_face_mode_"))
    assert mode.value is False  # the shipped shapes model is not a face model
    mode.set_value(True).run()
    at.radio(key="pred_source").set_value("upload").run()
    at.file_uploader(key="pred_upload").set_value(("astronaut.jpg", jpeg(source("astronaut")), "image/jpeg")).run()
    assert not at.exception
    answers = [m for m in at.metric if m.label == "5 · Answer"]
    assert len(answers) == 1
    at.file_uploader(key="pred_upload").set_value(("coffee.jpg", no_face(), "image/jpeg")).run()
    assert not at.exception and any("No face found in this picture" in w.value for w in at.warning)
    assert not [m for m in at.metric if m.label == "5 · Answer"]


def test_refused_uploads_count_towards_the_batch(monkeypatch):
    from core.faces import enrol

    monkeypatch.setenv("CNNLAB_MAX_UPLOAD_FILES", "2")
    looked = []
    real = enrol.decode_image
    monkeypatch.setattr(enrol, "decode_image", lambda data: looked.append(1) or real(data))
    at = open_page("pages/faces.py")
    files = [(f"notes{i}.jpg", TEXT_AS_JPG, "image/jpeg") for i in range(6)]
    widget_by_prefix(at.file_uploader, f"face_up_{iid(at, 'Me')}_").set_value(files).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert sum("not added. This file is not an image we can read" in e for e in errors) == 2
    assert any("Only the first 2 of the 6 files sent were looked at" in e for e in errors)
    assert len(looked) == 2 and enrolled(at) == {"Me": 0}

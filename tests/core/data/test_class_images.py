"""core.data.class_images: a user's own classes as a folder of class folders, checked at every step."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from class_photos import TEXT_AS_JPG, photo, png_bytes, truncated_png
from core.data import class_images
from core.data.class_images import (
    MIN_IMAGES_PER_CLASS, ClassImageError, ClassImages, check_class_name, load_class_dataset, next_class_name)
from core.data.images import ImageDecodeError


def huge_png(width: int = 8_000, height: int = 8_000) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height`` pixels (a decompression bomb)."""
    data = bytearray(png_bytes(0, 4))
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


def grey_alpha_png() -> bytes:
    buf = io.BytesIO()
    Image.new("LA", (30, 20), (128, 0)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def classes(tmp_path):
    return ClassImages(tmp_path / "my_classes").start()


def files_of(store: ClassImages) -> dict[str, bytes]:
    return {str(p.relative_to(store.root)): p.read_bytes() for p in store.root.rglob("*") if p.is_file()}


def test_start_creates_two_empty_classes_once(classes):
    assert classes.class_names() == ["Class 1", "Class 2"]
    classes.add_class()
    classes.start()
    assert classes.class_names() == ["Class 1", "Class 2", "Class 3"]
    assert classes.counts() == {"Class 1": 0, "Class 2": 0, "Class 3": 0}


def test_classes_keep_the_order_they_were_added_in(classes):
    for _ in range(9):
        classes.add_class()
    assert classes.class_names()[-3:] == ["Class 9", "Class 10", "Class 11"]
    classes.rename_class("Class 1", "zebra")  # stays first, where the user put it
    classes.remove_class("Class 2")
    (classes.root / "b made elsewhere").mkdir()
    (classes.root / "a made elsewhere").mkdir()
    names = classes.class_names()
    assert names[:2] == ["zebra", "Class 3"] and names[-2:] == ["a made elsewhere", "b made elsewhere"]
    (classes.root / ".order.json").write_text("not json")  # a damaged order file costs the order, not the classes
    assert sorted(classes.class_names()) == sorted(names)
    assert next_class_name(["temple", "Class 2"]) == "Class 3"
    assert next_class_name(["Class 1", "class 2", "Class 3"]) == "Class 4"
    assert next_class_name(["Class 1", "Class 3"]) == "Class 4"  # a free number after the count


@pytest.mark.parametrize("name, reason", [
    ("", "empty name"), ("   ", "empty name"), ("cats/dogs", "without /"), ("a\\b", "without /"),
    ("..", "starting with a dot"), (".hidden", "starting with a dot"), ("tab\there", "without /"),
    ("x" * 41, "at most 40"), ("train", "reserved"), ("Test", "reserved"), ("class 1", "already a class"),
])
def test_bad_class_names_are_refused_with_the_reason(classes, name, reason):
    with pytest.raises(ClassImageError, match=reason):
        classes.add_class(name)
    with pytest.raises(ClassImageError, match=reason):
        classes.rename_class("Class 2", name)
    assert classes.class_names() == ["Class 1", "Class 2"]


@pytest.mark.parametrize("name", ["Cat", "thumbs up", "Café 2", "x" * 40, "  padded  "])
def test_good_class_names_are_kept(name):
    assert check_class_name(name) == name.strip()


def test_rename_keeps_images_and_a_case_change_is_allowed(classes):
    kept = classes.add_image("Class 1", photo("china", 0))
    assert classes.rename_class("Class 1", "temple") == "temple"
    assert classes.class_names() == ["temple", "Class 2"]
    assert [p.name for p in classes.images("temple")] == [kept.name]
    assert classes.rename_class("temple", "Temple") == "Temple"
    assert "Temple" in classes.class_names()


def test_remove_and_clear(classes):
    for i in range(3):
        classes.add_image("Class 2", photo("flower", i))
    assert classes.clear_class("Class 2") == 3 and classes.counts()["Class 2"] == 0
    classes.remove_class("Class 2")
    assert classes.class_names() == ["Class 1"]
    with pytest.raises(ClassImageError, match="Expected one of the classes"):
        classes.remove_class("Class 2")


def test_an_added_image_is_stored_small_rgb_and_readable(classes):
    path = classes.add_image("Class 1", photo("china", 0, size=(640, 427)))
    grey = classes.add_image("Class 1", grey_alpha_png())
    with Image.open(path) as img:
        assert img.format == "JPEG" and img.mode == "RGB" and img.size == (256, 171)
    with Image.open(grey) as img:
        assert img.mode == "RGB" and img.size == (30, 20)
        assert np.asarray(img).min() > 240  # transparent pixels over white, as a viewer shows them
    assert not [p for p in classes.root.rglob("*.part")]  # no temporary files left behind


@pytest.mark.parametrize("filename, data, message", [
    ("notes.jpg", TEXT_AS_JPG, "not an image we can read"),
    ("cut.png", truncated_png(), "damaged or truncated"),
    ("empty.png", b"", "empty"),
    ("bomb.png", huge_png(), "at most 16 MP"),
])
def test_bad_files_are_refused_and_nothing_captured_is_lost(classes, filename, data, message):
    for i in range(2):
        classes.add_image("Class 1", photo("china", i))
    before = files_of(classes)
    report = classes.add_images("Class 1", [("good.jpg", photo("china", 5)), (filename, data),
                                            ("good2.png", png_bytes(3))])
    assert len(report.added) == 2
    assert len(report.refused) == 1 and report.refused[0].startswith(f"{filename}: ") and message in report.refused[0]
    after = files_of(classes)
    assert all(after[k] == v for k, v in before.items())  # the images already there are untouched
    assert len(after) == len(before) + 2
    with pytest.raises(ImageDecodeError, match=message):
        classes.add_image("Class 1", data)


def test_a_full_class_refuses_more(classes, monkeypatch):
    monkeypatch.setattr(class_images, "MAX_IMAGES_PER_CLASS", 2)
    report = classes.add_images("Class 1", [(f"{i}.jpg", photo("china", i)) for i in range(3)])
    assert len(report.added) == 2 and report.not_looked_at == 1
    assert report.refused == ["1 more file was not looked at: 'Class 1' had room for 2 more of its 2 images, "
                              "and every file sent counts, added or not."]
    with pytest.raises(ClassImageError, match="already has 2 images"):
        classes.add_image("Class 1", photo("china", 4))


def test_remove_image_deletes_that_file_only(classes):
    paths = [classes.add_image("Class 1", photo("china", i)) for i in range(3)]
    classes.remove_image("Class 1", paths[1].name)
    assert classes.images("Class 1") == [paths[0], paths[2]] and not paths[1].exists()
    outside = classes.root / "keep.jpg"
    outside.write_bytes(b"x")
    for bad in ("../keep.jpg", paths[1].name, "missing.jpg"):
        with pytest.raises(ClassImageError, match="Expected an image of 'Class 1'"):
            classes.remove_image("Class 1", bad)
    assert outside.exists()


def test_training_problems_flag_small_classes_until_there_are_enough(classes):
    problems = classes.training_problems()
    assert problems == [f"'Class 1' has 0 images; it needs at least {MIN_IMAGES_PER_CLASS}.",
                        f"'Class 2' has 0 images; it needs at least {MIN_IMAGES_PER_CLASS}."]
    for kind, name in (("china", "Class 1"), ("flower", "Class 2")):
        for i in range(MIN_IMAGES_PER_CLASS):
            classes.add_image(name, photo(kind, i))
    assert classes.training_problems() == []
    classes.remove_image("Class 2", classes.images("Class 2")[0].name)
    assert classes.training_problems() == [f"'Class 2' has 4 images; it needs at least {MIN_IMAGES_PER_CLASS}."]
    classes.remove_class("Class 2")
    assert classes.training_problems() == ["Add at least two classes (there is 1)."]


def test_a_snapshot_is_a_frozen_class_folder_dataset(classes, tmp_path):
    classes.rename_class("Class 1", "temple")
    classes.rename_class("Class 2", "flower")
    for i in range(6):
        classes.add_image("temple", photo("china", i))
        classes.add_image("flower", photo("flower", i))
    frozen = classes.snapshot(tmp_path / ".runs" / "run1")
    classes.clear_class("temple")  # later changes leave the snapshot as it was
    with pytest.raises(ClassImageError, match="it exists"):
        classes.snapshot(frozen)

    ds = load_class_dataset(frozen, image_size=32)
    assert classes.class_names() == ["temple", "flower"]  # the page's order
    assert ds.class_names == ["flower", "temple"] and ds.input_shape == (32, 32, 3)  # the loader's
    assert ds.class_counts("train") == {"flower": 5, "temple": 5}
    assert ds.class_counts("test") == {"flower": 1, "temple": 1}  # 20 % of every class held out
    assert not ds.warnings
    assert ds.options["path"] == str(frozen)
    # flower photos are mostly green and orange, the temple's mostly sky: the labels follow the folders
    blue = ds.x_train[..., 2].mean(axis=(1, 2))
    assert blue[ds.y_train == 1].mean() > blue[ds.y_train == 0].mean()


def test_a_snapshot_matches_the_classes_until_they_change(classes, tmp_path):
    for i in range(3):
        classes.add_image("Class 1", photo("china", i))
        classes.add_image("Class 2", photo("flower", i))
    frozen = classes.snapshot(tmp_path / ".runs" / "run1")
    assert classes.matches(frozen)
    assert not classes.matches(tmp_path / ".runs" / "none")  # no such folder
    added = classes.add_image("Class 1", photo("china", 3))
    assert not classes.matches(frozen)  # one image more
    classes.remove_image("Class 1", added.name)
    assert classes.matches(frozen)
    classes.rename_class("Class 2", "flower")  # the same images under another name
    assert not classes.matches(frozen)
    classes.rename_class("flower", "Class 2")
    classes.add_class("Class 3")  # an empty class more
    assert not classes.matches(frozen)


# --- every copy of a deleted photo goes; batches and the quota bound what is added -----------------

from core.quota import QuotaError, folder_bytes  # noqa: E402


@pytest.fixture
def user(tmp_path):
    """A user's folder as the app lays it out: uploads/my_classes and uploads/.my_classes_runs."""
    folder = tmp_path / "workspaces" / "ann"
    uploads = folder / "uploads"
    return folder, ClassImages(uploads / "my_classes", runs_root=uploads / ".my_classes_runs",
                               quota_folder=folder).start()


def copies_of(folder, content: bytes) -> list:
    return [p for p in folder.rglob("*") if p.is_file() and p.read_bytes() == content]


def test_a_deleted_photo_leaves_no_copy_anywhere_in_the_users_folder(user):
    folder, store = user
    paths = [store.add_image("Class 1", photo("china", i)) for i in range(3)]
    store.add_image("Class 2", photo("flower", 0))
    gone = paths[1].read_bytes()
    first = store.snapshot(store.runs_root / "run1")
    store.rename_class("Class 1", "temple")  # a later run sees the class under another name
    second = store.snapshot(store.runs_root / "run2")
    assert len(copies_of(folder, gone)) == 3
    store.remove_image("temple", paths[1].name)
    assert copies_of(folder, gone) == []
    assert len(list((first / "Class 1").iterdir())) == 2 and len(list((second / "temple").iterdir())) == 2


def test_clearing_or_removing_a_class_deletes_its_frozen_copies(user):
    folder, store = user
    a = [store.add_image("Class 1", photo("china", i)).read_bytes() for i in range(2)]
    b = [store.add_image("Class 2", photo("flower", i)).read_bytes() for i in range(2)]
    store.snapshot(store.runs_root / "run1")
    store.clear_class("Class 1")
    assert all(copies_of(folder, content) == [] for content in a)
    store.remove_class("Class 2")
    assert all(copies_of(folder, content) == [] for content in b)


def test_a_batch_is_bounded_and_refused_files_count(user, monkeypatch):
    _, store = user
    monkeypatch.setenv("CNNLAB_MAX_UPLOAD_FILES", "3")
    decoded = []
    real = class_images.decode_image
    monkeypatch.setattr(class_images, "decode_image", lambda data: decoded.append(1) or real(data))
    report = store.add_images("Class 1", [(f"bad{i}.jpg", TEXT_AS_JPG) for i in range(1000)])
    assert len(decoded) == 3 and report.added == [] and report.not_looked_at == 997
    assert report.refused[:3] == [f"bad{i}.jpg: " + report.refused[0].split(": ", 1)[1] for i in range(3)]
    assert report.refused[3] == ("997 more files were not looked at: at most 3 files are taken at once, "
                                 "and every file sent counts, added or not.")
    good = store.add_images("Class 1", [(f"{i}.jpg", photo("china", i)) for i in range(3)])  # just the bound
    assert len(good.added) == 3 and good.refused == []


def test_the_quota_stops_a_batch_and_keeps_what_fitted(user, monkeypatch):
    folder, store = user
    store.add_image("Class 1", photo("china", 0))
    used = folder_bytes(folder)
    monkeypatch.setenv("CNNLAB_USER_QUOTA", str(used + 1000))  # room for nothing more than a few bytes
    before = sorted(p.name for p in store.images("Class 1"))
    report = store.add_images("Class 1", [(f"{i}.jpg", photo("china", i)) for i in range(1, 5)])
    assert report.added == [] and "your quota" in report.refused[0] and "Delete" in report.refused[0]
    assert "3 more files were not looked at: your workspace is full" in report.refused[1]
    assert sorted(p.name for p in store.images("Class 1")) == before
    with pytest.raises(QuotaError, match="your quota"):
        store.add_image("Class 1", photo("china", 9))
    monkeypatch.setenv("CNNLAB_USER_QUOTA", "1G")
    assert len(store.add_images("Class 1", [("a.jpg", photo("china", 9))]).added) == 1

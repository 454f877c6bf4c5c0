"""core.data.folder: any folder of class folders, read as a Dataset, with the files it skipped named."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from core.data import DatasetError, load_dataset
from dataset_files import assert_well_formed, make_class_tree, save_image


def test_folder_loader_skips_and_reports_bad_files(tmp_path):
    root = tmp_path / "pets"
    make_class_tree(root, classes=("dog", "cat", "bird"), per_class=5)
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    ds = load_dataset("folder", {"path": str(root), "image_size": 16})
    assert_well_formed(ds)
    assert ds.class_names == ["bird", "cat", "dog"]
    assert ds.input_shape == (16, 16, 3)  # colour images present: 3 channels
    assert len(ds.x_train) + len(ds.x_test) == 15  # the two bad files are not counted
    assert sum(ds.class_counts("test").values()) == 3  # 20% of each class of 5
    assert len(ds.warnings) == 2
    joined = "\n".join(ds.warnings)
    assert "notes.txt" in joined and "broken.png" in joined
    assert ds.options["path"] == str(root) and ds.options["image_size"] == [16, 16]


def test_folder_options_reload_the_same_dataset(tmp_path):
    make_class_tree(tmp_path, classes=("a", "b"), per_class=6)
    first = load_dataset("folder", {"path": str(tmp_path), "image_size": [12, 16], "seed": 3})
    again = load_dataset("folder", json.loads(json.dumps(first.options)))  # as stored in model metadata
    assert again.input_shape == first.input_shape == (12, 16, 3)
    np.testing.assert_array_equal(again.x_train, first.x_train)
    np.testing.assert_array_equal(again.y_test, first.y_test)
    other = load_dataset("folder", {**first.options, "seed": 4})
    assert not np.array_equal(other.y_train, first.y_train) or not np.array_equal(other.x_train, first.x_train)


def test_folder_loader_natural_class_order_and_greyscale(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("s10", "s2", "s1"):
        for i in range(3):
            save_image(Image.fromarray(rng.integers(0, 256, (12, 10), dtype=np.uint8), "L"), tmp_path / name / f"{i}.png", "PNG")
    ds = load_dataset("folder", {"path": str(tmp_path), "image_size": [12, 10]})
    assert ds.class_names == ["s1", "s2", "s10"]
    assert ds.input_shape == (12, 10, 1)  # every image greyscale: 1 channel


@pytest.mark.parametrize("train, test", [("train", "test"), ("training_set", "test_set")])
def test_folder_loader_keeps_train_test_split(tmp_path, train, test):
    make_class_tree(tmp_path / train, classes=("a", "b"), per_class=4, seed=1)
    make_class_tree(tmp_path / test, classes=("a", "b"), per_class=2, seed=2)
    ds = load_dataset("folder", {"path": str(tmp_path), "image_size": 8})
    assert_well_formed(ds)
    assert ds.class_names == ["a", "b"]
    assert ds.class_counts("train") == {"a": 4, "b": 4}
    assert ds.class_counts("test") == {"a": 2, "b": 2}


def test_folder_with_one_class_raises(tmp_path):
    make_class_tree(tmp_path, classes=("only",), per_class=3)
    with pytest.raises(DatasetError, match="at least 2 class"):
        load_dataset("folder", {"path": str(tmp_path)})


def test_folder_with_no_readable_image_raises(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match="No readable images"):
        load_dataset("folder", {"path": str(tmp_path)})


def test_folder_missing_path_raises(tmp_path):
    with pytest.raises(DatasetError):
        load_dataset("folder", {})
    with pytest.raises(DatasetError, match="not found"):
        load_dataset("folder", {"path": str(tmp_path / "nowhere")})


def test_real_orl_faces(shared_datasets):
    ds = load_dataset("folder", {"path": str(shared_datasets / "orl_faces"), "image_size": [112, 92]})
    assert_well_formed(ds)
    assert ds.num_classes == 40
    assert ds.class_names[:3] == ["s1", "s2", "s3"] and ds.class_names[-1] == "s40"
    assert len(ds.x_train) + len(ds.x_test) == 400
    assert ds.input_shape == (112, 92, 1)  # grey PGM detected: one channel
    assert set(ds.class_counts("test").values()) == {2}
    assert ds.warnings == []


def test_folder_split_with_k_images_per_class(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for person in ("s1", "s2", "s3"):
        (tmp_path / person).mkdir()
        for i in range(1, 11):
            Image.fromarray(rng.integers(0, 255, (12, 10), dtype=np.uint8)).save(tmp_path / person / f"{i}.pgm")
    ds = load_dataset("folder", {"path": str(tmp_path), "image_size": [12, 10], "train_per_class": 5})
    assert ds.class_counts("train") == {"s1": 5, "s2": 5, "s3": 5}
    assert ds.class_counts("test") == {"s1": 5, "s2": 5, "s3": 5}
    assert ds.options["train_per_class"] == 5
    again = load_dataset("folder", ds.options)  # the options reload the same split
    np.testing.assert_array_equal(again.x_train, ds.x_train)
    # no image is in both splits
    train_rows = {a.tobytes() for a in ds.x_train}
    assert not any(a.tobytes() in train_rows for a in ds.x_test)
    with pytest.raises(DatasetError, match="training images per class"):
        load_dataset("folder", {"path": str(tmp_path), "image_size": 8, "train_per_class": 10})


def test_orl_faces_five_per_person(shared_datasets):
    ds = load_dataset("folder", {"path": str(shared_datasets / "orl_faces"), "image_size": [56, 46],
                                 "train_per_class": 5})
    assert ds.num_classes == 40 and len(ds.x_train) == 200 and len(ds.x_test) == 200
    assert set(ds.class_counts("test").values()) == {5} and ds.input_shape == (56, 46, 1)


def test_folder_images_are_centre_cropped_like_a_predict_upload(tmp_path):
    # A wide picture: black bars left and right of a white square. Cropped, the model sees only white;
    # the Predict page fits an upload the same way by default, so training and prediction agree.
    from PIL import Image

    from core.data.folder import load_folder
    from core.data.images import load_image

    wide = np.zeros((20, 60), np.uint8)
    wide[:, 20:40] = 255
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.fromarray(wide).save(tmp_path / cls / f"{i}.png")
    ds = load_folder(str(tmp_path), image_size=8, channels=1, train_per_class=2)
    assert ds.x_train.min() > 0.9 and ds.x_train.mean() > 0.97  # stretched, a third would be black
    with open(tmp_path / "a" / "0.png", "rb") as f:
        np.testing.assert_allclose(load_image(f.read(), (8, 8, 1)), ds.x_test[0], atol=1e-6)



# --- a bounded walk, only the class folders' files listed, a test image for every dataset --------

import time  # noqa: E402

from bad_files import png16_zeros  # noqa: E402
from core.data.folder import MAX_DEPTH  # noqa: E402

# Times below are CPU times of the test's thread (time.thread_time): other work on the machine does not count.


def test_a_folder_holding_too_many_files_is_refused_quickly(tmp_path, monkeypatch):
    make_class_tree(tmp_path, classes=("a", "b"), per_class=3)
    junk = tmp_path / "b" / "node_modules"
    junk.mkdir()
    for i in range(60):
        (junk / f"{i}.js").write_text("x")
    monkeypatch.setenv("CNNLAB_MAX_FOLDER_FILES", "50")
    start = time.thread_time()
    with pytest.raises(DatasetError, match=r"holding at most 50 files\. Received: .*which holds more\. Pick the one "
                                           r"folder whose sub-folders are the classes"):
        load_dataset("folder", {"path": str(tmp_path), "image_size": 8})
    assert time.thread_time() - start < 1.0
    monkeypatch.setenv("CNNLAB_MAX_FOLDER_FILES", "100")  # 2 classes, 6 images, a folder and 60 files: 70 entries
    assert len(load_dataset("folder", {"path": str(tmp_path), "image_size": 8}).x_train) > 0


def test_the_root_of_the_disk_is_refused_not_walked(monkeypatch):
    monkeypatch.setenv("CNNLAB_MAX_FOLDER_FILES", "2000")
    start = time.thread_time()
    with pytest.raises(DatasetError, match="holding at most 2,000 files"):
        load_dataset("folder", {"path": "/usr", "image_size": 8})
    assert time.thread_time() - start < 2.0


def test_only_the_class_folders_own_files_are_listed_as_skipped(tmp_path):
    make_class_tree(tmp_path, classes=("a", "b"), per_class=4)
    (tmp_path / "a" / "notes.txt").write_text("a note in the class folder")
    project = tmp_path / "b" / "project"
    for i in range(20):
        (project / "src").mkdir(parents=True, exist_ok=True)
        (project / "src" / f"{i}.py").write_text("x = 1")
    nested = tmp_path / "b" / "2019" / "summer"
    save_image(Image.new("RGB", (8, 8), "red"), nested / "red.png", "PNG")
    deep = tmp_path / "a" / "1" / "2" / "3"
    save_image(Image.new("RGB", (8, 8), "blue"), deep / "blue.png", "PNG")
    ds = load_dataset("folder", {"path": str(tmp_path), "image_size": 8})
    assert sorted(ds.warnings) == ["a/1/2/3/: more than 3 folders deep inside a class folder, not read",
                                   "a/notes.txt: not an image file type"]
    assert ds.class_counts("train")["b"] + ds.class_counts("test")["b"] == 5  # 4 and the one 2 folders down
    assert MAX_DEPTH == 3


def test_an_image_over_the_pixel_limit_is_skipped_with_the_reason(tmp_path):
    make_class_tree(tmp_path, classes=("a", "b"), per_class=3)
    (tmp_path / "a" / "huge.png").write_bytes(png16_zeros(7000, 7000))
    start = time.thread_time()
    ds = load_dataset("folder", {"path": str(tmp_path), "image_size": 8})
    assert time.thread_time() - start < 2.0
    assert ds.warnings == ["a/huge.png: The image declares 7000x7000 pixels (49 MP); at most 16 MP are accepted. "
                           "Expected a smaller picture: scale it down, to 4000x4000 or less, and try again."]
    assert len(ds.x_train) + len(ds.x_test) == 6


def test_one_image_per_class_is_refused_with_the_reason(tmp_path):
    make_class_tree(tmp_path, classes=("a", "b"), per_class=1)
    with pytest.raises(DatasetError, match=r"Each class needs at least 2 images to keep one for testing\. "
                                           r"Received: 1 in a, 1 in b"):
        load_dataset("folder", {"path": str(tmp_path), "image_size": 8})
    save_image(Image.new("RGB", (8, 8), "red"), tmp_path / "b" / "extra.png", "PNG")
    ds = load_dataset("folder", {"path": str(tmp_path), "image_size": 8})  # just enough: b keeps one for testing
    assert len(ds.x_test) == 1 and len(ds.x_train) == 2


def test_a_split_folder_without_test_images_is_refused(tmp_path):
    make_class_tree(tmp_path / "train", classes=("a", "b"), per_class=3)
    (tmp_path / "test" / "a").mkdir(parents=True)
    (tmp_path / "test" / "a" / "notes.txt").write_text("x")
    with pytest.raises(DatasetError, match=r"Expected readable images in test/ to test the model with\. "
                                           r"Received: none \(3 in a, 3 in b in train/\)"):
        load_dataset("folder", {"path": str(tmp_path), "image_size": 8})


# --- memory: checked before decoding, and a load takes about the dataset's own size --------------------------------


def test_a_dataset_over_the_memory_limit_is_refused_before_any_image_is_decoded(tmp_path, monkeypatch):
    from core.data import folder

    make_class_tree(tmp_path, classes=("a", "b"), per_class=10)
    # 20 images of 64x64x3 float32 are 983,040 bytes
    monkeypatch.setenv("CNNLAB_MAX_DATASET_BYTES", "900K")
    decoded = []
    monkeypatch.setattr(folder, "decode_image", lambda data: decoded.append(1))
    with pytest.raises(DatasetError, match=r"Expected a dataset of at most 900 KB in memory \(CNNLAB_MAX_DATASET_BYTES\)\. "
                                           r"Received: 20 images of 64x64x3, 960 KB as the network's input\. At this "
                                           r"size 18 images fit: choose a smaller input size"):
        load_dataset("folder", {"path": str(tmp_path), "image_size": 64})
    assert decoded == []
    monkeypatch.undo()
    monkeypatch.setenv("CNNLAB_MAX_DATASET_BYTES", "900K")
    ds = load_dataset("folder", {"path": str(tmp_path), "image_size": 32})  # a quarter of the size: accepted
    assert len(ds.x_train) + len(ds.x_test) == 20


def test_the_split_is_the_same_as_indexing_the_decoded_images(tmp_path):
    from core.data.folder import stratified_split
    from core.data.images import decode_image, read_image_file, to_model_input

    make_class_tree(tmp_path, classes=("a", "b", "c"), per_class=9)
    (tmp_path / "b" / "3.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)  # one unreadable: 26 images
    ds = load_dataset("folder", {"path": str(tmp_path), "image_size": 12, "seed": 5})
    files = [(p, c) for c, name in enumerate("abc") for p in sorted((tmp_path / name).iterdir(), key=_natural)
             if p.name != "3.png" or name != "b"]
    reference = np.stack([to_model_input(decode_image(read_image_file(p)), (12, 12, 3), fit="crop") for p, _ in files])
    labels = np.asarray([c for _, c in files])
    train, test = stratified_split(labels, 0.2, 5)
    np.testing.assert_array_equal(ds.x_train, reference[train])
    np.testing.assert_array_equal(ds.y_train, labels[train])
    np.testing.assert_array_equal(ds.x_test, reference[test])
    np.testing.assert_array_equal(ds.y_test, labels[test])


def _natural(path):
    import re

    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


@pytest.mark.parametrize("seed", range(5))
def test_moving_rows_to_the_front_in_place_matches_numpy_indexing(seed):
    from core.data.folder import _to_front

    rng = np.random.default_rng(seed)
    x = rng.random((40, 3, 2))
    rows = np.sort(rng.choice(40, size=int(rng.integers(0, 41)), replace=False))
    expected = x[rows].copy()
    out = _to_front(x, rows)
    np.testing.assert_array_equal(out, expected)
    assert out.base is x or out.base is x.base  # a view of the same memory, not a copy


def test_a_load_takes_little_more_memory_than_its_images(tmp_path):
    import tracemalloc

    make_class_tree(tmp_path, classes=("a", "b"), per_class=60)
    load_dataset("folder", {"path": str(tmp_path), "image_size": 4})  # the decoders' imports and caches, once
    tracemalloc.start()
    try:
        ds = load_dataset("folder", {"path": str(tmp_path), "image_size": 64})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    images = ds.x_train.nbytes + ds.x_test.nbytes  # 120 x 64x64x3 float32: 5.9 MB
    # the test fifth is copied out of the array the images were decoded into; a list, a stack and the split's
    # copies took about 3 times the images
    assert peak < 1.4 * images, (peak, images)

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


"""core.datasets: every loader returns the same Dataset shape, or a DatasetError that says why."""

from __future__ import annotations

import gzip
import json
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.datasets import DATASETS, Dataset, DatasetError, DatasetUnavailableError, load_dataset
from core.datasets.idx import IDX_FILES, read_idx

SMALL_SHAPES = {"n_train": 200, "n_test": 80}

MNIST_FIRST_TRAIN_LABELS = [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
FASHION_FIRST_TRAIN_LABELS = [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]


def assert_well_formed(ds: Dataset) -> None:
    """What every Dataset promises: float32 NHWC in [0, 1], int64 labels indexing class_names."""
    for x, y in ((ds.x_train, ds.y_train), (ds.x_test, ds.y_test)):
        assert x.dtype == np.float32
        assert x.ndim == 4 and x.shape[-1] in (1, 3)
        assert x.shape[1:] == ds.x_train.shape[1:]
        assert len(x) == len(y)
        assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
        assert y.dtype == np.int64
        if len(y):
            assert y.min() >= 0 and y.max() < ds.num_classes
    assert ds.input_shape == tuple(ds.x_train.shape[1:])
    json.dumps(ds.reference())  # metadata must be plain JSON


# --- shapes ------------------------------------------------------------------------------

def test_shapes_default_size():
    ds = load_dataset("shapes")
    assert_well_formed(ds)
    assert ds.x_train.shape == (4000, 32, 32, 3)
    assert ds.x_test.shape == (1000, 32, 32, 3)
    assert ds.class_names == ["circle", "square", "triangle", "star"]
    assert ds.class_counts("train") == {name: 1000 for name in ds.class_names}
    assert ds.class_counts("test") == {name: 250 for name in ds.class_names}
    assert DATASETS["shapes"].offline


def test_shapes_small_is_balanced_and_varied():
    ds = load_dataset("shapes", SMALL_SHAPES)
    assert_well_formed(ds)
    assert ds.x_train.shape == (200, 32, 32, 3) and ds.x_test.shape == (80, 32, 32, 3)
    assert set(ds.class_counts().values()) == {50}
    assert set(ds.class_counts("test").values()) == {20}
    # Labels are shuffled, not in blocks, and images use a good part of the range.
    assert len(set(ds.y_train[:8].tolist())) > 1
    assert ds.x_train.std() > 0.1


def test_shapes_same_seed_same_arrays_other_seed_other_arrays():
    a = load_dataset("shapes", {**SMALL_SHAPES, "seed": 3})
    b = load_dataset("shapes", {**SMALL_SHAPES, "seed": 3})
    c = load_dataset("shapes", {**SMALL_SHAPES, "seed": 4})
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.x_train, c.x_train)
    assert a.options == {**SMALL_SHAPES, "size": 32, "seed": 3}
    # The options reload the same dataset.
    np.testing.assert_array_equal(load_dataset("shapes", a.options).x_test, a.x_test)


def test_shapes_train_and_test_share_no_image():
    ds = load_dataset("shapes", SMALL_SHAPES)
    train = {img.tobytes() for img in ds.x_train}
    assert not any(img.tobytes() in train for img in ds.x_test)
    assert len(train) == len(ds.x_train)  # no duplicates inside train either


# --- digits ------------------------------------------------------------------------------

def test_digits_shape_classes_and_stratified_split():
    from sklearn.datasets import load_digits

    ds = load_dataset("digits")
    assert_well_formed(ds)
    assert ds.input_shape == (8, 8, 1)
    assert ds.class_names == [str(i) for i in range(10)]
    assert len(ds.x_train) + len(ds.x_test) == 1797
    total = np.bincount(load_digits().target, minlength=10)
    test_counts = np.bincount(ds.y_test, minlength=10)
    # Each class gives round(20%) of its images to the test split.
    np.testing.assert_array_equal(test_counts, np.round(total * 0.2).astype(int))
    assert ds.x_train.max() == pytest.approx(1.0)  # sklearn pixels 0..16 scaled by 1/16
    # Every image is a real sklearn digit with its label: match on the raw pixels.
    sk = load_digits()
    by_pixels = {(img / 16.0).astype(np.float32).tobytes(): int(t) for img, t in zip(sk.images, sk.target)}
    for x, y in zip(ds.x_test[:50], ds.y_test[:50]):
        assert by_pixels[x[..., 0].tobytes()] == int(y)


# --- idx reader --------------------------------------------------------------------------

def write_idx(path: Path, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write an idx file (type 0x08, unsigned bytes), gzip-compressed when the name ends in .gz."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    payload = header + np.ascontiguousarray(array, np.uint8).tobytes()
    compress = path.suffix == ".gz" if compress is None else compress
    if compress:
        with gzip.open(path, "wb") as f:
            f.write(payload)
    else:
        path.write_bytes(payload)
    return path


def write_idx_folder(folder: Path, n_train=6, n_test=4, size=28, y_train=None, y_test=None, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, size, size), dtype=np.uint8),
        "y_train": np.asarray(y_train if y_train is not None else np.arange(n_train) % 10, np.uint8),
        "x_test": rng.integers(0, 256, (n_test, size, size), dtype=np.uint8),
        "y_test": np.asarray(y_test if y_test is not None else np.arange(n_test) % 10, np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for key, fname in IDX_FILES.items():
        write_idx(folder / fname, arrays[key])
    return arrays


@pytest.mark.parametrize("name", ["images.idx", "images.idx.gz"])
def test_read_idx_round_trip(tmp_path, name):
    arr = np.random.default_rng(0).integers(0, 256, (3, 4, 5), dtype=np.uint8)
    out = read_idx(write_idx(tmp_path / name, arr))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, arr)


def test_mnist_from_idx_folder(tmp_path):
    arrays = write_idx_folder(tmp_path / "mnist")
    ds = load_dataset("mnist", {"folder": str(tmp_path / "mnist")})
    assert_well_formed(ds)
    assert ds.x_train.shape == (6, 28, 28, 1) and ds.x_test.shape == (4, 28, 28, 1)
    np.testing.assert_array_equal(ds.x_train[..., 0], arrays["x_train"].astype(np.float32) / 255)
    np.testing.assert_array_equal(ds.y_train, arrays["y_train"])
    assert ds.options == {"folder": str(tmp_path / "mnist")}


def test_idx_folder_also_reads_uncompressed_files(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8), "y_train": np.arange(5, dtype=np.uint8),
              "x_test": rng.integers(0, 256, (2, 28, 28), dtype=np.uint8), "y_test": np.arange(2, dtype=np.uint8)}
    for key, fname in IDX_FILES.items():
        write_idx(tmp_path / fname[:-3], arrays[key], compress=False)
    ds = load_dataset("fashion_mnist", {"folder": str(tmp_path)})
    np.testing.assert_array_equal(ds.y_test, [0, 1])
    assert ds.class_names[0] == "T-shirt/top"


def _idx_bytes(array: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape) + array.tobytes()


GOOD_IDX = _idx_bytes(np.zeros((2, 3, 3), np.uint8))

CORRUPT_IDX = {
    "bad_magic": b"\x12\x34" + GOOD_IDX[2:],
    "unknown_type_code": GOOD_IDX[:2] + b"\x07" + GOOD_IDX[3:],
    "data_too_short": GOOD_IDX[:-5],
    "data_too_long": GOOD_IDX + b"\x00" * 7,
    "header_only_partly_there": GOOD_IDX[:6],
    "empty": b"",
}


@pytest.mark.parametrize("case", list(CORRUPT_IDX))
def test_corrupted_idx_raises_dataset_error(tmp_path, case):
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(CORRUPT_IDX[case])
    with pytest.raises(DatasetError):
        read_idx(path)


@pytest.mark.parametrize("case", ["not_gzip", "truncated_gzip"])
def test_broken_gzip_idx_raises_dataset_error(tmp_path, case):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    good = gzip.compress(_idx_bytes(np.zeros((20, 28, 28), np.uint8)))
    path.write_bytes(GOOD_IDX if case == "not_gzip" else good[: len(good) // 2])
    with pytest.raises(DatasetError, match="idx"):
        read_idx(path)


def test_a_gzip_bomb_named_as_an_idx_file_is_refused_without_unpacking_it(monkeypatch):
    import core.datasets.idx as idx

    monkeypatch.setattr(idx, "MAX_IDX_BYTES", 2**20)
    bomb = gzip.compress(bytes([0, 0, 0x08, 1]) + (2**21).to_bytes(4, "big") + bytes(2**21))
    with pytest.raises(DatasetError, match="at most 1 MB unpacked. Received: t10k-labels-idx1-ubyte.gz"):
        idx.parse_idx(bomb, "t10k-labels-idx1-ubyte.gz")
    assert idx.parse_idx(gzip.compress(bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 8, 9])), "x.gz").tolist() == [7, 8, 9]


def test_idx_folder_missing_file_names_the_files(tmp_path):
    write_idx_folder(tmp_path)
    (tmp_path / IDX_FILES["y_test"]).unlink()
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte"):
        load_dataset("mnist", {"folder": str(tmp_path)})


def test_classic_missing_folder_raises(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        load_dataset("mnist", {"folder": str(tmp_path / "nowhere")})


@pytest.mark.parametrize("case", ["label_out_of_range", "more_labels_than_images"])
def test_idx_folder_with_inconsistent_labels_raises(tmp_path, case):
    # Files that do not fit together (a label 12 for ten classes, a label file for another
    # image file) must be refused with a DatasetError, not turned into a Dataset whose
    # labels index past class_names or do not line up with the images.
    if case == "label_out_of_range":
        write_idx_folder(tmp_path, n_train=6, y_train=[0, 1, 2, 3, 4, 12])
    else:
        write_idx_folder(tmp_path, n_test=3, y_test=[0, 1, 2, 3, 4])
    with pytest.raises(DatasetError):
        load_dataset("mnist", {"folder": str(tmp_path)})


# --- real MNIST / Fashion-MNIST files ----------------------------------------------------

@pytest.mark.parametrize("name, first_labels", [("mnist", MNIST_FIRST_TRAIN_LABELS),
                                                ("fashion_mnist", FASHION_FIRST_TRAIN_LABELS)])
def test_real_idx_files(shared_datasets, name, first_labels):
    ds = load_dataset(name, {"folder": str(shared_datasets / name)})
    assert ds.x_train.shape == (60000, 28, 28, 1)
    assert ds.x_test.shape == (10000, 28, 28, 1)
    assert ds.num_classes == 10
    assert ds.y_train[:10].tolist() == first_labels
    assert_well_formed(ds)
    assert ds.x_train.max() == 1.0 and ds.x_train.min() == 0.0
    # The official sets are nearly balanced: every class holds 9-12% of the training images.
    shares = np.bincount(ds.y_train, minlength=10) / len(ds.y_train)
    assert shares.min() > 0.09 and shares.max() < 0.12


# --- folder loader -----------------------------------------------------------------------

def _save(img: Image.Image, path: Path, fmt: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format=fmt)


def make_class_tree(root: Path, classes=("cat", "dog"), per_class=5, seed=0) -> None:
    """root/<class>/ with PNG, JPEG and PGM images of different sizes."""
    rng = np.random.default_rng(seed)
    for ci, name in enumerate(classes):
        for i in range(per_class):
            h, w = int(rng.integers(10, 40)), int(rng.integers(10, 40))
            if i % 3 == 0:
                _save(Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)), root / name / f"{i}.png", "PNG")
            elif i % 3 == 1:
                _save(Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)), root / name / f"{i}.jpg", "JPEG")
            else:
                _save(Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8), "L"), root / name / f"{i}.pgm", "PPM")


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
            _save(Image.fromarray(rng.integers(0, 256, (12, 10), dtype=np.uint8), "L"), tmp_path / name / f"{i}.png", "PNG")
    ds = load_dataset("folder", {"path": str(tmp_path), "image_size": [12, 10]})
    assert ds.class_names == ["s1", "s2", "s10"]
    assert ds.input_shape == (12, 10, 1)  # every image greyscale: 1 channel


def test_folder_loader_keeps_train_test_split(tmp_path):
    make_class_tree(tmp_path / "train", classes=("a", "b"), per_class=4, seed=1)
    make_class_tree(tmp_path / "test", classes=("a", "b"), per_class=2, seed=2)
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


# --- download failure and bad names ------------------------------------------------------

def load_offline(name: str, make_subprocess_env, **env) -> dict:
    """``load_dataset(name)`` in a child process whose downloads all fail at once.

    A proxy on a closed local port makes every download fail the same way with or
    without a network: urllib, used by Keras's and scikit-learn's fetchers, honours it.
    Returns the exception's type, message and class hierarchy.
    """
    proxy = "http://127.0.0.1:9"
    env = make_subprocess_env(HTTPS_PROXY=proxy, HTTP_PROXY=proxy, https_proxy=proxy, http_proxy=proxy,
                              NO_PROXY="", no_proxy="", **env)
    script = textwrap.dedent(f"""
        import json
        from core.datasets import load_dataset
        try:
            load_dataset({name!r})
        except Exception as exc:
            print("RESULT " + json.dumps({{"type": type(exc).__name__, "message": str(exc),
                                          "mro": [c.__name__ for c in type(exc).__mro__]}}))
        else:
            print("RESULT " + json.dumps({{"type": None}}))
    """)
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def test_offline_download_explains_how_to_supply_files(tmp_path, make_subprocess_env):
    result = load_offline("mnist", make_subprocess_env, KERAS_HOME=str(tmp_path))
    assert result["type"] == "DatasetUnavailableError", result
    assert "DatasetError" in result["mro"]
    message = result["message"]
    assert "Could not download" in message
    assert "folder" in message and "train-images-idx3-ubyte.gz" in message
    # Nothing half-downloaded is left in the cache.
    assert not list(tmp_path.rglob("mnist.npz"))


def test_unknown_dataset_name_raises():
    with pytest.raises(DatasetError, match="no_such_dataset"):
        load_dataset("no_such_dataset")


BAD_OPTIONS = {
    "shapes_unknown_option": ("shapes", {"bogus": 1}),
    "digits_given_a_folder": ("digits", {"folder": "/tmp"}),
    "folder_unknown_option": ("folder", {"path": "/tmp", "bogus": 2}),
    "shapes_negative_count": ("shapes", {"n_train": -5}),
    "folder_zero_image_size": ("folder", {"path": "FOLDER", "image_size": 0}),
}


@pytest.mark.parametrize("case", list(BAD_OPTIONS))
def test_bad_options_raise_dataset_error(tmp_path, case):
    # load_dataset's contract: "DatasetError: unknown name, bad options or unreadable files".
    # A TypeError or ZeroDivisionError from deep inside a loader is not a message for the user.
    name, options = BAD_OPTIONS[case]
    if options.get("path") == "FOLDER":
        make_class_tree(tmp_path, classes=("a", "b"), per_class=3)
        options = {**options, "path": str(tmp_path)}
    with pytest.raises(DatasetError):
        load_dataset(name, options)


def test_unavailable_error_is_a_dataset_error():
    assert issubclass(DatasetUnavailableError, DatasetError)


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


def test_offline_olivetti_download_explains_the_folder_alternative(tmp_path, make_subprocess_env):
    result = load_offline("olivetti", make_subprocess_env, SCIKIT_LEARN_DATA=str(tmp_path))
    assert result["type"] == "DatasetUnavailableError", result
    assert "Could not download the Olivetti faces" in result["message"]
    assert "s1 ... s40" in result["message"]


def test_uploaded_idx_files_are_checked_before_anything_is_stored(tmp_path):
    from core.datasets.idx import IDX_FILES, save_idx_uploads

    def idx(array: np.ndarray) -> bytes:
        header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
        return gzip.compress(header + array.astype(np.uint8).tobytes())

    good = {IDX_FILES["x_train"]: idx(np.zeros((3, 4, 4))), IDX_FILES["y_train"]: idx(np.arange(3)),
            IDX_FILES["x_test"]: idx(np.ones((2, 4, 4))), IDX_FILES["y_test"]: idx(np.arange(2))}
    with pytest.raises(DatasetError, match="Missing"):
        save_idx_uploads(dict(list(good.items())[:3]), tmp_path / "a")
    with pytest.raises(DatasetError, match=f"Received: {IDX_FILES['y_test']}$"):  # the uploaded file's own name
        save_idx_uploads({**good, IDX_FILES["y_test"]: gzip.compress(b"not idx at all")}, tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    folder = save_idx_uploads(good, tmp_path / "c")
    ds = load_dataset("mnist", {"folder": str(folder)})
    assert ds.x_train.shape == (3, 4, 4, 1) and ds.y_test.tolist() == [0, 1]


@pytest.mark.parametrize("size", [8, 12, 16, 19])
def test_shapes_draws_small_images_too(size):
    from core.datasets.shapes import load_shapes

    ds = load_shapes(n_train=40, n_test=8, size=size, seed=1)
    assert ds.x_train.shape == (40, size, size, 3)
    # every image shows a shape: foreground and background differ somewhere
    assert np.all(ds.x_train.reshape(40, -1).std(axis=1) > 0.05)


def test_folder_images_are_centre_cropped_like_a_predict_upload(tmp_path):
    # A wide picture: black bars left and right of a white square. Cropped, the model sees only white;
    # the Predict page fits an upload the same way by default, so training and prediction agree.
    from PIL import Image

    from core.datasets.folder import load_folder
    from core.images import load_image

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

"""core.data.classic: MNIST and Fashion-MNIST from idx files, and CIFAR-10 uploads checked before they are kept."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from core.data import DatasetError, load_dataset
from core.data.classic import save_cifar_upload
from core.data.idx import IDX_FILES
from dataset_files import assert_well_formed, write_idx, write_idx_folder
from download_fixtures import BATCHES, cifar_archive, leftovers, tar_gz

MNIST_FIRST_TRAIN_LABELS = [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
FASHION_FIRST_TRAIN_LABELS = [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]


# --- MNIST and Fashion-MNIST from idx files ------------------------------------------------


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


# --- CIFAR-10 uploads ------------------------------------------------------------------------


def test_a_cifar_upload_is_checked_stored_and_loadable(tmp_path):
    folder = save_cifar_upload(io.BytesIO(cifar_archive(per_batch=10)), tmp_path / "cifar10")
    ds = load_dataset("cifar10", {"folder": str(folder)})
    assert (len(ds.x_train), len(ds.x_test)) == (50, 10)
    # a second upload replaces the first
    save_cifar_upload(io.BytesIO(cifar_archive(per_batch=12)), folder)
    assert len(load_dataset("cifar10", {"folder": str(folder)}).x_test) == 12
    assert leftovers(folder) == []


class RunsCode:
    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (str(self.path),))


def test_a_cifar_upload_whose_pickle_runs_code_is_refused(tmp_path):
    payload = tmp_path / "payload-ran"
    evil = pickle.dumps({b"data": RunsCode(payload), b"labels": []}, protocol=2)
    data = tar_gz({**BATCHES, "cifar-10-batches-py/test_batch": evil})
    with pytest.raises(DatasetError, match="not part of a CIFAR-10 batch"):
        save_cifar_upload(io.BytesIO(data), tmp_path / "stored")
    assert not payload.exists()
    assert not (tmp_path / "stored" / "cifar-10-batches-py").exists()


@pytest.mark.parametrize("data, reason", [
    (b"not a tar at all", "Expected a .tar.gz archive"),
    (tar_gz({"cifar-10-batches-py/data_batch_1": b"x"}), "Expected an official CIFAR-10 batch"),
    (tar_gz({"other/readme.txt": b"hello"}), "Received: an archive holding other"),
])
def test_a_cifar_upload_that_is_not_the_official_archive_is_refused(tmp_path, data, reason):
    with pytest.raises(DatasetError, match=reason):
        save_cifar_upload(io.BytesIO(data), tmp_path / "stored")
    assert not (tmp_path / "stored" / "cifar-10-batches-py").exists() and leftovers(tmp_path) == []



def test_a_refused_cifar_upload_leaves_the_stored_batches_as_they_were(tmp_path):
    folder = save_cifar_upload(io.BytesIO(cifar_archive(per_batch=10)), tmp_path / "cifar10")
    before = load_dataset("cifar10", {"folder": str(folder)})
    with pytest.raises(DatasetError, match="Expected an official CIFAR-10 batch"):
        save_cifar_upload(io.BytesIO(tar_gz({**BATCHES, "cifar-10-batches-py/test_batch": b"x"})), folder)
    after = load_dataset("cifar10", {"folder": str(folder)})
    np.testing.assert_array_equal(after.x_train, before.x_train)
    np.testing.assert_array_equal(after.y_test, before.y_test)
    assert leftovers(tmp_path) == [] and sorted(p.name for p in folder.iterdir() if p.name.startswith(".cifar-10")) == [
        (folder / "cifar-10-batches-py").resolve().name]


def test_a_cifar_reader_never_sees_batches_of_two_uploads(tmp_path):
    import threading
    import time

    from core.data.classic import _read_cifar_batches

    archives = {n: cifar_archive(per_batch=n) for n in (10, 11, 12)}  # each upload's batches have their own size
    folder = save_cifar_upload(io.BytesIO(archives[10]), tmp_path / "cifar10")
    stop, sizes, errors = threading.Event(), [], []
    began = threading.Event()  # a swap once the reader has begun its next read (see test_idx's twin)

    def replace() -> None:
        while not stop.is_set():
            for n in (11, 12, 10):
                while not began.wait(0.1):
                    if stop.is_set():
                        return
                began.clear()
                save_cifar_upload(io.BytesIO(archives[n]), folder)
                sizes.append("swap")

    def read() -> None:
        while not stop.is_set():
            began.set()
            try:
                x_train, y_train, x_test, y_test = _read_cifar_batches(folder)
                sizes.append((len(x_train), len(y_train), len(x_test), len(y_test)))
            except Exception as exc:  # noqa: BLE001 - any failure of a reader is the test's failure
                errors.append(repr(exc))

    threads = [threading.Thread(target=replace), threading.Thread(target=read)]
    for t in threads:
        t.start()
    # until both have done enough, however loaded the machine (the deadline is a bound, not a wait)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not errors and (list(sizes).count("swap") <= 5 or len(
            {s[2] for s in list(sizes) if s != "swap"}) <= 1):
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join()
    reads = [s for s in sizes if s != "swap"]
    assert errors == [] and all(s == (5 * s[2], 5 * s[2], s[2], s[2]) for s in reads), (errors[:3], reads[:5])
    assert sizes.count("swap") > 5 and len({s[2] for s in reads}) > 1, sizes[:10]

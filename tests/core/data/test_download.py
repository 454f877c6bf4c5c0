"""core.data.download: real downloads from a localhost mirror into Keras's cache layout.

Every test points ``$CNNLAB_DATASET_MIRROR`` at a local ``http.server`` thread, or at a
closed local port to be offline, and ``$KERAS_HOME`` at a temporary folder: nothing
here reaches the internet or the user's own cache (``tests/download_fixtures.py``).
The downloads from other processes are in ``tests/system/test_dataset_downloads.py``.
"""

from __future__ import annotations

import io
import pickle
import tarfile
import threading
from collections import Counter

import numpy as np
import pytest

from core.data import DatasetUnavailableError, load_dataset
from core.data import download
from core.data.classic import save_cifar_upload
from core.data.download import SOURCES, UnsafeArchiveError, download_file, extract_tar_safely, fetch_dataset
from core.data.idx import IDX_FILES
from download_fixtures import (BATCHES, Recorder, assert_monotonic_to_one, cifar_archive, cifar_batch, idx_set,
                               leftovers, link, mnist_npz, special, tar_gz, with_hash)

# Every test of this module has a Keras cache of its own, offline unless it starts a mirror.
pytestmark = pytest.mark.usefixtures("private_cache")


# --- downloads ------------------------------------------------------------------------------


def test_fashion_mnist_downloads_into_the_keras_layout_once(mirror, private_cache):
    mirror.files, arrays = idx_set()
    rec = Recorder()
    ds = load_dataset("fashion_mnist", progress=rec)
    np.testing.assert_array_equal(ds.y_train, arrays["y_train"])
    np.testing.assert_allclose(ds.x_test[..., 0], arrays["x_test"] / 255.0, atol=1e-6)
    assert ds.input_shape == (28, 28, 1) and str(private_cache / "fashion-mnist") in ds.source
    assert sorted(p.name for p in (private_cache / "fashion-mnist").iterdir()) == sorted(IDX_FILES.values())
    assert leftovers(private_cache) == []
    assert_monotonic_to_one(rec)
    assert any("MB" in m and "downloading" in m for _, m in rec.calls), rec.calls

    load_dataset("fashion_mnist")  # the second time comes from the cache
    assert mirror.requests == Counter({name: 1 for name in IDX_FILES.values()})


def test_download_file_reports_bytes_and_megabytes(mirror, tmp_path):
    mirror.files["big.bin"] = data = bytes(range(256)) * 4000  # 1 MB in 8 chunks
    rec = Recorder()
    download_file(mirror.url + "big.bin", tmp_path / "big.bin", progress=rec)
    assert (tmp_path / "big.bin").read_bytes() == data
    assert_monotonic_to_one(rec)
    assert rec.calls[-1][1] == "downloading big.bin: 1.0 of 1.0 MB"


def test_mnist_npz_is_checked_by_its_hash_and_read_without_pickles(mirror, monkeypatch, private_cache):
    _, arrays = idx_set(n_train=20, n_test=5)
    mirror.files["mnist.npz"] = data = mnist_npz(arrays)
    with_hash(monkeypatch, "mnist", data)
    ds = load_dataset("mnist")
    assert len(ds.x_train) == 20 and ds.class_counts("test")["4"] == 1
    assert (private_cache / "mnist.npz").read_bytes() == data


def test_a_file_with_the_wrong_hash_is_refused_and_deleted(mirror, private_cache):
    _, arrays = idx_set()
    mirror.files["mnist.npz"] = mnist_npz(arrays)  # not Keras's mnist.npz: its SHA-256 differs
    with pytest.raises(DatasetUnavailableError, match="SHA-256") as info:
        load_dataset("mnist")
    assert f"{mirror.url}mnist.npz" in str(info.value) and SOURCES["mnist"].files[0].sha256 in str(info.value)
    assert sorted(p.name for p in private_cache.iterdir() if not p.name.endswith(".lock")) == []


def test_a_fashion_file_that_is_not_idx_is_refused(mirror, private_cache):
    mirror.files, _ = idx_set()
    mirror.files[IDX_FILES["x_test"]] = b"<html>Service unavailable</html>"
    with pytest.raises(DatasetUnavailableError, match="not in the expected format"):
        load_dataset("fashion_mnist")
    assert not (private_cache / "fashion-mnist" / IDX_FILES["x_test"]).exists()
    assert leftovers(private_cache) == []


def test_a_transfer_that_breaks_off_is_refused(mirror, monkeypatch, private_cache):
    _, arrays = idx_set()
    mirror.files["mnist.npz"] = data = mnist_npz(arrays)
    with_hash(monkeypatch, "mnist", data)
    mirror.short_by = 100
    with pytest.raises(DatasetUnavailableError, match="broke off"):
        load_dataset("mnist")
    assert not (private_cache / "mnist.npz").exists() and leftovers(private_cache) == []


def test_a_missing_file_reports_the_http_status(mirror):
    with pytest.raises(DatasetUnavailableError, match="HTTP 404") as info:
        load_dataset("cifar10")
    assert f"{mirror.url}cifar-10-python.tar.gz" in str(info.value)


def test_two_threads_download_once_and_both_read_it(mirror, private_cache):
    mirror.files, _ = idx_set()
    mirror.delay = 0.05  # each file takes about 0.4 s, so the second thread arrives during the first download
    results, errors, recs = [], [], [Recorder(), Recorder()]
    start = threading.Barrier(2)

    def fetch(rec):
        start.wait()
        try:
            results.append(fetch_dataset("fashion_mnist", progress=rec))
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=fetch, args=(rec,)) for rec in recs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and results == [private_cache / "fashion-mnist"] * 2
    assert mirror.requests == Counter({name: 1 for name in IDX_FILES.values()})
    assert any("waiting for another download" in m for rec in recs for _, m in rec.calls)


def test_offline_the_message_names_the_url_the_reason_and_both_imports():
    with pytest.raises(DatasetUnavailableError) as info:
        load_dataset("mnist")
    message = str(info.value)
    assert f"{download.file_url('mnist', SOURCES['mnist'].files[0])}" in message
    assert "no connection" in message and "refused" in message.lower()
    assert "Upload the official files" in message and "Local folder with the official files" in message
    assert all(name in message for name in IDX_FILES.values())

    with pytest.raises(DatasetUnavailableError) as info:
        load_dataset("cifar10")
    message = str(info.value)
    assert "cifar-10-python.tar.gz" in message and "data_batch_1" in message and "test_batch" in message


def test_cifar10_download_is_extracted_in_the_keras_3_layout(mirror, monkeypatch, private_cache):
    mirror.files["cifar-10-python.tar.gz"] = data = cifar_archive(per_batch=20)
    with_hash(monkeypatch, "cifar10", data)
    rec = Recorder()
    ds = load_dataset("cifar10", progress=rec)
    assert len(ds.x_train) == 100 and len(ds.x_test) == 20 and ds.input_shape == (32, 32, 3)
    # the pickled rows are channel-first (R plane, G plane, B plane): check one pixel's channels
    first = pickle.loads(cifar_batch(20, 1))[b"data"][0]
    np.testing.assert_allclose(ds.x_train[0, 0, 0] * 255, first[[0, 1024, 2048]], atol=1e-3)
    assert (private_cache / "cifar-10-batches-py-target_archive").read_bytes() == data
    assert (private_cache / "cifar-10-batches-py-target" / "cifar-10-batches-py" / "test_batch").is_file()
    assert leftovers(private_cache) == []
    assert_monotonic_to_one(rec)
    assert any(m.startswith("extracting") for _, m in rec.calls)


def test_an_existing_keras_cache_is_read_without_a_request(mirror, private_cache):
    files, arrays = idx_set()
    (private_cache / "fashion-mnist").mkdir(parents=True)
    for name, data in files.items():
        (private_cache / "fashion-mnist" / name).write_bytes(data)
    keras2 = private_cache / "cifar-10-batches-py"  # where Keras 2 extracted CIFAR-10
    keras2.mkdir()
    for i, name in enumerate(download.CIFAR_BATCHES):
        (keras2 / name).write_bytes(cifar_batch(10, i))
    assert len(load_dataset("fashion_mnist").x_train) == 30
    assert len(load_dataset("cifar10").x_train) == 50
    assert mirror.requests == Counter()


def test_a_cached_file_with_the_wrong_hash_is_downloaded_again(mirror, monkeypatch, private_cache):
    _, arrays = idx_set()
    mirror.files["mnist.npz"] = data = mnist_npz(arrays)
    with_hash(monkeypatch, "mnist", data)
    private_cache.mkdir(parents=True)
    (private_cache / "mnist.npz").write_bytes(data[: len(data) // 2])  # half a file from an interrupted download
    assert len(load_dataset("mnist").x_train) == 30
    assert mirror.requests["mnist.npz"] == 1 and (private_cache / "mnist.npz").read_bytes() == data


# --- archives ----------------------------------------------------------------------------------


EVIL_ARCHIVES = {  # name -> (archive given the test's folder, the reason it is refused)
    "parent_path": (lambda tmp: tar_gz({**BATCHES, "cifar-10-batches-py/../../evil.txt": b"x"}), "stay inside"),
    "absolute_path": (lambda tmp: tar_gz({**BATCHES, str(tmp / "evil.txt"): b"x"}), "stay inside"),
    "symlink": (lambda tmp: tar_gz(BATCHES, [link("cifar-10-batches-py/passwd", "/etc/passwd")]), "a link"),
    "symlink_inside": (lambda tmp: tar_gz(BATCHES, [link("cifar-10-batches-py/alias", "test_batch")]), "a link"),
    "hardlink": (lambda tmp: tar_gz(BATCHES, [link("cifar-10-batches-py/hard", "/etc/passwd", tarfile.LNKTYPE)]),
                 "a link"),
    "device": (lambda tmp: tar_gz(BATCHES, [special("cifar-10-batches-py/dev", tarfile.CHRTYPE)]), "a special file"),
    "fifo": (lambda tmp: tar_gz(BATCHES, [special("cifar-10-batches-py/pipe", tarfile.FIFOTYPE)]), "a special file"),
}


@pytest.mark.parametrize("case", list(EVIL_ARCHIVES))
def test_an_unsafe_archive_is_refused(tmp_path, case):
    build, reason = EVIL_ARCHIVES[case]
    data = build(tmp_path)
    with pytest.raises(UnsafeArchiveError, match=reason):
        extract_tar_safely(io.BytesIO(data), tmp_path / "a" / "b" / "out")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "a" / "evil.txt").exists()
    # as an upload, nothing is kept
    with pytest.raises(UnsafeArchiveError, match=reason):
        save_cifar_upload(io.BytesIO(data), tmp_path / "a" / "b" / "stored")
    assert [p.name for p in (tmp_path / "a" / "b" / "stored").iterdir() if not p.name.endswith(".lock")] == []
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "a" / "evil.txt").exists()


def test_an_unsafe_download_is_refused_and_not_cached(mirror, monkeypatch, private_cache):
    data = EVIL_ARCHIVES["symlink"][0](private_cache)
    mirror.files["cifar-10-python.tar.gz"] = data
    with_hash(monkeypatch, "cifar10", data)
    with pytest.raises(UnsafeArchiveError):
        load_dataset("cifar10")
    assert not (private_cache / "cifar-10-batches-py-target").exists() and leftovers(private_cache) == []


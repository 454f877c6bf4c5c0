"""core.datasets.download: real downloads from a localhost mirror into Keras's cache layout.

Every test points ``$CNNLAB_DATASET_MIRROR`` at a local ``http.server`` thread, or at a
closed local port to be offline, and ``$KERAS_HOME`` at a temporary folder: nothing
here reaches the internet or the user's own cache.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.server
import io
import json
import os
import pickle
import socket
import subprocess
import sys
import tarfile
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from core.datasets import DatasetError, DatasetUnavailableError, load_dataset
from core.datasets import download
from core.datasets.classic import save_cifar_upload
from core.datasets.download import SOURCES, UnsafeArchiveError, download_file, extract_tar_safely, fetch_dataset
from core.datasets.idx import IDX_FILES

# --- files in the official formats, small --------------------------------------------------


def idx_gz(array: np.ndarray) -> bytes:
    """An idx file (magic 0x08 = uint8, then the dimensions), gzipped as published."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes(), mtime=0)


def idx_set(n_train: int = 30, n_test: int = 10, seed: int = 0) -> tuple[dict[str, bytes], dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    arrays = {"x_train": rng.integers(0, 256, (n_train, 28, 28)), "y_train": np.arange(n_train) % 10,
              "x_test": rng.integers(0, 256, (n_test, 28, 28)), "y_test": np.arange(n_test) % 10}
    return {IDX_FILES[k]: idx_gz(a) for k, a in arrays.items()}, arrays


def mnist_npz(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: a.astype(np.uint8) for k, a in arrays.items()})
    return buf.getvalue()


def cifar_batch(n: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    return pickle.dumps({b"batch_label": b"synthetic", b"labels": [int(v) for v in np.arange(n) % 10],
                         b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                         b"filenames": [f"{i}.png".encode() for i in range(n)]}, protocol=2)


def tar_gz(members: dict[str, bytes], extra=()) -> bytes:
    """A .tar.gz of regular files plus ``extra`` TarInfo members (links, devices...)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info)
    return buf.getvalue()


def cifar_archive(per_batch: int = 20) -> bytes:
    members = {f"cifar-10-batches-py/data_batch_{i}": cifar_batch(per_batch, i) for i in range(1, 6)}
    members["cifar-10-batches-py/test_batch"] = cifar_batch(per_batch, 9)
    members["cifar-10-batches-py/batches.meta"] = pickle.dumps({b"label_names": [b"airplane"]}, protocol=2)
    return tar_gz(members)


def with_hash(monkeypatch, name: str, data: bytes) -> None:
    """Make ``name``'s expected SHA-256 that of ``data``, as if ``data`` were the official file."""
    source = SOURCES[name]
    files = tuple(dataclasses.replace(f, sha256=hashlib.sha256(data).hexdigest()) for f in source.files)
    monkeypatch.setitem(SOURCES, name, dataclasses.replace(source, files=files))


# --- the local mirror ----------------------------------------------------------------------


class Mirror:
    """An http.server thread serving ``files`` by name; counts the GET requests per file."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.requests: Counter = Counter()
        self.delay = 0.0  # seconds between chunks, to make a download last
        self.chunks = 8  # pieces each file is sent in
        self.short_by = 0  # bytes left out after announcing the full Content-Length
        mirror = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.lstrip("/")
                mirror.requests[name] += 1
                data = mirror.files.get(name)
                if data is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                body = data[:len(data) - mirror.short_by]
                step = max(1, -(-len(body) // mirror.chunks))
                for start in range(0, len(body), step):
                    self.wfile.write(body[start:start + step])
                    self.wfile.flush()
                    time.sleep(mirror.delay)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"  # nothing listens there any more: connection refused


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch) -> Path:
    """A Keras cache of the test's own, offline unless a test starts a mirror."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv(download.MIRROR_ENV, closed_port_url())
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(var, "*")  # never send the local mirror's requests to a proxy
    return tmp_path / "keras" / "datasets"


@pytest.fixture
def mirror(monkeypatch):
    m = Mirror()
    monkeypatch.setenv(download.MIRROR_ENV, m.url)
    yield m
    m.close()


def leftovers(folder: Path) -> list[str]:
    """Temporary files or folders a download left behind."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".part-*")) if folder.exists() else []


class Recorder:
    def __init__(self):
        self.calls: list[tuple[float, str]] = []

    def __call__(self, fraction: float, message: str) -> None:
        self.calls.append((fraction, message))

    @property
    def fractions(self) -> list[float]:
        return [f for f, _ in self.calls]


def assert_monotonic_to_one(rec: Recorder) -> None:
    assert rec.fractions, "no progress was reported"
    assert all(b >= a for a, b in zip(rec.fractions, rec.fractions[1:])), rec.fractions
    assert rec.fractions[-1] == 1.0
    assert any(0.0 < f < 1.0 for f in rec.fractions), "the bar never moved between 0 and 1"


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


def test_two_processes_download_once(mirror, private_cache, make_subprocess_env):
    mirror.files, _ = idx_set()
    mirror.delay = 0.05
    env = make_subprocess_env(KERAS_HOME=str(private_cache.parent), CNNLAB_DATASET_MIRROR=mirror.url,
                              NO_PROXY="*", no_proxy="*")
    script = "from core.datasets.download import fetch_dataset; print(fetch_dataset('fashion_mnist'))"
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-1500:] for _, err in outputs]
    assert [out.strip() for out, _ in outputs] == [str(private_cache / "fashion-mnist")] * 2
    assert mirror.requests == Counter({name: 1 for name in IDX_FILES.values()})


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


def test_keras_reads_the_cache_this_module_wrote(mirror, private_cache, make_subprocess_env):
    mirror.files, arrays = idx_set()
    fetch_dataset("fashion_mnist")
    proxy = closed_port_url()  # Keras must not download: every request of its own would fail
    env = make_subprocess_env(KERAS_HOME=str(private_cache.parent), HTTPS_PROXY=proxy, HTTP_PROXY=proxy,
                              https_proxy=proxy, http_proxy=proxy, NO_PROXY="", no_proxy="")
    script = textwrap.dedent("""
        import json, keras
        (x, y), (xt, yt) = keras.datasets.fashion_mnist.load_data()
        print("RESULT " + json.dumps([list(x.shape), y.tolist()]))
    """)
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    shape, labels = json.loads(next(l for l in proc.stdout.splitlines() if l.startswith("RESULT "))[7:])
    assert shape == [30, 28, 28] and labels == arrays["y_train"].tolist()


def test_real_files_through_the_downloader(mirror, monkeypatch, private_cache, shared_datasets):
    """The real Fashion-MNIST idx files, and an mnist.npz built from the real MNIST ones."""
    fashion = shared_datasets / "fashion_mnist"
    mirror.files = {name: (fashion / name).read_bytes() for name in IDX_FILES.values()}
    ds = load_dataset("fashion_mnist")
    assert (len(ds.x_train), len(ds.x_test)) == (60_000, 10_000)
    assert set(ds.class_counts("train").values()) == {6000}

    from core.datasets.idx import load_idx_folder

    x_train, y_train, x_test, y_test = load_idx_folder(shared_datasets / "mnist")
    mirror.files["mnist.npz"] = data = mnist_npz({"x_train": x_train, "y_train": y_train,
                                                  "x_test": x_test, "y_test": y_test})
    with_hash(monkeypatch, "mnist", data)
    mnist = load_dataset("mnist")
    assert (len(mnist.x_train), len(mnist.x_test)) == (60_000, 10_000)
    np.testing.assert_array_equal(mnist.y_test, y_test)


# --- archives ----------------------------------------------------------------------------------


def link(name: str, target: str, kind=tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def special(name: str, kind) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    return info


BATCHES = {f"cifar-10-batches-py/{name}": cifar_batch(10, i) for i, name in enumerate(download.CIFAR_BATCHES)}
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


# --- the Data page ---------------------------------------------------------------------------


@pytest.fixture
def fresh_classic_datasets():
    """No MNIST, Fashion-MNIST or CIFAR-10 left in the app's per-process dataset cache by another test."""
    from ui import state

    def drop():
        with state._DATASETS_LOCK:
            for key in [k for k in state._DATASETS if k[0] in SOURCES]:
                del state._DATASETS[key]

    drop()
    yield
    drop()


@pytest.mark.app
def test_data_page_shows_the_download_moving_then_the_dataset(mirror, monkeypatch, fresh_classic_datasets):
    from streamlit.delta_generator import DeltaGenerator

    from apptest_helpers import open_page

    mirror.files, _ = idx_set(n_train=1500)  # 1.2 MB of training images
    mirror.delay = 0.1  # about 0.8 s a file, so the page redraws the bar several times
    drawn, real_progress = [], DeltaGenerator.progress

    def progress(self, value, text=None, **kwargs):
        drawn.append((value, text or ""))
        return real_progress(self, value, text=text, **kwargs)

    monkeypatch.setattr(DeltaGenerator, "progress", progress)
    at = open_page("pages/data.py")
    at.selectbox(key="data_name").set_value("fashion_mnist").run()
    assert at.radio(key="data_source").value == "download"
    at.button(key="data_load").click().run()
    assert not at.exception and not at.error
    assert {m.label: m.value for m in at.metric}["Training images"] == "1,500"
    assert any("Keras dataset cache" in c.value for c in at.caption)

    bar = [(v, t) for v, t in drawn if t.startswith("Fashion-MNIST: ")]
    values = [v for v, _ in bar]
    assert all(b >= a for a, b in zip(values, values[1:])), values
    assert len({v for v in values if 0.0 < v < 1.0}) >= 2, bar  # it moved during the download
    assert any(t.endswith(" MB") and "downloading" in t for _, t in bar), "\n".join(t for _, t in bar)
    assert mirror.requests == Counter({name: 1 for name in IDX_FILES.values()})


@pytest.mark.app
def test_data_page_offline_says_what_failed_and_offers_both_imports(fresh_classic_datasets):
    from apptest_helpers import open_page

    at = open_page("pages/data.py")
    at.selectbox(key="data_name").set_value("cifar10").run()
    at.button(key="data_load").click().run()
    assert not at.exception

    def failure():
        return [e.value for e in at.error if "Could not download CIFAR-10 from http://127.0.0.1:" in e.value]

    assert failure() and "cifar-10-python.tar.gz" in failure()[0] and "no connection" in failure()[0]
    at.slider(key="data_per_class").set_value(5).run()
    assert failure(), "the failure should stay while the same download is chosen"

    at.button(key="data_import_folder").click().run()
    assert at.radio(key="data_source").value == "folder" and at.text_input(key="data_folder")
    at.radio(key="data_source").set_value("download").run()
    at.button(key="data_import_upload").click().run()
    assert at.radio(key="data_source").value == "upload" and not failure()

    at.file_uploader(key="data_cifar_tar").set_value(
        ("cifar-10-python.tar.gz", cifar_archive(per_batch=10), "application/gzip")).run()
    assert not at.exception and not at.error
    assert any("Stored in" in c.value for c in at.caption)
    at.button(key="data_load").click().run()
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Training images"], metrics["Test images"], metrics["Image size"]) == ("50", "10", "32×32×3")

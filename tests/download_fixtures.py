"""Files in the official dataset formats, small, and a local HTTP mirror that serves them.

Shared by the download tests (tests/core/data/test_download.py, test_classic.py,
tests/system/test_dataset_downloads.py and tests/app/test_data_downloads.py). A test module
makes its fixtures from ``offline_cache`` and ``local_mirror``:

    @pytest.fixture(autouse=True)
    def private_cache(tmp_path, monkeypatch):
        return offline_cache(tmp_path, monkeypatch)

    @pytest.fixture
    def mirror(monkeypatch):
        with local_mirror(monkeypatch) as m:
            yield m

so that nothing reaches the internet or the user's own Keras cache.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import http.server
import io
import pickle
import socket
import tarfile
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np

from core.data import download
from core.data.download import SOURCES
from core.data.idx import IDX_FILES

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
        # a short poll: close() returns within 0.05 s instead of serve_forever's default 0.5 s
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"  # nothing listens there any more: connection refused


def offline_cache(tmp_path: Path, monkeypatch) -> Path:
    """A Keras cache of the test's own (``$KERAS_HOME``), offline unless a test starts a mirror."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv(download.MIRROR_ENV, closed_port_url())
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(var, "*")  # never send the local mirror's requests to a proxy
    return tmp_path / "keras" / "datasets"


@contextlib.contextmanager
def local_mirror(monkeypatch):
    """A running ``Mirror`` that ``$CNNLAB_DATASET_MIRROR`` points at, shut down on leaving."""
    m = Mirror()
    monkeypatch.setenv(download.MIRROR_ENV, m.url)
    try:
        yield m
    finally:
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


def link(name: str, target: str, kind=tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def special(name: str, kind) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    return info


BATCHES = {f"cifar-10-batches-py/{name}": cifar_batch(10, i) for i, name in enumerate(download.CIFAR_BATCHES)}


"""Download MNIST, Fashion-MNIST and CIFAR-10 once, into Keras's own cache.

The files, hashes and layout are those of ``keras.datasets`` (under ``$KERAS_HOME``
or ``~/.keras``), so a cache Keras filled is read here, and the other way round::

    datasets/mnist.npz
    datasets/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
    datasets/cifar-10-batches-py-target_archive     (cifar-10-python.tar.gz as downloaded)
    datasets/cifar-10-batches-py-target/cifar-10-batches-py/

A file is read from the network in chunks into a temporary file beside its target,
checked (Keras's SHA-256 where Keras has one, the file format otherwise) and renamed
into place, so no reader ever sees half a file. One lock per dataset, taken by threads
(``threading``) and processes (``fcntl``) alike, makes a second request wait for the
first download and then read the cache.

``$CNNLAB_DATASET_MIRROR`` replaces every dataset's base URL with one base URL whose
files have the official names: a local mirror, or a test server.

    >>> path = fetch_dataset("mnist", progress=lambda f, m: print(f"{f:.0%} {m}"))

Over 300 lines on purpose: fetching, checking, the safe unpacking of the CIFAR-10 archive and the
cross-process lock are one path through which every downloaded byte goes, and its guarantees
(no half file, no path outside the cache, one download for every process) are read together.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable

from core.data.base import DatasetError, DatasetUnavailableError, ProgressFn
from core.data.idx import IDX_FILES, read_idx

try:
    import fcntl
except ImportError:  # Windows: the thread lock still serialises the downloads of one server
    fcntl = None

MIRROR_ENV = "CNNLAB_DATASET_MIRROR"
CIFAR_DIR = "cifar-10-batches-py"
CIFAR_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
_CHUNK = 256 * 1024
_TIMEOUT = 30  # seconds without an answer or a byte before a download counts as failed
_KERAS_BASE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_IDX_NAMES = ", ".join(IDX_FILES.values())


@dataclass(frozen=True)
class RemoteFile:
    name: str  # the official file name: the last part of its URL
    sha256: str | None = None  # the hash keras.datasets checks, where it checks one
    approx_bytes: int = 1  # only weighs this file's share of the progress bar
    check: Callable[[Path], object] | None = None  # raises DatasetError for a file of the wrong format


@dataclass(frozen=True)
class DatasetSource:
    title: str
    base_url: str  # where keras.datasets downloads from
    files: tuple[RemoteFile, ...]
    cache_name: str  # the file or folder under datasets/ that keras.datasets reads
    upload_hint: str  # what to upload on the Data page instead
    folder_hint: str  # what a local folder must hold instead


SOURCES: dict[str, DatasetSource] = {
    "mnist": DatasetSource(
        "MNIST digits", _KERAS_BASE,
        (RemoteFile("mnist.npz", "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1", 11_490_434),),
        "mnist.npz",
        upload_hint=f"the four official idx files ({_IDX_NAMES})",
        folder_hint="those four files, or Keras's mnist.npz,"),
    "fashion_mnist": DatasetSource(
        "Fashion-MNIST", _KERAS_BASE,
        # keras.datasets.fashion_mnist checks no hash; the idx reader checks the format instead.
        tuple(RemoteFile(name, None, size, read_idx) for name, size in zip(
            IDX_FILES.values(), (26_421_880, 29_515, 4_422_102, 5_148))),
        "fashion-mnist",
        upload_hint=f"the four official idx files ({_IDX_NAMES})",
        folder_hint="those four files"),
    "cifar10": DatasetSource(
        "CIFAR-10", "https://www.cs.toronto.edu/~kriz/",
        (RemoteFile("cifar-10-python.tar.gz", "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
                    170_498_071),),
        "cifar-10-batches-py-target",
        upload_hint="the official archive cifar-10-python.tar.gz",
        folder_hint=f"its extracted {CIFAR_DIR} folder (data_batch_1 to data_batch_5 and test_batch)"),
}


class DownloadError(DatasetUnavailableError):
    """One file could not be downloaded, or was not the file expected."""

    def __init__(self, url: str, reason: str):
        super().__init__(f"Could not download {url}: {reason}")
        self.url, self.reason = url, reason


class UnsafeArchiveError(DatasetError):
    """An archive holds something that must not be extracted (links, devices, paths leaving it)."""


def keras_cache_dir() -> Path:
    """``datasets/`` under ``$KERAS_HOME`` or ``~/.keras``, as ``keras.utils.get_file`` picks it."""
    if "KERAS_HOME" in os.environ:
        base = Path(os.environ["KERAS_HOME"]).expanduser()
    else:
        home = Path.home()
        base = (home if os.access(home, os.W_OK) else Path("/tmp")) / ".keras"
    if base.exists() and not os.access(base, os.W_OK):
        base = Path(tempfile.gettempdir()) / ".keras"  # get_file's fallback for a read-only cache
    return base / "datasets"


def file_url(name: str, file: RemoteFile) -> str:
    base = os.environ.get(MIRROR_ENV) or SOURCES[name].base_url
    return base.rstrip("/") + "/" + file.name


def cached_path(name: str) -> Path | None:
    """Where the dataset's files are in the cache when complete, else None; never downloads."""
    root, source = keras_cache_dir(), SOURCES[name]
    if name == "cifar10":
        # Keras 3 extracts into cifar-10-batches-py-target/, Keras 2 straight into datasets/.
        for folder in (root / source.cache_name / CIFAR_DIR, root / CIFAR_DIR):
            if all((folder / b).is_file() for b in CIFAR_BATCHES):
                return folder
        return None
    folder = root / source.cache_name if name == "fashion_mnist" else root
    if all((folder / f.name).is_file() and _has_hash(folder / f.name, f.sha256) for f in source.files):
        return root / source.cache_name
    return None


def fetch_dataset(name: str, progress: ProgressFn | None = None) -> Path:
    """The cached files of ``mnist``, ``fashion_mnist`` or ``cifar10``, downloaded first if missing.

    Returns:
        ``mnist.npz`` for MNIST, the folder of the four idx files for Fashion-MNIST, the
        ``cifar-10-batches-py`` folder for CIFAR-10.

    Raises:
        DatasetUnavailableError: a download failed, or gave a file other than the official
            one; the message names the URL, the reason and how to import the files instead.
        DatasetError: the cache folder cannot be written.
    """
    if name not in SOURCES:
        raise DatasetError(f"Expected one of {sorted(SOURCES)}. Received: {name!r}")
    source, report = SOURCES[name], _Reporter(progress)
    found = cached_path(name)
    if found is None:
        root = keras_cache_dir()
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatasetError(f"Could not create the dataset cache {root}: {exc}") from exc
        waiting = f"waiting for another download of {source.title} to finish"
        with dataset_lock(root / f".{source.cache_name}.lock", on_wait=lambda: report(0.0, waiting, force=True)):
            found = cached_path(name)  # whoever held the lock may have filled the cache meanwhile
            if found is None:
                try:
                    found = _download_cifar(root, report) if name == "cifar10" else _download_files(name, root, report)
                except DownloadError as exc:
                    raise DatasetUnavailableError(
                        f"Could not download {source.title} from {exc.url}: {exc.reason}. "
                        f"To use it without a network, import the official files instead: upload "
                        f"{source.upload_hint} on the Data page (Source: Upload the official files), or copy "
                        f"{source.folder_hint} into a folder on this machine and choose that folder "
                        f"(Source: Local folder with the official files).") from exc
    report(1.0, f"{source.title} is in the cache ({found})", force=True)
    return found


def _download_files(name: str, root: Path, report: "_Reporter") -> Path:
    source = SOURCES[name]
    folder = root / source.cache_name if name == "fashion_mnist" else root
    missing = [f for f in source.files if not ((folder / f.name).is_file() and _has_hash(folder / f.name, f.sha256))]
    _remove_stale(folder, [f".part-*-{f.name}" for f in missing])
    total, done = sum(f.approx_bytes for f in missing), 0
    for f in missing:
        share = f.approx_bytes / total
        download_file(file_url(name, f), folder / f.name, sha256=f.sha256, check=f.check,
                      progress=report.scaled(done, done + share))
        done += share
    return root / source.cache_name


def _download_cifar(root: Path, report: "_Reporter") -> Path:
    f = SOURCES["cifar10"].files[0]
    archive = root / f"{SOURCES['cifar10'].cache_name}_archive"  # the name keras.utils.get_file gives it
    if not (archive.is_file() and _has_hash(archive, f.sha256)):
        _remove_stale(root, [f".part-*-{archive.name}"])
        download_file(file_url("cifar10", f), archive, sha256=f.sha256, check=f.check, progress=report.scaled(0.0, 0.9))
    target = root / SOURCES["cifar10"].cache_name
    _remove_stale(root, [".part-cifar-*"])
    work = Path(tempfile.mkdtemp(prefix=".part-cifar-", dir=root))
    try:
        extract_tar_safely(archive, work, progress=report.scaled(0.9, 1.0))
        if not all((work / CIFAR_DIR / b).is_file() for b in CIFAR_BATCHES):
            raise DatasetError(f"Expected {CIFAR_DIR}/ with {', '.join(CIFAR_BATCHES)} in {archive}.")
        if target.exists():
            shutil.rmtree(target)  # incomplete, or cached_path would have found it; we hold the lock
        os.rename(work, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target / CIFAR_DIR


def _remove_stale(folder: Path, patterns: list[str]) -> None:
    """Delete what a killed download left behind; only called under the dataset's lock."""
    for pattern in patterns:
        for path in folder.glob(pattern):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def download_file(url: str, target: Path, sha256: str | None = None, check: Callable[[Path], object] | None = None,
                  progress: ProgressFn | None = None) -> Path:
    """Download ``url`` to ``target`` through a temporary file, renamed into place once checked.

    Args:
        url: http(s) or file URL.
        target: the file to create or replace.
        sha256: the expected hash; a file with another one is deleted and refused.
        check: called with the downloaded file; a DatasetError it raises refuses the file.
        progress: called with (bytes done / total, message with MB figures).

    Raises:
        DownloadError: no answer, an HTTP error, a short read, the wrong hash or format.
    """
    target = Path(target)
    report = progress if isinstance(progress, _Reporter) else _Reporter(progress)
    target.parent.mkdir(parents=True, exist_ok=True)
    # The suffix keeps the official name's (".gz"), which the format check relies on.
    fd, tmp_name = tempfile.mkstemp(prefix=".part-", suffix=f"-{target.name}", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _stream(url, out, report, target.name)
            out.flush()
            os.fsync(out.fileno())
        if sha256 and digest != sha256:
            raise DownloadError(url, f"the file is not the official one (SHA-256 {digest}, expected {sha256}); "
                                     f"it was deleted")
        if check is not None:
            try:
                check(tmp)
            except DatasetError as exc:
                raise DownloadError(url, f"the file is not in the expected format ({exc}); it was deleted") from exc
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def _stream(url: str, out: BinaryIO, report: "_Reporter", name: str) -> str:
    """Copy ``url`` into ``out`` chunk by chunk; return the SHA-256 of what came."""
    hasher, done, total = hashlib.sha256(), 0, None
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "cnn-lab"})
        with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            report(0.0, f"downloading {name} from {url}", force=True)
            while chunk := response.read1(_CHUNK):  # what has arrived, so the bar moves on a slow line
                try:
                    out.write(chunk)
                except OSError as exc:  # the disk, not the network: not a download failure
                    raise DatasetError(f"Could not write {name} into the dataset cache: {exc}") from exc
                hasher.update(chunk)
                done += len(chunk)
                of = f" of {total / 1e6:.1f}" if total else ""
                report(done / total if total else 0.0, f"downloading {name}: {done / 1e6:.1f}{of} MB")
    except urllib.error.HTTPError as exc:
        raise DownloadError(url, f"the server answered HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise DownloadError(url, f"no connection ({exc.reason})") from exc
    except (OSError, http.client.HTTPException) as exc:  # timeouts, resets, truncated chunks
        raise DownloadError(url, f"the transfer broke off after {done / 1e6:.1f} MB ({type(exc).__name__}: {exc})") from exc
    if total is not None and done != total:
        raise DownloadError(url, f"the transfer broke off after {done / 1e6:.1f} of {total / 1e6:.1f} MB")
    return hasher.hexdigest()


def extract_tar_safely(archive: Path | BinaryIO, target: Path, progress: ProgressFn | None = None,
                       max_bytes: int = 512 * 1024**2, max_members: int = 1000) -> Path:
    """Extract a ``.tar`` or ``.tar.gz`` into the folder ``target``, refusing anything unsafe.

    Members that are links, devices or FIFOs, or whose path is absolute or climbs out with
    ``..``, refuse the whole archive, as do more than ``max_members`` members or
    ``max_bytes`` of content; tarfile's ``data`` filter checks every member once more.

    Raises:
        UnsafeArchiveError: the archive is refused; what was extracted so far stays in
            ``target``, so give a fresh temporary folder and delete it on error.
        DatasetError: not a tar archive, or damaged.
    """
    report = _Reporter(progress)
    with contextlib.ExitStack() as stack:
        raw = stack.enter_context(open(archive, "rb")) if isinstance(archive, (str, os.PathLike)) else archive
        raw.seek(0, os.SEEK_END)
        size = max(raw.tell(), 1)
        raw.seek(0)
        try:
            tar = stack.enter_context(tarfile.open(fileobj=raw, mode="r:*"))
            count, content = 0, 0
            for member in tar:
                _check_member(member)
                count, content = count + 1, content + member.size
                if count > max_members or content > max_bytes:
                    raise UnsafeArchiveError(f"Expected at most {max_members} files and {max_bytes / 1e6:.0f} MB "
                                             f"in the archive. Received: more, at {member.name!r}")
                tar.extract(member, target, set_attrs=False, **_DATA_FILTER)
                report(raw.tell() / size, f"extracting {member.name}")
        except _FILTER_ERROR as exc:
            raise UnsafeArchiveError(f"Expected an archive of plain files. Received: {exc}") from exc
        except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
            raise DatasetError(f"Expected a .tar.gz archive. Received: a damaged or different file ({exc})") from exc
    report(1.0, "extracted", force=True)
    return Path(target)


# tarfile's "data" filter (Python 3.12, backported to 3.8.17+): also refuses what it finds unsafe.
_DATA_FILTER = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
_FILTER_ERROR = getattr(tarfile, "FilterError", ())


def _check_member(member: tarfile.TarInfo) -> None:
    if member.issym() or member.islnk():
        raise UnsafeArchiveError(f"Expected an archive of plain files. Received: a link {member.name!r} "
                                 f"-> {member.linkname!r}")
    if not (member.isfile() or member.isdir()):
        raise UnsafeArchiveError(f"Expected an archive of plain files. Received: a special file {member.name!r}")
    path = PurePosixPath(member.name)
    if path.is_absolute() or ".." in path.parts or "\x00" in member.name:
        raise UnsafeArchiveError(f"Expected paths that stay inside the archive's folder. Received: {member.name!r}")


@contextlib.contextmanager
def dataset_lock(path: Path, on_wait: Callable[[], object] | None = None):
    """Hold the lock file ``path`` against other threads (threading) and processes (fcntl)."""
    with _GUARD:
        lock = _THREAD_LOCKS.setdefault(str(Path(path).resolve()), threading.Lock())
    if not lock.acquire(blocking=False):
        if on_wait:
            on_wait()
        lock.acquire()
    try:
        with open(path, "a+b") as fh:
            if fcntl is not None:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    if on_wait:
                        on_wait()
                    fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(fh, fcntl.LOCK_UN)
    finally:
        lock.release()


_GUARD = threading.Lock()
_THREAD_LOCKS: dict[str, threading.Lock] = {}
_VERIFIED: set[tuple[str, int, int]] = set()  # (path, size, mtime) of cached files whose hash matched


def _has_hash(path: Path, sha256: str | None) -> bool:
    """Whether a cached file has the expected hash, checked once per process and file version."""
    if sha256 is None:
        return True
    info = path.stat()
    key = (str(path), info.st_size, info.st_mtime_ns)
    if key not in _VERIFIED:
        hasher = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(1024 * 1024):
                hasher.update(chunk)
        if hasher.hexdigest() != sha256:
            return False  # half a file Keras left behind, or another version: downloaded again
        _VERIFIED.add(key)
    return True


class _Reporter:
    """Forwards (fraction, message) to a ProgressFn: never backwards, at most about 20 times a second."""

    def __init__(self, progress: ProgressFn | None, lo: float = 0.0, hi: float = 1.0, parent: "_Reporter" = None):
        self.progress, self.lo, self.hi, self.parent = progress, lo, hi, parent
        self.last, self.last_time = -1.0, 0.0

    def scaled(self, lo: float, hi: float) -> "_Reporter":
        """A reporter whose 0..1 is this one's lo..hi."""
        return _Reporter(None, lo, hi, parent=self)

    def __call__(self, fraction: float, message: str, force: bool = False) -> None:
        fraction = self.lo + (self.hi - self.lo) * min(max(fraction, 0.0), 1.0)
        if self.parent is not None:
            self.parent(fraction, message, force)
            return
        if self.progress is None or fraction < self.last:
            return
        now = time.monotonic()
        if force or fraction >= 1.0 or fraction - self.last >= 0.01 or now - self.last_time >= 0.05:
            self.last, self.last_time = fraction, now
            self.progress(fraction, message)

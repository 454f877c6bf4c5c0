"""Keras's ImageNet weights files: downloaded once into Keras's cache, or imported, and always checked.

A network's file (``Network.file_name``) is cached where ``keras.applications`` caches it,
``$KERAS_HOME/models`` or ``~/.keras/models``, so a cache Keras filled is used here and the other
way round. A file is used only once it is checked (``check_weights_file``):

- it is an HDF5 file that opens (a file cut short does not);
- its hash is the one Keras publishes for that network (MD5, as Keras checks it), or one the
  teacher lists in ``$CNNLAB_WEIGHTS_CHECKSUMS`` (lines ``HASH  FILE_NAME``, as ``md5sum`` or
  ``sha256sum`` write them: weights the teacher built or fine-tuned, or made for a test);
- Keras publishes no hash for MobileNetV2's file: that one is proved by loading it into the
  network, where every weight's shape must match (``build_network``).

A download goes through ``core.data.download`` (chunks into a temporary file, the progress
bar, no half file ever under the final name, one download at a time across processes);
``$CNNLAB_WEIGHTS_MIRROR`` replaces Keras's addresses with one base URL holding the official
file names (a school's own copy). Offline, ``WeightsDownloadError`` names the address that failed.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import BinaryIO

from core.data.base import DatasetError, ProgressFn
from core.data.download import DownloadError, dataset_lock, download_file, keras_cache_dir
from core.models.imagenet import NETWORKS, Network, NetworkError

MIRROR_ENV = "CNNLAB_WEIGHTS_MIRROR"
CHECKSUMS_ENV = "CNNLAB_WEIGHTS_CHECKSUMS"
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_CHUNK = 1024 * 1024
_CHECKED: dict[tuple, str] = {}  # (path, size, mtime) -> how it was checked, once per process and file version


class WeightsError(NetworkError):
    """A weights file that is not the network's: another network's, cut short, or not a weights file at all."""


class WeightsDownloadError(WeightsError):
    """The weights could not be downloaded; ``url`` is the address that failed."""

    def __init__(self, net: Network, url: str, reason: str):
        super().__init__(f"Could not download {net.title}'s ImageNet weights from {url}: {reason}")
        self.url = url


def weights_dir() -> Path:
    """``models/`` of Keras's cache, where ``keras.applications`` keeps its weights files."""
    return keras_cache_dir().parent / "models"


def weights_path(net: Network) -> Path:
    return weights_dir() / net.file_name


def _lock_file(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


def weights_url(net: Network) -> str:
    base = os.environ.get(MIRROR_ENV)
    return base.rstrip("/") + "/" + net.file_name if base else net.url


def trusted_hashes(net: Network) -> set[str]:
    """The hashes a file of ``net`` may have: Keras's published one and those the teacher lists."""
    hashes = {net.file_hash} if net.file_hash else set()
    listing = os.environ.get(CHECKSUMS_ENV)
    if listing:
        try:
            lines = Path(listing).expanduser().read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise WeightsError(f"{CHECKSUMS_ENV} names a file that cannot be read: {exc}") from exc
        for line in lines:
            match = re.fullmatch(r"\s*([0-9a-fA-F]{32}|[0-9a-fA-F]{64})\s+\*?(\S+)\s*", line)
            if match and Path(match.group(2)).name == net.file_name:
                hashes.add(match.group(1).lower())
    return hashes


def file_digest(path: Path, algorithm: str) -> str:
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


class _Digests:
    """A file's MD5 and SHA-256, each computed once, when first asked for."""

    def __init__(self, path: Path):
        self.path, self.done = path, {}

    def matching(self, hashes: set[str]) -> set[str]:
        for h in hashes:
            algorithm = "md5" if len(h) == 32 else "sha256"
            if algorithm not in self.done:
                self.done[algorithm] = file_digest(self.path, algorithm)
        return set(self.done.values()) & hashes

    def any(self) -> str:
        return self.done.get("md5") or file_digest(self.path, "md5")


def _size(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{int(n)} bytes"


def check_weights_file(net: Network, path: str | Path, label: str = "") -> str:
    """Check that ``path`` is ``net``'s ImageNet weights file; returns how ("published hash", "teacher's
    hash", or "no published hash" for a file only its loading can prove).

    Args:
        label: the file's name in messages (an upload's name; by default the file's own).

    Raises:
        WeightsError: not an HDF5 file, cut short, or not this network's (another network's file is named).
    """
    path = Path(path)
    label = label or path.name
    info = path.stat()
    key = (str(path.resolve()), info.st_size, info.st_mtime_ns, net.key)
    if key in _CHECKED:
        return _CHECKED[key]
    expected = f"about {_size(net.weight_bytes)}"
    with open(path, "rb") as fh:
        head = fh.read(len(HDF5_SIGNATURE))
    if head != HDF5_SIGNATURE:
        raise WeightsError(f"{label} is not a Keras weights file (.h5, HDF5): it does not start as one. "
                           f"{net.title}'s is {net.file_name}, {expected}.")
    try:
        import h5py

        with h5py.File(path, "r") as h5:
            h5.attrs.get("layer_names")
    except (OSError, ValueError) as exc:
        raise WeightsError(f"{label} cannot be read as a weights file ({_size(info.st_size)}; {net.title}'s is "
                           f"{expected}): it is cut short or damaged ({exc}).") from exc
    hashes = trusted_hashes(net)
    if not hashes:
        how = "no published hash"
    else:
        digests = _Digests(path)
        if not digests.matching(hashes):
            other = next((o.title for o in NETWORKS.values() if o.key != net.key
                          and digests.matching(trusted_hashes(o))), None)
            if other:
                raise WeightsError(f"{label} holds {other}'s weights, not {net.title}'s.")
            raise WeightsError(
                f"{label} is not {net.title}'s ImageNet weights as Keras publishes them ({_size(info.st_size)}; Keras's "
                f"is {expected}): its MD5 is {digests.any()}, expected {' or '.join(sorted(hashes))}. It may be "
                f"another network's weights, or cut short.")
        how = "published hash" if net.file_hash and digests.matching({net.file_hash}) else "teacher's hash"
    _CHECKED[key] = how
    return how


def cached_weights(net: Network) -> Path | None:
    """The network's checked weights file in Keras's cache, or None (absent, or a file that fails the check)."""
    path = weights_path(net)
    if not path.is_file():
        return None
    try:
        check_weights_file(net, path)
    except WeightsError:
        return None
    return path


def fetch_weights(net: Network, progress: ProgressFn | None = None) -> Path:
    """``net``'s weights file, downloaded into Keras's cache first if it is not there (checked either way).

    Raises:
        WeightsDownloadError: no connection, an HTTP error, a short read, or not the published file.
    """
    path = weights_path(net)
    path.parent.mkdir(parents=True, exist_ok=True)
    with dataset_lock(_lock_file(path)):  # a second tab, or another server process, waits for this download
        if (found := cached_weights(net)) is not None:
            return found
        url = weights_url(net)

        def check(tmp: Path) -> None:
            try:
                if check_weights_file(net, tmp, label=net.file_name) == "no published hash":
                    _prove_by_loading(net, tmp, net.file_name)
            except WeightsError as exc:
                raise DatasetError(str(exc)) from exc

        try:
            download_file(url, path, check=check, progress=progress)
        except DownloadError as exc:
            raise WeightsDownloadError(net, url, exc.reason) from exc
        except DatasetError as exc:  # the disk, not the network
            raise WeightsError(str(exc)) from exc
    return path


def import_weights(net: Network, source: BinaryIO | bytes, name: str = "") -> Path:
    """Put a weights file a user gives (an upload's bytes, or an open file) into Keras's cache for ``net``.

    The file goes to a temporary name beside its place, is checked, and only then renamed into place;
    a file refused leaves the cache as it was.

    Raises:
        WeightsError: the file is not ``net``'s (``check_weights_file``), or is far bigger than it can be.
    """
    limit = int(net.weight_bytes * 1.25) + 2**20  # HDF5's overhead is a few percent
    target = weights_path(net)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".import-", suffix=".h5", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        written = 0
        with os.fdopen(fd, "wb") as out:
            data = source if isinstance(source, (bytes, bytearray, memoryview)) else None
            chunks = [bytes(data)] if data is not None else iter(lambda: source.read(_CHUNK), b"")
            for chunk in chunks:
                written += len(chunk)
                if written > limit:
                    raise WeightsError(f"{name or 'This file'} is over {_size(limit)}: far more than {net.title}'s "
                                       f"weights ({_size(net.weight_bytes)}).")
                out.write(chunk)
        if check_weights_file(net, tmp, label=name) == "no published hash":
            _prove_by_loading(net, tmp, name)
        with dataset_lock(_lock_file(target)):
            os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def _prove_by_loading(net: Network, path: Path, name: str) -> None:
    """A file with no hash to check is proved by loading it: every weight's shape must be the network's."""
    from core.models.imagenet import build_network

    try:
        build_network(net, path)
    except NetworkError as exc:
        raise WeightsError(f"{name or path.name} is not {net.title}'s weights: {exc}") from exc


def find_weights_files(net: Network, roots: list[Path], depth: int = 2, budget: int = 5000) -> list[Path]:
    """Files named as ``net``'s weights file in ``roots`` and their sub-folders ``depth`` levels down (the folders
    a teacher shares: ``core.settings.folder_roots``); at most ``budget`` entries are looked at."""
    found, left = [], [budget]

    def scan(folder: Path, level: int) -> None:
        subs = []
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    left[0] -= 1
                    if left[0] < 0:
                        return
                    if entry.name == net.file_name and entry.is_file(follow_symlinks=False):
                        found.append(Path(entry.path))
                    elif entry.is_dir(follow_symlinks=False) and not entry.name.startswith("."):
                        subs.append(Path(entry.path))
        except OSError:
            return
        if level < depth:
            for sub in sorted(subs):
                scan(sub, level + 1)

    for root in roots:
        scan(Path(root), 0)
    return sorted(found)


# --- the networks loaded in this process -----------------------------------------------------------------

_LOADED: dict[str, object] = {}
_LOAD_LOCK = threading.Lock()


def loaded_network(key: str):
    """The network if this process has loaded it already, else None (never waits)."""
    return _LOADED.get(key)


def loaded_networks() -> list[Network]:
    return [NETWORKS[k] for k in list(_LOADED)]


def load_network(key: str):
    """The network ``key``, loaded from its checked weights on the first call in this process and shared after:
    every caller gets the same object and must never change it (the others wait for the first load).

    Raises:
        NetworkError: its weights are not in the cache, do not fit it, or it would pass
            ``CNNLAB_MAX_IMAGENET_BYTES`` with the networks loaded already.
    """
    from core.models.imagenet import build_network, check_memory
    from core.settings import limits

    with _LOAD_LOCK:
        if key in _LOADED:
            return _LOADED[key]
        net = NETWORKS[key]
        path = cached_weights(net)
        if path is None:
            raise NetworkError(f"{net.title}'s ImageNet weights are not on this server yet: download or import "
                               "them on the Models page.")
        check_memory(net, loaded_networks(), limits().max_imagenet_bytes)
        _LOADED[key] = build_network(net, path)
        return _LOADED[key]


def write_weights_file(model, path: str | Path) -> Path:
    """Write a network's weights as Keras's published files are written (the HDF5 layout ``keras.applications``
    loads: ``layer_names``, one group per layer), e.g. a network a teacher fine-tuned, to list in
    ``$CNNLAB_WEIGHTS_CHECKSUMS``. Written to a temporary name beside ``path``, then renamed into place."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    try:
        with h5py.File(tmp, "w") as f:
            legacy_h5_format.save_weights_to_hdf5_group(f, model)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path

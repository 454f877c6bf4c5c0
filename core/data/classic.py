"""MNIST, Fashion-MNIST and CIFAR-10: downloaded once into Keras's cache, or local files.

With no folder given, ``core.data.download`` fetches the official files into
``~/.keras/datasets`` (or ``$KERAS_HOME``), where ``keras.datasets`` keeps them too,
and they are read from there with NumPy. Without a network that fails with a
message saying what failed and how to import the files instead: a folder holding
them, or an upload on the Data page (``save_idx_uploads``, ``save_cifar_upload``).
"""

from __future__ import annotations

import codecs
import pickle
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

from core.data.base import Dataset, DatasetError, ProgressFn, validate_arrays
from core.data.download import CIFAR_BATCHES, CIFAR_DIR, dataset_lock, extract_tar_safely, fetch_dataset
from core.data.idx import IDX_FILES, load_idx_folder
from core.data.versioned_folder import publish_folder, read_folder

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]

_INFO = {
    "mnist": {
        "title": "MNIST digits",
        "description": "70,000 handwritten digits, 28x28 grey (LeCun & Cortes). The classic first CNN dataset.",
        "classes": [str(i) for i in range(10)],
        "manual": "the four official idx files (" + ", ".join(IDX_FILES.values()) + ") or Keras's mnist.npz",
    },
    "fashion_mnist": {
        "title": "Fashion-MNIST",
        "description": "70,000 photos of clothes, 28x28 grey (Zalando). Same format as MNIST, harder to classify.",
        "classes": FASHION_CLASSES,
        "manual": "the four official idx files (" + ", ".join(IDX_FILES.values()) + ")",
    },
    "cifar10": {
        "title": "CIFAR-10",
        "description": "60,000 small colour photos, 32x32 RGB, of ten classes such as cats, ships and trucks (Krizhevsky 2009).",
        "classes": CIFAR10_CLASSES,
        "manual": (f"the extracted '{CIFAR_DIR}' folder (data_batch_1..5, test_batch), "
                   "or a folder with train/<class>/ and test/<class>/ image folders"),
    },
}


class _BatchUnpickler(pickle.Unpickler):
    """Rebuilds dicts, lists and NumPy arrays, nothing else.

    A pickle can call any function it names, and a CIFAR-10 batch may come from an
    upload; the official batches need only NumPy's array reconstruction.
    """

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): np.zeros(1).__reduce__()[0],
        ("numpy._core.multiarray", "_reconstruct"): np.zeros(1).__reduce__()[0],
        ("numpy.core.numeric", "_frombuffer"): np.zeros(1).__reduce_ex__(5)[0],  # pickle protocol 5
        ("numpy._core.numeric", "_frombuffer"): np.zeros(1).__reduce_ex__(5)[0],
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): codecs.encode,  # bytes in a protocol-2 pickle written by Python 3
    }

    def find_class(self, module: str, name: str):
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a CIFAR-10 batch") from None


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One official CIFAR-10 batch as (N, 32, 32, 3) uint8 images and int64 labels."""
    if not path.is_file():
        raise DatasetError(f"Expected the CIFAR-10 batch file {path.name} in {path.parent}.")
    try:
        with open(path, "rb") as f:
            batch = _BatchUnpickler(f, encoding="bytes").load()
        data = np.asarray(batch[b"data"], np.uint8)
        x = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        y = np.asarray(batch[b"labels"], np.int64).reshape(-1)
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise DatasetError(f"Expected an official CIFAR-10 batch in {path}. Received: a file that is not one "
                           f"({type(exc).__name__}: {exc})") from exc
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(y) != len(x):
        raise DatasetError(f"Expected a CIFAR-10 batch of 3072-byte rows with one label each in {path}. "
                           f"Received: data of shape {data.shape} and {len(y)} labels")
    return x, y


def _read_cifar_batches(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The six batches of ``folder/cifar-10-batches-py`` (or ``folder`` itself), all of one set
    even while ``save_cifar_upload`` replaces them (``core.data.versioned_folder``)."""
    inner = folder / CIFAR_DIR
    return read_folder(inner if inner.is_dir() else folder, _read_six)


def _read_six(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    parts = [_read_batch(folder / name) for name in CIFAR_BATCHES[:-1]]
    x_test, y_test = _read_batch(folder / CIFAR_BATCHES[-1])
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), x_test, y_test)


def _read_mnist_npz(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Keras's mnist.npz: four arrays, no pickles."""
    try:
        with np.load(path, allow_pickle=False) as f:
            return f["x_train"], f["y_train"], f["x_test"], f["y_test"]
    except (OSError, KeyError, ValueError) as exc:
        raise DatasetError(f"Expected Keras's mnist.npz with x_train, y_train, x_test and y_test. "
                           f"Received: {path} ({exc})") from exc


def save_cifar_upload(archive: Path | BinaryIO, folder: str | Path, progress: ProgressFn | None = None) -> Path:
    """Check an uploaded ``cifar-10-python.tar.gz`` and keep its batches in ``folder``.

    The archive is extracted safely (``extract_tar_safely``) into a temporary folder, every
    batch is read back, and only then does ``folder/cifar-10-batches-py`` appear, or get
    replaced in one step (``core.data.versioned_folder``): a session loading CIFAR-10 meanwhile
    reads the old six batches or the new six, never a mix. ``load_classic("cifar10", folder=folder)``
    then reads it.

    Raises:
        DatasetError: not a tar.gz, unsafe members, or not the official batches; nothing
            is kept then.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".part-", dir=folder))
    try:
        extract_tar_safely(archive, work, progress=(lambda f, m: progress(0.8 * f, m)) if progress else None)
        batches = work / CIFAR_DIR
        if not batches.is_dir():
            found = sorted(p.name for p in work.iterdir())[:5]
            raise DatasetError(f"Expected the official cifar-10-python.tar.gz, whose batches are in {CIFAR_DIR}/. "
                               f"Received: an archive holding {', '.join(found) or 'nothing'}")
        for i, name in enumerate(CIFAR_BATCHES):
            if progress:
                progress(0.8 + 0.2 * i / len(CIFAR_BATCHES), f"checking {name}")
            _read_batch(batches / name)
        with dataset_lock(folder / ".cifar-upload.lock"):  # two sessions may store an upload at once
            publish_folder(batches, folder / CIFAR_DIR)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if progress:
        progress(1.0, "checked and stored")
    return folder


def load_classic(name: str, folder: str | None = None, progress: ProgressFn | None = None) -> Dataset:
    """Load ``mnist``, ``fashion_mnist`` or ``cifar10``.

    Args:
        name: one of the three names.
        folder: a local folder holding the official files; ``None`` reads Keras's cache,
            downloading the files into it on first use.
        progress: called with (fraction, message) while loading; the download's share
            moves with its bytes.

    Raises:
        DatasetUnavailableError: the download failed; the message says how to import the files.
        DatasetError: a folder without the files, or files that are not the official ones.
    """
    if name not in _INFO:
        raise DatasetError(f"Expected one of {sorted(_INFO)}. Received: {name!r}")
    info = _INFO[name]
    if progress:
        progress(0.0, f"Loading {info['title']}" + (f" from {folder}" if folder else " (downloaded on first use)"))
    if folder:
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise DatasetError(f"Folder not found: {path}. It should hold {info['manual']}.")
        if name == "cifar10":
            if (path / "train").is_dir() and (path / "test").is_dir():
                from core.data.folder import load_folder

                ds = load_folder(str(path), image_size=32, channels=3, progress=progress)
                ds.name, ds.title, ds.description = name, info["title"], info["description"]
                ds.options = {"folder": str(path)}
                return ds
            x_train, y_train, x_test, y_test = _read_cifar_batches(path)
        elif name == "mnist" and (path / "mnist.npz").is_file() and not (path / IDX_FILES["x_train"]).is_file():
            x_train, y_train, x_test, y_test = _read_mnist_npz(path / "mnist.npz")
        else:
            x_train, y_train, x_test, y_test = load_idx_folder(path)
        source = str(path)
    else:
        cached = fetch_dataset(name, progress=(lambda f, m: progress(0.7 * f, m)) if progress else None)
        if progress:
            progress(0.75, f"Reading {cached.name}")
        if name == "mnist":
            x_train, y_train, x_test, y_test = _read_mnist_npz(cached)
        elif name == "fashion_mnist":
            x_train, y_train, x_test, y_test = load_idx_folder(cached)
        else:
            x_train, y_train, x_test, y_test = _read_cifar_batches(cached)
        source = f"{cached} (Keras dataset cache)"
    if progress:
        progress(0.85, "Converting to float32")
    x_train, x_test = (_as_nhwc_float(x) for x in (x_train, x_test))
    y_train, y_test = (np.asarray(y).reshape(-1).astype(np.int64) for y in (y_train, y_test))
    validate_arrays(x_train, y_train, len(info["classes"]), f"{info['title']} training")
    validate_arrays(x_test, y_test, len(info["classes"]), f"{info['title']} test")
    if progress:
        progress(1.0, "Ready")
    return Dataset(
        name=name, title=info["title"], description=info["description"],
        class_names=list(info["classes"]),
        x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
        source=source, options={"folder": folder} if folder else {},
    )


def _as_nhwc_float(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    return (x.astype(np.float32) / 255.0)

"""MNIST, Fashion-MNIST and CIFAR-10: Keras's download and cache, or local files.

With no folder given, the loaders call ``keras.datasets.<name>.load_data()``,
which downloads once into ``~/.keras/datasets`` (or ``$KERAS_HOME``) and reads
from that cache afterwards. Without a network that fails; we turn the failure
into a message that says what failed and how to supply the files by hand.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from .base import Dataset, DatasetError, DatasetUnavailableError, ProgressFn, validate_arrays
from .idx import IDX_FILES, load_idx_folder

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]

_INFO = {
    "mnist": {
        "title": "MNIST digits",
        "description": "70,000 handwritten digits, 28x28 grey (LeCun & Cortes). The classic first CNN dataset.",
        "classes": [str(i) for i in range(10)],
        "manual": "the four official idx files (" + ", ".join(IDX_FILES.values()) + ")",
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
        "manual": ("the extracted 'cifar-10-batches-py' folder (data_batch_1..5, test_batch), "
                   "or a folder with train/<class>/ and test/<class>/ image folders"),
    },
}


def _download(name: str):
    import keras  # imported here: TensorFlow is slow to import and only needed for a download

    loader = {"mnist": keras.datasets.mnist, "fashion_mnist": keras.datasets.fashion_mnist,
              "cifar10": keras.datasets.cifar10}[name]
    try:
        return loader.load_data()
    except Exception as exc:  # Keras raises plain Exception for URL and HTTP errors
        info = _INFO[name]
        raise DatasetUnavailableError(
            f"Could not download {info['title']} with keras.datasets.{name}.load_data(): "
            f"{type(exc).__name__}: {exc}. "
            f"If this machine is offline, get {info['manual']} elsewhere, copy them into a folder here "
            f"and load the dataset from that folder."
        ) from exc


def _read_cifar_batches(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    inner = folder / "cifar-10-batches-py"
    if inner.is_dir():
        folder = inner

    def read(fname):
        path = folder / fname
        if not path.is_file():
            raise DatasetError(f"Expected the CIFAR-10 batch file {fname} in {folder}.")
        with open(path, "rb") as f:
            # These are the official pickled batches; the user chose this folder.
            batch = pickle.load(f, encoding="bytes")
        x = np.asarray(batch[b"data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        return x, np.asarray(batch[b"labels"], np.int64)

    parts = [read(f"data_batch_{i}") for i in range(1, 6)]
    x_test, y_test = read("test_batch")
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), x_test, y_test)


def load_classic(name: str, folder: str | None = None, progress: ProgressFn | None = None) -> Dataset:
    """Load ``mnist``, ``fashion_mnist`` or ``cifar10``.

    Args:
        name: one of the three names.
        folder: a local folder holding the official files; ``None`` downloads through Keras.
        progress: called with (fraction, message) while loading.
    """
    if name not in _INFO:
        raise DatasetError(f"Expected one of {sorted(_INFO)}. Received: {name!r}")
    info = _INFO[name]
    if progress:
        progress(0.0, f"Loading {info['title']}" + (f" from {folder}" if folder else " (downloading on first use)"))
    if folder:
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise DatasetError(f"Folder not found: {path}. It should hold {info['manual']}.")
        if name == "cifar10":
            if (path / "train").is_dir() and (path / "test").is_dir():
                from .folder import load_folder

                ds = load_folder(str(path), image_size=32, channels=3, progress=progress)
                ds.name, ds.title, ds.description = name, info["title"], info["description"]
                ds.options = {"folder": str(path)}
                return ds
            x_train, y_train, x_test, y_test = _read_cifar_batches(path)
        else:
            x_train, y_train, x_test, y_test = load_idx_folder(path)
        source = str(path)
    else:
        (x_train, y_train), (x_test, y_test) = _download(name)
        source = f"keras.datasets.{name} cache"
    if progress:
        progress(0.8, "Converting to float32")
    x_train, x_test = (_as_nhwc_float(x) for x in (x_train, x_test))
    y_train, y_test = (np.asarray(y).reshape(-1).astype(np.int64) for y in (y_train, y_test))
    validate_arrays(x_train, y_train, len(info["classes"]), f"{info['title']} training")
    validate_arrays(x_test, y_test, len(info["classes"]), f"{info['title']} test")
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

"""A Keras dataset cache holding CIFAR-10 in its official batches, made from real photos.

The app reads CIFAR-10 from ``$KERAS_HOME/datasets/cifar-10-batches-py`` once downloaded; the
machines here cannot download it, so tests write the same six batch files from the shared
JPEG class folders (a few photos a class: the pages need real photos, not all 60,000).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
from PIL import Image

from core.data.classic import CIFAR10_CLASSES
from core.data.download import CIFAR_BATCHES, CIFAR_DIR


def _photos(folder: Path, per_class: int) -> tuple[np.ndarray, list[int]]:
    rows, labels = [], []
    for label, name in enumerate(CIFAR10_CLASSES):
        for path in sorted((folder / name).iterdir())[:per_class]:
            with Image.open(path) as img:
                pixels = np.asarray(img.convert("RGB"), np.uint8)
            rows.append(pixels.transpose(2, 0, 1).reshape(-1))  # the batches hold planes: red, green, blue
            labels.append(label)
    return np.stack(rows), labels


def write_cifar_cache(keras_home: Path, shared: Path, train_per_class: int = 20, test_per_class: int = 20) -> Path:
    """Official batches of ``shared/cifar10_full``'s first photos under ``keras_home``; returns their folder."""
    folder = Path(keras_home) / "datasets" / CIFAR_DIR
    folder.mkdir(parents=True, exist_ok=True)
    x_train, y_train = _photos(shared / "cifar10_full" / "train", train_per_class)
    x_test, y_test = _photos(shared / "cifar10_full" / "test", test_per_class)
    parts = np.array_split(np.arange(len(x_train)), 5)
    for name, (x, y) in zip(CIFAR_BATCHES, [(x_train[p], [y_train[i] for i in p]) for p in parts] + [(x_test, y_test)]):
        batch = {b"batch_label": name.encode(), b"labels": list(map(int, y)), b"data": x,
                 b"filenames": [f"{i}.png".encode() for i in range(len(y))]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [n.encode() for n in CIFAR10_CLASSES]},
                                                        protocol=2))
    return folder

"""Small dataset files written for the core.data tests (idx files, folders of class folders), and the
check every ``Dataset`` must pass. Shared by tests/core/data/test_*.py and tests/system/test_real_datasets.py."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import numpy as np
from PIL import Image

from core.data import Dataset
from core.data.idx import IDX_FILES


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


def save_image(img: Image.Image, path: Path, fmt: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format=fmt)


def make_class_tree(root: Path, classes=("cat", "dog"), per_class=5, seed=0) -> None:
    """root/<class>/ with PNG, JPEG and PGM images of different sizes."""
    rng = np.random.default_rng(seed)
    for ci, name in enumerate(classes):
        for i in range(per_class):
            h, w = int(rng.integers(10, 40)), int(rng.integers(10, 40))
            if i % 3 == 0:
                save_image(Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)), root / name / f"{i}.png", "PNG")
            elif i % 3 == 1:
                save_image(Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)), root / name / f"{i}.jpg", "JPEG")
            else:
                save_image(Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8), "L"), root / name / f"{i}.pgm", "PPM")


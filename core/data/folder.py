"""Any local folder of images with one sub-folder per class.

Two layouts are understood:

* ``root/<class>/*.png``: the loader splits off a stratified test set.
* ``root/train/<class>/...`` and ``root/test/<class>/...``: the given split is kept
  (also named ``training_set`` and ``test_set``, the layout of many course downloads).

Every file goes through ``core.data.images``, so a non-image in the folder is
skipped and reported instead of stopping the load. The walk is bounded: at most
``limits().max_folder_files`` entries are looked at and ``MAX_DEPTH`` folders deep inside a
class folder, so a path such as ``/`` or a home folder is refused in a moment
instead of being read for minutes by a thread nobody can stop.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from core.data.base import Dataset, DatasetError, ProgressFn
from core.data.images import IMAGE_SUFFIXES, ImageDecodeError, decode_image, open_image, read_image_file, to_model_input
from core.settings import human_bytes, limits

__all__ = ["IMAGE_SUFFIXES", "SPLIT_FOLDERS", "folder_title", "load_folder", "per_class_split", "stratified_split"]

# names of the training and test folders of a folder that comes split
SPLIT_FOLDERS = (("train", "test"), ("training_set", "test_set"))
# Folders read inside a class folder: cats/1.png is at depth 1, cats/2019/summer/1.png at depth 3.
# Photo collections sorted by year and month fit; a class folder holding a whole disk does not.
MAX_DEPTH = 3


class _Budget:
    """Counts the directory entries a load looks at and stops it past ``limits().max_folder_files``."""

    def __init__(self, root: Path):
        self.root, self.limit, self.seen = root, limits().max_folder_files, 0

    def spend(self) -> None:
        self.seen += 1
        if self.seen > self.limit:
            raise DatasetError(
                f"Expected a folder of class sub-folders holding at most {self.limit:,} files. Received: {self.root}, "
                "which holds more. Pick the one folder whose sub-folders are the classes (cats/, dogs/, ...).")


def _class_dirs(root: Path, budget: _Budget) -> list[Path]:
    found = []
    try:
        with os.scandir(root) as entries:
            for entry in entries:
                budget.spend()
                if not entry.name.startswith(".") and entry.is_dir():
                    found.append(Path(entry.path))
    except OSError as exc:
        raise DatasetError(f"Expected a folder that can be read. Received: {root} ({exc.strerror or exc})") from exc
    return sorted(found, key=lambda d: _natural_key(d.name))


def _natural_key(name: str):
    """Sort s2 before s10, as a person would."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def _list_files(class_dir: Path, budget: _Budget, root: Path, skipped: list[str]) -> list[Path]:
    """The image files of one class folder and its sub-folders down to MAX_DEPTH.

    Files that are not images are named in ``skipped`` only when they sit in the class folder
    itself: the contents of sub-folders that hold no images (a project, a backup) would bury
    the list. Hidden files and hidden folders (.thumbs/, .git/) are not images of the class.
    """
    images: list[Path] = []
    stack = [(class_dir, 1)]
    while stack:
        folder, depth = stack.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    budget.spend()
                    if entry.name.startswith("."):
                        continue
                    path = Path(entry.path)
                    if entry.is_dir(follow_symlinks=False):
                        if depth < MAX_DEPTH:
                            stack.append((path, depth + 1))
                        else:
                            skipped.append(f"{path.relative_to(root)}/: more than {MAX_DEPTH} folders deep "
                                           "inside a class folder, not read")
                    elif entry.is_file():
                        if path.suffix.lower() in IMAGE_SUFFIXES:
                            images.append(path)
                        elif depth == 1:
                            skipped.append(f"{path.relative_to(root)}: not an image file type")
        except OSError as exc:
            skipped.append(f"{folder.relative_to(root)}/: cannot be read ({exc.strerror or exc})")
    return sorted(images, key=lambda p: (_natural_key(p.name), str(p)))


def _detect_channels(files: list[Path]) -> int:
    """1 when every sampled image is greyscale, else 3."""
    for path in files[:: max(1, len(files) // 50)]:
        try:
            with open_image(path) as img:  # the header says the mode; no pixel is decoded
                if img.mode not in ("L", "1", "I", "I;16", "F", "LA"):
                    return 3
        except (ImageDecodeError, OSError):
            continue
    return 1


def folder_title(path: str | Path) -> str:
    """What a folder dataset is called (``Folder: pets``), known without loading it."""
    return f"Folder: {Path(path).expanduser().name}"


def load_folder(path: str, image_size: int | tuple[int, int] = 64, channels: int | None = None,
                test_fraction: float = 0.2, seed: int = 0, train_per_class: int | None = None,
                progress: ProgressFn | None = None) -> Dataset:
    """Load a class-per-folder image collection.

    Args:
        path: the root folder.
        image_size: side of the square model input, or (height, width).
        channels: 1 or 3; ``None`` picks 1 when every image is greyscale.
        test_fraction: share of each class held out for testing when the folder has no train/test split.
        train_per_class: instead of ``test_fraction``, exactly this many images of each class
            (picked at random with ``seed``) for training and all the others for testing,
            e.g. 5 of the 10 photos of each person of the ORL faces.
        seed: seed of that split.
        progress: called with (fraction, message) while loading.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DatasetError(f"Folder not found: {root}")
    height, width = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if height < 1 or width < 1:
        raise DatasetError(f"Expected an image size of at least 1x1. Received: {image_size}")
    split_names = next(((train, test) for train, test in SPLIT_FOLDERS
                        if (root / train).is_dir() and (root / test).is_dir()), None)
    split_layout = split_names is not None
    split_roots = ({"train": root / split_names[0], "test": root / split_names[1]} if split_layout
                   else {"all": root})

    budget = _Budget(root)
    class_names = [d.name for d in _class_dirs(next(iter(split_roots.values())), budget)]
    if len(class_names) < 2:
        raise DatasetError(f"Expected at least 2 class sub-folders in {root}. Received: {len(class_names)}")
    skipped: list[str] = []
    if split_layout:
        # The classes are train/'s folders; a test/ folder of another class cannot be labelled.
        train, test = split_names
        skipped += [f"{test}/{d.name}: no {train}/{d.name} folder, so its images are left out"
                    for d in _class_dirs(root / test, budget) if d.name not in class_names]
    files = {split: [(p, c) for c, name in enumerate(class_names) if (r / name).is_dir()
                     for p in _list_files(r / name, budget, root, skipped)]
             for split, r in split_roots.items()}
    all_files = [p for fl in files.values() for p, _ in fl]
    if channels is None:
        channels = _detect_channels(all_files)
    shape = (height, width, channels)

    check_dataset_memory(len(all_files), shape)

    # Each split is decoded into one array of its own size, and a split drawn after decoding moves the training
    # images to the front of that array: at most the test images are copied, so a load takes about the memory
    # checked above, not two or three times it (a list of images, then their stack, then the split's copies).
    counter = _Progress(len(all_files), progress)
    if split_layout:
        (x_train, y_train), (x_test, y_test) = (_decode(files[split], shape, root, skipped, counter)
                                                for split in ("train", "test"))
    else:
        x, y = _decode(files["all"], shape, root, skipped, counter)
        if train_per_class is not None:
            train_idx, test_idx = per_class_split(y, int(train_per_class), seed)
        else:
            train_idx, test_idx = stratified_split(y, test_fraction, seed)
        x_test, y_test = x[test_idx], y[test_idx]
        x_train, y_train = _to_front(x, train_idx), y[train_idx]
        del x
    if len(x_train) == 0:
        raise DatasetError(f"No readable images found in {root}.")
    if len(x_test) == 0:
        # Every page that measures a model (the Train page's runs, Evaluation, the samples of Predict)
        # needs test images; a dataset without any is refused here rather than failing on each of them.
        counts = np.bincount(y_train, minlength=len(class_names))
        found = ", ".join(f"{n} in {name}" for name, n in zip(class_names, counts))
        if split_layout:
            raise DatasetError(f"Expected readable images in {split_names[1]}/ to test the model with. "
                               f"Received: none ({found} in {split_names[0]}/)")
        raise DatasetError("Each class needs at least 2 images to keep one for testing. "
                           f"Received: {found}")

    return Dataset(
        name="folder", title=folder_title(root),
        description=f"{len(x_train) + len(x_test)} images in {len(class_names)} classes from {root}.",
        class_names=class_names, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
        source=str(root),
        options={"path": str(root), "image_size": [height, width], "channels": channels,
                 "test_fraction": test_fraction, "seed": seed,
                 **({"train_per_class": int(train_per_class)} if train_per_class is not None else {})},
        warnings=skipped,
    )


def check_dataset_memory(images: int, shape: tuple[int, int, int]) -> None:
    """Refuse a load of ``images`` images of ``shape`` whose arrays would pass ``limits().max_dataset_bytes``.

    Checked before any image is decoded: the files of a small zip (20,000 one-pixel PNGs are about
    2 MB) would otherwise become gigabytes of float32 input (3.9 GB at 128x128x3).
    """
    per_image = int(np.prod(shape)) * np.dtype(np.float32).itemsize
    need, cap = images * per_image, limits().max_dataset_bytes
    if need > cap:
        height, width, channels = shape
        raise DatasetError(
            f"Expected a dataset of at most {human_bytes(cap)} in memory (CNNLAB_MAX_DATASET_BYTES). Received: "
            f"{images:,} images of {height}x{width}x{channels}, {human_bytes(need)} as the network's input. At "
            f"this size {cap // per_image:,} images fit: choose a smaller input size, or use fewer images.")


class _Progress:
    """Counts the images read and reports every 200th to ``progress``."""

    def __init__(self, total: int, progress: ProgressFn | None):
        self.done, self.total, self.progress = 0, max(1, total), progress

    def step(self) -> None:
        self.done += 1
        if self.progress and self.done % 200 == 0:
            self.progress(self.done / self.total, f"Reading image {self.done} of {self.total}")


def _decode(entries: list[tuple[Path, int]], shape: tuple, root: Path, skipped: list[str],
            counter: _Progress) -> tuple[np.ndarray, np.ndarray]:
    """The images and labels of ``entries`` that can be read; the others are named in ``skipped``."""
    x, y, n = np.empty((len(entries), *shape), np.float32), np.empty(len(entries), np.int64), 0
    for file, label in entries:
        counter.step()
        try:
            # centre crop, as the Predict page fits an upload by default and the model's metadata says;
            # an image over the pixel limit is refused from its header, before it is decoded
            x[n] = to_model_input(decode_image(read_image_file(file)), shape, fit="crop")
            y[n] = label
            n += 1
        except ImageDecodeError as exc:
            skipped.append(f"{file.relative_to(root)}: {exc}")
    return x[:n], y[:n]


def _to_front(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``x[rows]`` made in place, for ``rows`` sorted and distinct: row ``rows[i]`` moves to ``i``. ``x`` is
    overwritten; the view returned holds the rows.

    Each row is read before it can be written over: position ``i`` is written at step ``i``, and every row
    read from step ``i`` on sits at ``rows[i] >= i``.
    """
    for i, row in enumerate(rows):
        if row != i:
            x[i] = x[row]
    return x[:len(rows)]


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices for train and test holding ``test_fraction`` of every class (at least one each when possible)."""
    if not 0.0 < test_fraction < 1.0:
        raise DatasetError(f"Expected test_fraction between 0 and 1. Received: {test_fraction}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(round(len(idx) * test_fraction))
        if len(idx) >= 2:
            n_test = min(max(n_test, 1), len(idx) - 1)
        test.extend(idx[:n_test])
        train.extend(idx[n_test:])
    return np.sort(np.asarray(train, np.int64)), np.sort(np.asarray(test, np.int64))


def per_class_split(labels: np.ndarray, train_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices: ``train_per_class`` random images of every class for training, the rest for testing."""
    counts = np.bincount(labels) if len(labels) else np.zeros(0, int)
    if train_per_class < 1 or (len(counts) and train_per_class >= counts[counts > 0].min()):
        smallest = int(counts[counts > 0].min()) if len(counts) else 0
        raise DatasetError(f"Expected between 1 and {max(smallest - 1, 1)} training images per class "
                           f"(the smallest class has {smallest}). Received: {train_per_class}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        train.extend(idx[:train_per_class])
        test.extend(idx[train_per_class:])
    return np.sort(np.asarray(train, np.int64)), np.sort(np.asarray(test, np.int64))

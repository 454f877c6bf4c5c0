"""Your own classes, Teachable-Machine style: images you add by hand, one folder per class.

``ClassImages`` keeps a folder that the folder loader reads as it is
(``root/<class name>/<image>.jpg``). Every image a user adds goes through
``core.data.images`` first, so a file that is not an image, is damaged or is too
large is refused with a message and never reaches the folder; images already
there are never touched by a refused one.

    >>> classes = ClassImages(Path("uploads/abc/my_classes"), runs_root=Path("uploads/abc/.my_classes_runs"),
    ...                       quota_folder=Path("workspaces/abc")).start()
    >>> classes.add_image("Class 1", webcam_jpeg_bytes)
    >>> classes.training_problems()          # [] once every class has enough images
    >>> frozen = classes.snapshot(Path("uploads/abc/.my_classes_runs/run1"))
    >>> dataset = load_class_dataset(frozen, image_size=64)

A photo deleted here is deleted from the frozen copies under ``runs_root`` too: a
person who deletes a picture of themselves expects it gone from the server.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from core.data import Dataset, load_dataset
from core.data.folder import _natural_key
from core.data.images import IMAGE_SUFFIXES, ImageDecodeError, decode_image, open_image, to_model_input, to_uint8
from core.quota import QuotaError, Usage, after_writing, check_fits, usage
from core.settings import limits

DEFAULT_CLASSES = ("Class 1", "Class 2")
# The folder loader holds out 20 % of each class for testing: with 5 images that
# leaves 4 to learn from and 1 to check; fewer cannot teach a network anything.
# The same threshold flags small classes of an uploaded zip (core.data.zip_import.ZipLimits).
MIN_IMAGES_PER_CLASS = 5
MAX_CLASSES = 20  # more would not fit on a page, and a webcam class rarely needs it
MAX_IMAGES_PER_CLASS = 500  # bounds the disk space one session can take
MAX_NAME_LENGTH = 40
# Images are kept at most this big: the model sees 32 to 96 pixels anyway, and
# a webcam photo shrinks from ~100 KB to ~15 KB.
MAX_SIDE = 256
IMAGE_SIZES = (32, 48, 64, 96)  # input sides offered for training
DEFAULT_IMAGE_SIZE = 64
TEST_FRACTION = 0.2  # of every class, held out to measure the test accuracy
# "train" and "test" side by side would make the folder loader read a train/test split.
_RESERVED = {"train", "test"}
_FORBIDDEN = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')


class ClassImageError(ValueError):
    """A class or image operation that cannot be done; the message is meant for the user."""


@dataclass
class AddReport:
    """What ``add_images`` kept and what it refused."""

    added: list[Path] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # "file name: reason", then one line for the files not looked at
    not_looked_at: int = 0  # files of the batch past its bound (max_upload_files, or the class's room)


def check_class_name(name: str, existing: Iterable[str] = ()) -> str:
    """``name`` without surrounding spaces, or ``ClassImageError`` saying what is wrong with it.

    Args:
        name: the name the user typed.
        existing: the other classes' names; a name may not repeat one of them,
            whatever its case (folders of "Cat" and "cat" are one folder on some systems).
    """
    clean = (name or "").strip()
    if not clean:
        raise ClassImageError("Expected a class name. Received: an empty name")
    if len(clean) > MAX_NAME_LENGTH:
        raise ClassImageError(f"Expected a class name of at most {MAX_NAME_LENGTH} characters. Received: {len(clean)}")
    if clean.startswith(".") or _FORBIDDEN.search(clean):
        raise ClassImageError(f'Expected a class name without / \\ : * ? " < > | and not starting with a dot. '
                              f"Received: {clean!r}")
    if clean.lower() in _RESERVED:
        raise ClassImageError(f"'{clean}' is reserved for train/test folders; choose another class name.")
    if clean.lower() in {e.lower() for e in existing}:
        raise ClassImageError(f"There is already a class named '{clean}'.")
    return clean


def next_class_name(existing: Iterable[str]) -> str:
    """"Class N" for the N-th class, or the next free number after it."""
    taken = {e.lower() for e in existing}
    n = len(taken) + 1
    while f"class {n}" in taken:
        n += 1
    return f"Class {n}"


def encode_image(data: bytes) -> bytes:
    """Decode a user's image (``ImageDecodeError`` if it is not one) and re-encode it as RGB JPEG, at most MAX_SIDE."""
    picture = decode_image(data)
    scale = min(1.0, MAX_SIDE / max(picture.width, picture.height))
    height, width = max(1, round(picture.height * scale)), max(1, round(picture.width * scale))
    # Through to_model_input, so grey, 16-bit and transparent images become RGB as the models see them.
    pixels = to_uint8(to_model_input(picture, (height, width, 3), fit="stretch"))
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=92)
    return buf.getvalue()


class ClassImages:
    """The classes of one user and their images, kept as ``root/<class>/<image>.jpg``.

    Classes keep the order they were added in (``root/.order.json``, hidden from
    the folder loader), so a renamed class stays where it was on the page. A
    model trained on them numbers its classes in the loader's order instead, and
    keeps their names.
    """

    def __init__(self, root: Path | str, runs_root: Path | str | None = None, quota_folder: Path | str | None = None):
        """
        Args:
            root: the folder of the classes.
            runs_root: where ``snapshot`` copies go; a deleted image is deleted there too.
            quota_folder: the user's folder whose quota (``core.quota``) bounds what is added; None: no quota.
        """
        self.root = Path(root)
        self.runs_root = Path(runs_root) if runs_root is not None else None
        self.quota_folder = Path(quota_folder) if quota_folder is not None else None
        self._order_file = self.root / ".order.json"

    def start(self, names: Iterable[str] = DEFAULT_CLASSES) -> "ClassImages":
        """Create the folder with ``names`` as empty classes when it holds no class yet."""
        if not self.class_names():
            self.root.mkdir(parents=True, exist_ok=True)
            for name in names:
                (self.root / check_class_name(name)).mkdir(parents=True, exist_ok=True)
            self._save_order([check_class_name(n) for n in names])
        return self

    # --- classes -------------------------------------------------------------------

    def class_names(self) -> list[str]:
        """The classes in the order they were added (folders made elsewhere come last, sorted)."""
        if not self.root.is_dir():
            return []
        dirs = {d.name for d in self.root.iterdir() if d.is_dir() and not d.name.startswith(".")}
        try:
            order = [n for n in json.loads(self._order_file.read_text()) if isinstance(n, str)]
        except (OSError, ValueError):
            order = []
        known = [n for n in dict.fromkeys(order) if n in dirs]
        return known + sorted(dirs - set(known), key=_natural_key)

    def _save_order(self, names: list[str]) -> None:
        tmp = self.root / ".order.json.part"
        tmp.write_text(json.dumps(names))
        os.replace(tmp, self._order_file)

    def folder(self, name: str) -> Path:
        if name not in self.class_names():
            raise ClassImageError(f"Expected one of the classes {self.class_names()}. Received: {name!r}")
        return self.root / name

    def add_class(self, name: str | None = None) -> str:
        """Add an empty class (``next_class_name`` when no name is given); returns its name."""
        names = self.class_names()
        if len(names) >= MAX_CLASSES:
            raise ClassImageError(f"At most {MAX_CLASSES} classes. Remove one before adding another.")
        clean = check_class_name(name if name is not None else next_class_name(names), names)
        (self.root / clean).mkdir(parents=True)
        self._save_order(names + [clean])
        return clean

    def rename_class(self, old: str, new: str) -> str:
        """Rename a class, keeping its images; returns the new name."""
        source = self.folder(old)
        names = self.class_names()
        clean = check_class_name(new, [n for n in names if n != old])
        if clean != old:
            source.rename(self.root / clean)
            self._save_order([clean if n == old else n for n in names])
        return clean

    def remove_class(self, name: str) -> None:
        """Delete a class and all its images, with their frozen copies."""
        names = self.class_names()
        self._remove_copies([p.name for p in self.images(name)])
        shutil.rmtree(self.folder(name))
        self._save_order([n for n in names if n != name])

    # --- images --------------------------------------------------------------------

    def images(self, name: str) -> list[Path]:
        """The class's images, oldest first (names start with the time they were added)."""
        folder = self.folder(name)
        return sorted(p for p in folder.iterdir()
                      if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES)

    def counts(self) -> dict[str, int]:
        return {name: len(self.images(name)) for name in self.class_names()}

    def add_image(self, name: str, data: bytes, room: Usage | None = None) -> Path:
        """Add one image to class ``name``.

        Args:
            name: the class.
            data: the image file's bytes.
            room: what the user's folder takes, if the caller measured it already (a batch);
                else it is measured in ``quota_folder``, when there is one.

        Raises:
            ImageDecodeError: not an image, or over the pixel limit.
            ClassImageError: the class is full.
            QuotaError: the user's quota or the server's disk is full.
        """
        folder = self.folder(name)
        if len(self.images(name)) >= MAX_IMAGES_PER_CLASS:
            raise ClassImageError(f"'{name}' already has {MAX_IMAGES_PER_CLASS} images, the most a class may hold.")
        encoded = encode_image(data)
        if room is None and self.quota_folder is not None:
            room = usage(self.quota_folder)
        if room is not None:
            check_fits(room, len(encoded))
        target = folder / f"{time.time_ns():020d}-{uuid.uuid4().hex[:6]}.jpg"
        # Written under a hidden name, which the folder loader skips, then renamed into place.
        tmp = folder / f".{target.name}.part"
        tmp.write_bytes(encoded)
        os.replace(tmp, target)
        return target

    def add_images(self, name: str, files: Iterable[tuple[str, bytes]]) -> AddReport:
        """Add every readable image of ``files`` (``(file name, bytes)``); the others are listed with the reason.

        At most ``limits().max_upload_files`` files, and no more than the class has room for, are looked
        at: a refused file counts as one looked at, so a batch of bad files costs no more work than a
        batch of good ones. The rest are counted in ``not_looked_at`` and named in one line of ``refused``.
        """
        report = AddReport()
        room = MAX_IMAGES_PER_CLASS - len(self.images(name))
        batch = limits().max_upload_files
        bound = max(0, min(room, batch))
        # The user's folder is walked once for the batch, then what is written is counted.
        disk = usage(self.quota_folder) if self.quota_folder is not None else None
        full = False
        for filename, data in files:
            if full or len(report.added) + len(report.refused) >= bound:
                report.not_looked_at += 1
                continue
            try:
                path = self.add_image(name, data, room=disk)
            except (ImageDecodeError, ClassImageError, QuotaError) as exc:
                report.refused.append(f"{filename}: {exc}")
                full = isinstance(exc, QuotaError)  # the other files would not fit either
                continue
            report.added.append(path)
            if disk is not None:
                disk = after_writing(disk, path.stat().st_size)
        if report.not_looked_at:
            why = ("your workspace is full" if full else
                   f"'{name}' had room for {max(room, 0)} more of its {MAX_IMAGES_PER_CLASS} images"
                   if room <= batch else f"at most {batch} files are taken at once")
            report.refused.append(f"{report.not_looked_at} more file{'s were' if report.not_looked_at != 1 else ' was'} "
                                  f"not looked at: {why}, and every file sent counts, added or not.")
        return report

    def remove_image(self, name: str, filename: str) -> None:
        """Delete one image of class ``name`` by its file name, and its frozen copies under ``runs_root``."""
        path = self.folder(name) / filename
        if Path(filename).name != filename or not path.is_file():
            raise ClassImageError(f"Expected an image of '{name}'. Received: {filename!r}")
        self._remove_copies([filename])
        path.unlink()

    def clear_class(self, name: str) -> int:
        """Delete every image of class ``name`` and their frozen copies; returns how many there were."""
        images = self.images(name)
        self._remove_copies([p.name for p in images])
        for path in images:
            path.unlink(missing_ok=True)
        return len(images)

    def _remove_copies(self, filenames: list[str]) -> None:
        """Delete the snapshots' copies of these images: ``runs_root/<run>/<class>/<file name>``.

        An image's file name (the time it was added and a random part) is unique and kept by
        ``snapshot``, whatever the class is called now; a hard link and a copied file alike are found.
        """
        if self.runs_root is None or not filenames or not self.runs_root.is_dir():
            return
        wanted = set(filenames)
        for run in self.runs_root.iterdir():
            if not run.is_dir() or run.is_symlink():
                continue
            for folder in run.iterdir():
                if not folder.is_dir() or folder.is_symlink():
                    continue
                for filename in wanted:
                    (folder / filename).unlink(missing_ok=True)

    # --- training ------------------------------------------------------------------

    def training_problems(self, min_images: int = MIN_IMAGES_PER_CLASS) -> list[str]:
        """Why these classes cannot be trained yet, one sentence each; empty when they can."""
        counts = self.counts()
        problems = []
        if len(counts) < 2:
            problems.append(f"Add at least two classes (there is {len(counts)}).")
        for name, n in counts.items():
            if n < min_images:
                problems.append(f"'{name}' has {n} image{'s' if n != 1 else ''}; it needs at least {min_images}.")
        return problems

    def matches(self, snapshot: Path | str) -> bool:
        """Whether the folder ``snapshot`` (made by ``snapshot``) holds these classes and images and no others.

        Images are never changed once written, so the same names are the same pictures: a run
        on unchanged classes can train on the snapshot already made, and its model's dataset is
        then the same one as the earlier model's (the Train panels compare such runs).
        """
        snapshot = Path(snapshot)
        if not snapshot.is_dir():
            return False
        try:
            theirs = {d.name: sorted(p.name for p in d.iterdir() if p.is_file() and not p.name.startswith("."))
                      for d in snapshot.iterdir() if d.is_dir() and not d.name.startswith(".")}
        except OSError:
            return False
        return theirs == {name: sorted(p.name for p in self.images(name)) for name in self.class_names()}

    def snapshot(self, target: Path | str) -> Path:
        """A frozen copy of the classes at ``target`` (a new folder), for a model to be trained on.

        Images are never changed once written, so the copy is made of hard links
        and costs no disk space; where links are not possible the files are copied.
        Later changes to the classes leave the copy, and so the model's dataset, as it was.
        """
        target = Path(target)
        if target.exists():
            raise ClassImageError(f"Expected a new folder for the snapshot. Received: {target} (it exists)")
        staging = target.parent / f".{target.name}.part"
        shutil.rmtree(staging, ignore_errors=True)
        for name in self.class_names():
            (staging / name).mkdir(parents=True)
            for path in self.images(name):
                try:
                    os.link(path, staging / name / path.name)
                except OSError:
                    shutil.copy2(path, staging / name / path.name)
        os.replace(staging, target)
        return target


def dataset_options(path: Path | str, image_size: int = DEFAULT_IMAGE_SIZE, seed: int = 0) -> dict:
    """What ``load_dataset("folder", ...)`` needs to read a class folder: RGB, a per-class test split."""
    return {"path": str(path), "image_size": int(image_size), "channels": 3, "test_fraction": TEST_FRACTION,
            "seed": int(seed)}


def load_class_dataset(path: Path | str, image_size: int = DEFAULT_IMAGE_SIZE, seed: int = 0) -> Dataset:
    """The classes at ``path`` as a ``Dataset`` with 20 % of every class held out for testing."""
    return load_dataset("folder", dataset_options(path, image_size, seed))


def thumbnail(path: Path | str, size: int = 96) -> np.ndarray:
    """A uint8 RGB picture of the image at ``path`` whose longer side is at most ``size``."""
    with open_image(path) as img:
        img = img.convert("RGB")
        img.thumbnail((size, size))
        return np.asarray(img)

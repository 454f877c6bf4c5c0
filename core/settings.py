"""How a CNN Lab server is run: its mode and its limits, set by the person who starts it.

Two modes (``CNNLAB_MODE``):

- ``personal``, the default of ``make run`` on one's own machine: one user, the machine's user;
  local folders anywhere on the machine.
- ``classroom``: one server for a class. Every user has a private workspace (models, uploads,
  My classes, enrolled faces, runs); a read-only gallery holds the shipped models and those the
  teacher publishes; local folders only inside the roots the teacher allows
  (``CNNLAB_FOLDER_ROOTS``); official dataset files only imported by the teacher.

Limits hold in both modes. Each has a default and an environment variable a teacher can set
before starting the server (sizes in bytes accept ``K``, ``M`` and ``G``, powers of 1024; counts
``K`` and ``M``, powers of 1000; times ``s``, ``min`` and ``h``)::

    CNNLAB_MODE=classroom CNNLAB_USER_QUOTA=500M CNNLAB_JOB_MAX_TIME=20min make run

``limits()`` reads them on every call (microseconds), so a test can change one with
``monkeypatch.setenv``; a value that cannot be read raises ``SettingsError`` naming the variable
and what it expects.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from pathlib import Path

MODE_ENV = "CNNLAB_MODE"
PERSONAL, CLASSROOM = "personal", "classroom"
ROOTS_ENV = "CNNLAB_FOLDER_ROOTS"


class SettingsError(ValueError):
    """A setting of the server cannot be read; the message names the variable and what it expects."""


@dataclass(frozen=True)
class Limits:
    """What one user may ask of the server. Field ``x`` is set by ``CNNLAB_X`` (upper case)."""

    # models, checked from a .keras file's config.json before any layer is built, and on the architecture editor
    max_params: int = 10_000_000  # weights of one model (40 MB of float32)
    max_input_side: int = 256  # pixels, height or width of a model's input
    max_dense_units: int = 4096  # units of one dense layer
    max_blocks: int = 8  # convolution blocks (layers in a .keras file: ``max_layers``)
    max_layers: int = 400  # layers of one .keras file
    # ImageNet networks (core.models.imagenet), shared by every user: their float32 weights, all loaded together
    # (the five: 669 MB, VGG16 alone 528 MB)
    max_imagenet_bytes: int = 1 * 2**30
    # images and uploads
    max_image_pixels: int = 16_000_000  # pixels of one image, read from its header before it is decoded
    max_upload_files: int = 500  # files in one upload batch (a multi-file uploader, or the members of a zip)
    max_zip_files: int = 20_000  # members of one zip of images
    max_folder_files: int = 200_000  # entries looked at when a folder of the server is loaded (CIFAR-10 as JPEGs: 60,000)
    max_unpacked_bytes: int = 512 * 2**20  # bytes one zip unpacks to, counted over the whole archive
    # bytes a folder's or a zip's images take in memory once decoded (images x height x width x channels x 4):
    # CIFAR-10's 60,000 photos at 32x32x3 are 703 MB
    max_dataset_bytes: int = 1 * 2**30
    max_name_length: int = 60  # characters of a model's or a class's name
    # disk
    user_quota: int = 1 * 2**30  # bytes of one user's workspace (uploads, photos, models in classroom mode)
    free_space_floor: int = 1 * 2**30  # bytes left free on the data disk: nothing is written below it
    # training runs
    job_max_time: float = 3600.0  # seconds one run may last, pauses included
    job_paused_max_time: float = 900.0  # seconds a run may stay paused before it is stopped (its slot is free)
    job_orphan_time: float = 600.0  # seconds a run goes on with no tab of its user open, then it is stopped
    jobs_per_user: int = 1  # running runs per user in classroom mode (personal mode: no limit)
    workspace_days: float = 30.0  # classroom mode: a workspace nobody opened for this long is deleted

    @classmethod
    def from_env(cls, environ=None) -> "Limits":
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            var = f"CNNLAB_{f.name.upper()}"
            text = environ.get(var)
            if text is None or not text.strip():
                continue
            values[f.name] = _parse(var, text, f.type, f.name)
        return cls(**values)


_SIZE = {"": 1, "k": 2**10, "kb": 2**10, "m": 2**20, "mb": 2**20, "g": 2**30, "gb": 2**30}
_TIME = {"": 1, "s": 1, "min": 60, "m": 60, "h": 3600}
_COUNT = {"": 1, "k": 1000, "m": 1_000_000}  # 20M parameters: counts are decimal
_BYTE_FIELDS = {"max_imagenet_bytes", "max_unpacked_bytes", "max_dataset_bytes", "user_quota", "free_space_floor"}
_TIME_FIELDS = {"job_max_time", "job_paused_max_time", "job_orphan_time"}


def _parse(var: str, text: str, kind, name: str):
    text = text.strip().lower().replace("_", "")
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([a-z]*)", text)
    units = _SIZE if name in _BYTE_FIELDS else _TIME if name in _TIME_FIELDS else \
        {"": 1} if name == "workspace_days" else _COUNT
    if match is None or match.group(2) not in units:
        what = ("a size such as 500M or 2G" if name in _BYTE_FIELDS else
                "a time such as 600, 10min or 1h" if name in _TIME_FIELDS else
                "a number such as 30" if name == "workspace_days" else "a whole number such as 4096, 20K or 10M")
        raise SettingsError(f"{var} must be {what}. Received: {text!r}")
    value = float(match.group(1)) * units[match.group(2)]
    if name == "workspace_days":
        return value
    return value if name in _TIME_FIELDS else int(value)


def limits() -> Limits:
    """The limits in force (the defaults, changed by the ``CNNLAB_*`` variables set)."""
    return Limits.from_env()


def mode() -> str:
    """``personal`` (the default) or ``classroom``; anything else raises SettingsError."""
    value = (os.environ.get(MODE_ENV) or PERSONAL).strip().lower()
    if value not in (PERSONAL, CLASSROOM):
        raise SettingsError(f"{MODE_ENV} must be 'personal' or 'classroom'. Received: {value!r}")
    return value


def classroom() -> bool:
    return mode() == CLASSROOM


def folder_roots() -> list[Path]:
    """The folders whose sub-folders users may load as datasets in classroom mode (``CNNLAB_FOLDER_ROOTS``,
    separated by ``os.pathsep``), resolved; empty when none are allowed."""
    roots = []
    for part in (os.environ.get(ROOTS_ENV) or "").split(os.pathsep):
        if part.strip():
            roots.append(Path(part.strip()).expanduser().resolve())
    return roots


def inside(path: str | Path, root: str | Path) -> bool:
    """True if ``path``, with every link followed, is ``root`` or inside it."""
    try:
        real, base = Path(path).expanduser().resolve(), Path(root).expanduser().resolve()
    except (OSError, RuntimeError):
        return False
    return real == base or base in real.parents


def human_bytes(n: float) -> str:
    """``1.5 GB``, ``300 MB``, ``12 KB``: a size as a person reads it (powers of 1024)."""
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= size:
            value = n / size
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{int(n)} bytes"


def human_time(seconds: float) -> str:
    """``1 h``, ``15 min``, ``45 s``."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"

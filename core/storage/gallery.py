"""The gallery: models the teacher published, one folder every user of a classroom server reads.

A published model is a copy (``publish``): the teacher may go on training, renaming or deleting
their own, and the gallery's stays as it was published. Its card loses what is private to the
teacher's workspace: the path of a folder of their uploads, which nobody else may open anyway.
Users load, inspect and download a gallery model; only the teacher publishes and withdraws.
Ids in a workspace are ``gallery:ID``, so they never clash with the user's own models' ids.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from core.settings import inside
from core.storage.card import DatasetRef
from core.storage.files import _atomic_write
from core.storage.registry import ModelRegistry, RegistryEntry
from core.storage.replay import replay_path
from core.workspace import data_root

GALLERY_PREFIX = "gallery:"


def gallery_dir() -> Path:
    """``<data root>/gallery``."""
    return data_root() / "gallery"


def gallery_registry() -> ModelRegistry:
    return ModelRegistry(gallery_dir())


def public_dataset(ref: DatasetRef | None, private_roots: list[Path]) -> DatasetRef | None:
    """``ref`` without a folder path under one of ``private_roots`` (a user's workspace): the title stays."""
    if ref is None:
        return None
    options = dict(ref.options)
    for key in ("path", "folder"):
        value = options.get(key)
        if isinstance(value, str) and any(inside(value, root) for root in private_roots):
            options.pop(key)
    return replace(ref, options=options)


def publish(source: ModelRegistry, entry_id: str, private_roots: list[Path],
            gallery: ModelRegistry | None = None) -> RegistryEntry:
    """Copy the entry ``entry_id`` of ``source`` into the gallery, as a new entry; return it.

    Raises:
        ModelFileError: no such entry.
        ValueError: an unsafe id.
    """
    from core.storage.registry import _LOCK

    gallery = gallery or gallery_registry()
    entry = source.get(entry_id)
    card = replace(entry.card, dataset=public_dataset(entry.card.dataset, private_roots))
    with _LOCK:
        new_id, reservation = gallery._reserve_id(card.name)
        try:
            target = gallery.root / f"{new_id}.keras"
            replay = replay_path(entry.keras_path)
            if replay.is_file():
                _atomic_write(replay_path(target), lambda tmp: shutil.copyfile(replay, tmp))
            _atomic_write(target, lambda tmp: shutil.copyfile(entry.keras_path, tmp))
            text = card.to_json()
            _atomic_write(gallery.root / f"{new_id}.json", lambda tmp: Path(tmp).write_text(text))
        finally:
            reservation.unlink(missing_ok=True)
    return gallery.get(new_id)

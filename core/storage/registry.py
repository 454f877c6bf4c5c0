"""The model registry: saved models in one folder, as ``ID.keras`` plus ``ID.json``.

Each entry is written by ``core.storage.files.save_model`` (the ``.keras`` first, the
JSON last, both to a temporary name renamed into place), and an entry is listed
only when both files are there and the JSON parses. So a save or a delete cut
short by a crash leaves at worst an unlisted orphan, never a listed broken entry.

    >>> from core.storage.registry import ModelRegistry
    >>> registry = ModelRegistry()  # $CNNLAB_MODELS_DIR or ~/.cnnlab/models
    >>> entry = registry.save(model, card)
    >>> model, card = registry.load(entry.id)

Somewhat over 300 lines: one class whose methods share the folder's locking and naming rules.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from core.storage.card import ModelCard, now_iso
from core.storage.checks import (
    KNOWN_DATASET_SHAPES,
    MAX_UNPACKED_BYTES,
    _check_classifier,
    _check_upload_bytes,
    _load_refusal,
    check_fit,
    datasets_that_fit,
)
from core.storage.files import ModelFileError, _atomic_write, model_paths, save_model
from core.storage.model_limits import check_model_file
from core.storage.replay import decode_replay, encode_replay, replay_path

ENV_VAR = "CNNLAB_MODELS_DIR"
DEFAULT_DIR = Path("~/.cnnlab/models")

# One lock for every registry object of the process: the page makes a new ModelRegistry
# on every run, so two sessions saving at once hold different objects on the same folder.
_LOCK = threading.RLock()


def models_dir() -> Path:
    """The registry folder: ``$CNNLAB_MODELS_DIR`` if set, else ``~/.cnnlab/models``; created on demand."""
    root = Path(os.environ.get(ENV_VAR) or DEFAULT_DIR).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def validate_id(entry_id: str) -> str:
    """Return ``entry_id`` if it names a file of the registry folder and nothing else.

    Raises:
        ValueError: empty, hidden (leading "."), containing a path separator or "..".
    """
    if (not isinstance(entry_id, str) or not entry_id or entry_id.startswith(".") or ".." in entry_id
            or any(c in entry_id for c in "/\\\0") or len(entry_id) > 200):
        raise ValueError(f"Expected a model id: a file name without a folder, '..' or a leading dot. "
                         f"Received: {entry_id!r}")
    return entry_id


def slugify(name: str, max_length: int = 40) -> str:
    """A lower-case file-name-safe version of ``name`` (letters, digits, ``_`` and ``-``)."""
    slug = re.sub(r"[^a-z0-9_]+", "-", str(name).lower()).strip("-_")
    return slug[:max_length].rstrip("-_") or "model"


@dataclass
class RegistryEntry:
    """One complete saved model of the registry."""

    id: str  # file stem, a safe slug such as "shapes_cnn-20250101-120000"
    card: ModelCard  # what its JSON holds
    keras_path: Path
    json_path: Path
    size_bytes: int  # of the .keras file
    created: str  # ISO time from the card, else the JSON's modification time

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def download_name(self) -> str:
        """The file name a download of it gets: its name, made safe for a file (``shapes-cnn.keras``)."""
        return f"{slugify(self.name)}.keras"


class ModelRegistry:
    """Saved models in a folder; every method is safe to call from several threads.

    Args:
        root: the folder; ``models_dir()`` when None.
    """

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root).expanduser() if root is not None else models_dir()
        self.root.mkdir(parents=True, exist_ok=True)

    def list_entries(self) -> list[RegistryEntry]:
        """Every complete entry, newest first. A bad entry is skipped, never raised."""
        entries = []
        for json_path in self.root.glob("*.json"):
            try:
                entry = self._read_entry(json_path.stem)
            except (OSError, ValueError, ModelFileError):
                continue  # incomplete, unreadable or a stray file
            entries.append(entry)
        entries.sort(key=_age_key, reverse=True)
        return entries

    def get(self, entry_id: str) -> RegistryEntry:
        """The entry ``entry_id``.

        Raises:
            ValueError: an unsafe id.
            ModelFileError: no complete entry of that id.
        """
        validate_id(entry_id)
        try:
            return self._read_entry(entry_id)
        except (OSError, ValueError) as exc:
            raise ModelFileError(f"Expected the id of a saved model in {self.root}. Received: {entry_id!r} "
                                 f"({exc})") from exc

    def save(self, model, card: ModelCard, replay: tuple[list, object] | None = None) -> RegistryEntry:
        """Save ``model`` under a new unique id made from ``card.name`` and the time.

        Args:
            model: a Keras model (anything with ``save(path)`` writing a ``.keras`` file).
            card: its card, e.g. from ``core.storage.card.card_for_run``; a blank name
                becomes "model", a blank "created" the current time (the caller's card is left as it is).
            replay: ``(snapshots, probe)`` of the run that trained it, kept in
                ``ID.replay.npz`` (written before the JSON, so a listed entry has it).

        Returns:
            The new entry, listed from the moment its JSON is in place.
        """
        card = replace(card, name=str(card.name or "model"), created=card.created or now_iso())
        with _LOCK:
            entry_id, reservation = self._reserve_id(card.name)
            try:
                if replay is not None and replay[0]:
                    data = encode_replay(*replay)
                    _atomic_write(replay_path(self.root / f"{entry_id}.keras"), lambda tmp: Path(tmp).write_bytes(data))
                save_model(model, card, self.root / entry_id)
            finally:
                reservation.unlink(missing_ok=True)
            return self._read_entry(entry_id)

    def load(self, entry_id: str):
        """Load an entry with Keras's ``safe_mode`` on.

        Returns:
            ``(model, card)``.

        Raises:
            ModelFileError: no such entry, or the file cannot be loaded.
        """
        from core.storage.files import load_model

        entry = self.get(entry_id)
        model, card = load_model(entry.keras_path)
        return model, card

    def load_replay(self, entry_id: str) -> tuple[list, object] | None:
        """``(snapshots, probe)`` saved with an entry, or None when it has none or it is unreadable."""
        entry = self.get(entry_id)
        path = replay_path(entry.keras_path)
        if not path.is_file():
            return None
        try:
            return decode_replay(path)
        except (OSError, ValueError, KeyError):
            return None

    def rename(self, entry_id: str, new_name: str) -> RegistryEntry:
        """Give an entry a new human name (its id and files keep theirs).

        Raises:
            ValueError: a blank name, one longer than ``max_name_length`` (``core.settings``), or an unsafe id.
            ModelFileError: no such entry.
        """
        from core.settings import limits

        new_name = " ".join((new_name or "").split())
        if not new_name:
            raise ValueError(f"Expected a non-empty model name. Received: {new_name!r}")
        longest = limits().max_name_length
        if len(new_name) > longest:
            raise ValueError(f"Expected a model name of at most {longest} characters. Received: {len(new_name):,} "
                             "characters")
        with _LOCK:
            entry = self.get(entry_id)
            text = replace(entry.card, name=new_name).to_json()
            _atomic_write(entry.json_path, lambda tmp: Path(tmp).write_text(text))
            return self._read_entry(entry_id)

    def delete(self, entry_id: str) -> None:
        """Delete an entry: the JSON first, so that a crash halfway leaves an unlisted orphan."""
        with _LOCK:
            entry = self.get(entry_id)
            entry.json_path.unlink()
            entry.keras_path.unlink(missing_ok=True)
            replay_path(entry.keras_path).unlink(missing_ok=True)

    def remove_orphans(self, min_age_s: float = 60.0) -> list[Path]:
        """Delete what interrupted saves and deletes left behind, once older than ``min_age_s``.

        That is: ``.keras`` files without their JSON, JSON files without their ``.keras``,
        and temporary files (names starting with "."). A ``.keras`` whose save is still
        running in this or another process is kept (its id is reserved).

        Returns:
            The paths deleted.
        """
        removed = []
        limit = time.time() - min_age_s
        with _LOCK:
            # Temporary files first: a stale id reservation must not protect its orphan below.
            for path in sorted(self.root.iterdir(), key=lambda p: not p.name.startswith(".")):
                try:
                    if not path.is_file() or path.stat().st_mtime > limit:
                        continue
                    if path.name.startswith("."):
                        orphan = True
                    elif path.name.endswith(".replay.npz"):
                        stem = path.name[: -len(".replay.npz")]
                        orphan = (not (self.root / f"{stem}.json").exists()
                                  and not (self.root / f".{stem}.reserve").exists())
                    elif path.suffix == ".keras":
                        orphan = (not path.with_suffix(".json").exists()
                                  and not (self.root / f".{path.stem}.reserve").exists())
                    elif path.suffix == ".json":
                        orphan = not path.with_suffix(".keras").exists()
                    else:
                        orphan = False  # a file someone else put here: not ours to delete
                    if orphan:
                        path.unlink()
                        removed.append(path)
                except OSError:
                    continue  # gone already, or not ours to delete
        return removed

    def import_upload(self, data: bytes, filename: str) -> RegistryEntry:
        """Check a user's uploaded model file and save it as a new entry.

        The file's config.json is checked against the server's limits first, no layer built
        (``core.storage.model_limits``); only then is it written to a temporary file of the registry
        folder and loaded with ``safe_mode=True``. It must take one image, (height, width, 1 or 3),
        and output one score per class.

        Args:
            data: the file's bytes.
            filename: the name it was uploaded with; its stem becomes the model's name.

        Returns:
            The new entry (``card.source == "upload"``, generic class names "0", "1", ...).

        Raises:
            ModelFileError: the file is refused; the message tells a learner why.
        """

        filename = re.split(r"[\\/]", str(filename or ""))[-1]  # an old browser may send a Windows path
        _check_upload_bytes(data, filename)
        check_model_file(data, filename)
        import keras  # after the checks: a refused file costs no TensorFlow import

        from core.models.imagenet import preprocessing_layer_class

        preprocessing_layer_class()  # CNN Lab's own layer, which a model it saved may hold, registered first

        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".upload-", suffix=".keras")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            try:
                model = keras.models.load_model(tmp, compile=False, safe_mode=True)
            except Exception as exc:
                raise ModelFileError(_load_refusal(filename, exc)) from exc
            input_shape, num_classes = _check_classifier(model, filename)
        finally:
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)
        card = ModelCard(name=Path(filename).stem.strip() or "uploaded_model", source="upload", created=now_iso(),
                         class_names=[str(i) for i in range(num_classes)], input_shape=tuple(input_shape),
                         params=int(model.count_params()))
        return self.save(model, card)

    def _reserve_id(self, name: str) -> tuple[str, Path]:
        """A new id and its reservation file (exclusive, so also unique across processes)."""
        base = f"{slugify(name)}-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S')}"
        for n in range(1, 10_000):
            entry_id = base if n == 1 else f"{base}-{n}"
            keras_path, json_path = model_paths(self.root / entry_id)
            if keras_path.exists() or json_path.exists():
                continue
            reservation = self.root / f".{entry_id}.reserve"
            try:
                os.close(os.open(reservation, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                continue
            return entry_id, reservation
        raise ModelFileError(f"Expected a free model id in {self.root}. Received: 9,999 taken for {base!r}")

    def _read_entry(self, entry_id: str) -> RegistryEntry:
        """The complete entry ``entry_id``; raises OSError or ValueError when it is not one."""
        validate_id(entry_id)
        keras_path, json_path = model_paths(self.root / entry_id)
        if not keras_path.is_file():
            raise FileNotFoundError(f"no model file {keras_path.name}")
        card = ModelCard.from_json(json_path.read_text())  # CardError is a ValueError
        created = card.created
        if _timestamp(created) is None:
            created = datetime.fromtimestamp(json_path.stat().st_mtime, timezone.utc).isoformat(timespec="seconds")
        return RegistryEntry(id=entry_id, card=card, keras_path=keras_path, json_path=json_path,
                             size_bytes=keras_path.stat().st_size, created=created)


def _age_key(entry: RegistryEntry) -> tuple[float, int]:
    # Two saves in the same second share a "created" time; the JSON's mtime orders them.
    try:
        mtime = entry.json_path.stat().st_mtime_ns
    except OSError:
        mtime = 0
    return _timestamp(entry.created) or 0.0, mtime


def _timestamp(text) -> float | None:
    """Seconds since the epoch of an ISO time (naive times taken as UTC); None if unreadable."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


__all__ = ["DEFAULT_DIR", "ENV_VAR", "KNOWN_DATASET_SHAPES", "MAX_UNPACKED_BYTES", "ModelRegistry", "RegistryEntry",
           "check_fit", "datasets_that_fit", "models_dir", "slugify", "validate_id"]

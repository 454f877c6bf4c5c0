"""Save and load a model as ``NAME.keras`` plus ``NAME.json`` of metadata.

The metadata says everything the app needs to use the model without guessing:
its dataset, class names, input shape, preprocessing, architecture, training
configuration, history and test metrics. Both files are written to a temporary
name and renamed into place, so a crash mid-save never leaves half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

FORMAT_VERSION = 1

# How pixels are prepared for every model the app trains: decoded, converted
# to the model's channels, resized to its input, scaled to [0, 1].
DEFAULT_PREPROCESSING = {"scale": "divide by 255 to [0, 1]", "color": "model channels (grey or RGB)",
                         "resize": "centre crop to the input's aspect ratio, then resize"}


def _read_umask() -> int:
    # Read once at import: os.umask can only be read by setting it, which is not
    # safe to do later while other threads create files.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


class ModelFileError(Exception):
    """A model file could not be read; the message is meant for the user."""


def build_metadata(model, dataset, *, name: str, spec: dict | None = None, train_config: dict | None = None,
                   result: dict | None = None, parent: str | None = None) -> dict:
    """Metadata for a model trained on ``dataset`` (``result`` is what ``train_model`` returned)."""
    import keras
    import tensorflow as tf

    result = result or {}
    return {
        "format_version": FORMAT_VERSION,
        "name": name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dataset": dataset.reference(),
        "class_names": list(dataset.class_names),
        "input_shape": list(dataset.input_shape),
        "preprocessing": dict(DEFAULT_PREPROCESSING),
        "spec": spec,
        "train_config": train_config,
        "history": result.get("history", {}),
        "metrics": {k: result[k] for k in ("test_accuracy", "test_loss") if k in result},
        "train_seconds": result.get("train_seconds"),
        "epochs_done": result.get("epochs_done"),
        "params": int(model.count_params()),
        "parent": parent,
        "versions": {"keras": keras.__version__, "tensorflow": tf.__version__},
    }


def _atomic_write(target: Path, write) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=target.suffix)
    os.close(fd)
    try:
        write(tmp)
        # mkstemp creates the file private (0600); give it the permissions a normal file gets.
        os.chmod(tmp, 0o666 & ~_UMASK)
        # On disk before the rename, so even a power cut leaves the old file or the whole new one.
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (not possible on every platform)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def model_paths(path: str | Path) -> tuple[Path, Path]:
    """``(NAME.keras, NAME.json)`` for a path given with or without either suffix."""
    stem = Path(path)
    if stem.suffix in (".keras", ".json"):
        stem = stem.with_suffix("")
    return stem.with_name(stem.name + ".keras"), stem.with_name(stem.name + ".json")


def save_model(model, metadata: dict, path: str | Path) -> tuple[Path, Path]:
    """Write ``path.keras`` and ``path.json`` (``path`` may end in ``.keras``). Returns both paths."""
    keras_path, json_path = model_paths(path)
    _atomic_write(keras_path, lambda tmp: model.save(tmp))
    # The metadata goes last: an entry without its JSON is incomplete and not listed.
    _atomic_write(json_path, lambda tmp: Path(tmp).write_text(json.dumps(metadata, indent=2, default=_json_default)))
    return keras_path, json_path


def _json_default(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"Cannot store {type(value).__name__} in model metadata")


def load_model(path: str | Path):
    """Load ``path.keras`` and its metadata with Keras's ``safe_mode`` on.

    Returns:
        (model, metadata); metadata is ``{}`` when the JSON is missing.

    Raises:
        ModelFileError: missing, unreadable or unsafe model file.
    """
    import keras

    keras_path, json_path = model_paths(path)
    if not keras_path.is_file():
        raise ModelFileError(f"Model file not found: {keras_path}")
    try:
        model = keras.models.load_model(keras_path, compile=False, safe_mode=True)
    except Exception as exc:
        raise ModelFileError(f"Could not load {keras_path.name}: {type(exc).__name__}: {exc}") from exc
    return model, load_metadata(path)


def load_metadata(path: str | Path) -> dict:
    """The metadata saved beside ``path.keras``, without loading the model (or TensorFlow).

    Returns ``{}`` when the JSON is missing; raises ``ModelFileError`` when it is not valid JSON.
    """
    _, json_path = model_paths(path)
    if not json_path.is_file():
        return {}
    try:
        return json.loads(json_path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"The metadata file {json_path.name} is not valid JSON: {exc}") from exc

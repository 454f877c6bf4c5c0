"""Save and load a model as ``NAME.keras`` plus ``NAME.json``, its model card.

The card (``core.storage.card.ModelCard``) says everything the app needs to use the model
without guessing: its dataset, class names, input shape, preprocessing, architecture,
training configuration, history and test metrics. Both files are written to a temporary
name and renamed into place, so a crash mid-save never leaves half a file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from core.storage.card import CardError, ModelCard


def _read_umask() -> int:
    # Read once at import: os.umask can only be read by setting it, which is not
    # safe to do later while other threads create files.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


class ModelFileError(Exception):
    """A model file could not be read; the message is meant for the user."""


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


def save_model(model, card: ModelCard, path: str | Path) -> tuple[Path, Path]:
    """Write ``path.keras`` and ``path.json`` (``path`` may end in ``.keras``). Returns both paths."""
    keras_path, json_path = model_paths(path)
    text = card.to_json()  # before the model: a card that cannot be written stops the save with nothing written
    _atomic_write(keras_path, lambda tmp: model.save(tmp))
    # The card goes last: an entry without its JSON is incomplete and not listed.
    _atomic_write(json_path, lambda tmp: Path(tmp).write_text(text))
    return keras_path, json_path


def load_model(path: str | Path) -> tuple[object, ModelCard]:
    """Load ``path.keras`` and its card with Keras's ``safe_mode`` on.

    The file is first checked against the server's limits from its config.json alone
    (``core.storage.model_limits``): a file put in the models folder by hand gets no further than an upload.

    Returns:
        (model, card); the card is an empty ``ModelCard`` named after the file when the JSON is missing.

    Raises:
        ModelFileError: missing, unreadable, unsafe or over-the-limits model file, or a card that cannot be read.
    """
    import keras

    from core.models.imagenet import preprocessing_layer_class
    from core.storage.model_limits import check_model_file  # it imports this module

    keras_path, json_path = model_paths(path)
    if not keras_path.is_file():
        raise ModelFileError(f"Model file not found: {keras_path}")
    check_model_file(keras_path)
    preprocessing_layer_class()  # CNN Lab's own layer (a network from ImageNet starts with it), registered first
    try:
        model = keras.models.load_model(keras_path, compile=False, safe_mode=True)
    except Exception as exc:
        raise ModelFileError(f"Could not load {keras_path.name}: {type(exc).__name__}: {exc}") from exc
    return model, load_card(path) or ModelCard(name=keras_path.stem)


def load_card(path: str | Path) -> ModelCard | None:
    """The card saved beside ``path.keras``, without loading the model (or TensorFlow).

    Returns None when the JSON is missing; raises ``ModelFileError`` when it cannot be read as a card.
    """
    _, json_path = model_paths(path)
    if not json_path.is_file():
        return None
    try:
        return ModelCard.from_json(json_path.read_text())
    except (OSError, CardError) as exc:
        raise ModelFileError(f"The metadata file {json_path.name} cannot be read: {exc}") from exc

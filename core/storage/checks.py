"""Checks on a model before the app uses it: does it fit a dataset, is an upload acceptable.

``check_fit`` and ``datasets_that_fit`` tell a learner why a model cannot take a
dataset's images and which datasets it can take. The upload checks refuse, with
a message, any file that is not a safe Keras 3 image classifier.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from core.storage.files import ModelFileError
from core.storage.model_limits import check_zip_index

# Input shape and class count of every built-in dataset, known without loading it.
# "folder" is left out on purpose: it is loaded at any size the user picks, so it
# "fits" every model and would only add noise to the list (the Models page says so).
KNOWN_DATASET_SHAPES: dict[str, tuple[tuple[int, int, int], int]] = {
    "shapes": ((32, 32, 3), 4),
    "digits": ((8, 8, 1), 10),
    "mnist": ((28, 28, 1), 10),
    "fashion_mnist": ((28, 28, 1), 10),
    "cifar10": ((32, 32, 3), 10),
    "olivetti": ((64, 64, 1), 40),
}

# A .keras file is a zip; refuse archives that would unpack to more than this (zip bombs).
MAX_UNPACKED_BYTES = 2 * 1024**3
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_CONVERT_HINT = ("To convert it, load it in Keras 3 and save it again with "
                 'model.save("name.keras").')

def check_fit(model, dataset) -> list[str]:
    """Sentences naming every mismatch between a model and a dataset; empty when it fits.

    Args:
        model: a Keras model taking images (batch, height, width, channels).
        dataset: a ``core.data.Dataset``.
    """
    problems = []
    in_shape = tuple(model.input_shape)
    out_shape = tuple(model.output_shape)
    data_shape, title = tuple(dataset.input_shape), dataset.title
    if len(in_shape) != 4:
        return [f"The model does not take images: its input shape is {in_shape[1:]}."]
    height, width, channels = in_shape[1:]
    if (height is not None and height != data_shape[0]) or (width is not None and width != data_shape[1]):
        problems.append(f"The model expects {height}×{width} pixel images, but {title} has "
                        f"{data_shape[0]}×{data_shape[1]} images.")
    if channels != data_shape[2]:
        problems.append(f"The model expects {_colour(channels)} images, but {title} has "
                        f"{_colour(data_shape[2])} images.")
    classes = out_shape[-1] if len(out_shape) == 2 else None
    if classes != dataset.num_classes:
        problems.append(f"The model has {classes} output classes, but {title} has {dataset.num_classes} classes.")
    return problems


def made_for(class_names: list[str], outputs: int, input_shape: tuple, dataset) -> list[str]:
    """Sentences saying why a model with these class names, outputs and input shape was not made for ``dataset``.

    Empty when it was: the same image shape and the same classes in the same order. A model of
    unknown classes (no names in its card: ``class_names`` empty) is judged by its number of
    outputs alone, since nothing says otherwise. Two models of two classes each fit one another's
    shapes, but a model of "Me" and "Friend" scored on cats and dogs would be silently wrong:
    the names count.
    """
    problems = []
    title = dataset.title
    if tuple(input_shape) != tuple(dataset.input_shape):
        h, w, c = input_shape
        problems.append(f"It takes {h}×{w} {_colour(c)} images; {title} has {dataset.input_shape[0]}×"
                        f"{dataset.input_shape[1]} {_colour(dataset.input_shape[2])} images.")
    if class_names and list(class_names) != list(dataset.class_names):
        problems.append(f"It knows {_listing(list(class_names))}; {title} has {_listing(dataset.class_names)}.")
    elif not class_names and outputs != dataset.num_classes:
        problems.append(f"It has {outputs} outputs; {title} has {dataset.num_classes} classes.")
    return problems


def _listing(names: list[str], most: int = 6) -> str:
    shown = ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")
    return f"{len(names)} classes ({shown})"


def datasets_that_fit(model) -> list[str]:
    """Names of the built-in datasets whose image shape and class count match the model.

    ``"folder"`` is never listed: an image folder can be loaded at any size.
    """
    from core.data import DATASETS

    in_shape, out_shape = tuple(model.input_shape), tuple(model.output_shape)
    if len(in_shape) != 4 or len(out_shape) != 2:
        return []
    fitting = []
    for name, (shape, classes) in KNOWN_DATASET_SHAPES.items():
        same_shape = all(m is None or m == d for m, d in zip(in_shape[1:], shape))
        if name in DATASETS and same_shape and out_shape[-1] == classes:
            fitting.append(name)
    return fitting


def _check_upload_bytes(data: bytes, filename: str) -> None:
    """Refuse an upload that cannot be a Keras 3 model file before writing it anywhere."""
    shown = filename or "the file"
    if not data:
        raise ModelFileError(f"{shown} is empty (0 bytes). Expected a model file saved with Keras 3.")
    suffix = Path(filename).suffix.lower()
    if suffix != ".keras":
        legacy = suffix in (".h5", ".hdf5", ".pb", ".zip", "")
        raise ModelFileError(
            f"Expected a Keras 3 model file ending in .keras. Received: {shown!r}. "
            + ("Legacy .h5 files and TensorFlow SavedModel folders are not accepted. " if legacy else "")
            + _CONVERT_HINT)
    if data.startswith(_HDF5_SIGNATURE):
        raise ModelFileError(f"{shown} is a legacy HDF5 (.h5) model renamed to .keras; .h5 files are not "
                             f"accepted. {_CONVERT_HINT}")
    buffer = io.BytesIO(data)
    if not zipfile.is_zipfile(buffer):
        raise ModelFileError(f"{shown} is not a Keras model file: a .keras file is a zip archive, and this one "
                             f"is not. It may be damaged, or another kind of file renamed to .keras.")
    check_zip_index(buffer, shown)  # before zipfile reads the whole index into memory
    try:
        with zipfile.ZipFile(buffer) as archive:
            names = set(archive.namelist())
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ModelFileError(f"{shown} is a damaged zip archive: {exc}") from exc
    if "config.json" not in names:
        raise ModelFileError(f"{shown} is a zip archive but not a Keras model: it has no config.json. "
                             f"Expected a file saved with Keras 3's model.save(\"name.keras\").")
    if unpacked > MAX_UNPACKED_BYTES:
        raise ModelFileError(f"Expected a model of at most {MAX_UNPACKED_BYTES / 1024**3:.0f} GB unpacked. "
                             f"Received: {shown} unpacks to {unpacked / 1024**3:.1f} GB.")


def _load_refusal(filename: str, exc: Exception) -> str:
    """What to tell a learner when Keras refused to load their file."""
    text = str(exc)
    if "safe_mode" in text or "unsafe" in text.lower() or "Lambda" in text:
        return (f"{filename} was refused: it contains Python code (for example a Lambda layer) that would run on "
                f"the server when the model is loaded, and CNN Lab never runs code from an uploaded file. "
                f"Rebuild the model from built-in Keras layers only.")
    if "Could not locate" in text or "custom" in text.lower() or "register_keras_serializable" in text:
        return (f"{filename} was refused: it uses custom layers or functions, which are code that would have to "
                f"run on the server, and CNN Lab never runs code from an uploaded file. Rebuild the model from "
                f"built-in Keras layers only.")
    first_line = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return f"{filename} could not be read as a Keras model: {first_line[:300]}"


def _check_classifier(model, filename: str) -> tuple[tuple[int, int, int], int]:
    """``(input_shape, num_classes)`` of an image classifier; ModelFileError for any other model."""
    inputs, outputs = list(model.inputs or []), list(model.outputs or [])
    in_shape = tuple(inputs[0].shape) if len(inputs) == 1 else tuple(model.input_shape)
    if len(inputs) != 1 or len(in_shape) != 4 or in_shape[-1] not in (1, 3):
        raise ModelFileError(f"{filename} is not an image model. Expected one input of shape "
                             f"(height, width, 1 or 3) (grey or colour images). Received: input shape "
                             f"{_batchless(model.input_shape)}.")
    if in_shape[1] is None or in_shape[2] is None:
        raise ModelFileError(f"Expected a model with a fixed image size. Received: {filename} takes images of "
                             f"shape {in_shape[1:]} (any size); add an Input of a fixed size, e.g. (32, 32, 3).")
    out_shape = tuple(outputs[0].shape) if len(outputs) == 1 else ()
    if len(outputs) != 1 or len(out_shape) != 2 or out_shape[-1] is None or out_shape[-1] < 2:
        raise ModelFileError(f"{filename} is not a classifier. Expected one output of one score per class "
                             f"(at least 2). Received: output shape {_batchless(model.output_shape)}.")
    return tuple(int(v) for v in in_shape[1:]), int(out_shape[-1])


def _batchless(shape):
    if isinstance(shape, list):
        return [_batchless(s) for s in shape]
    return tuple(shape)[1:] if isinstance(shape, tuple) else shape


def _colour(channels) -> str:
    return {1: "grey (1 channel)", 3: "colour (3 channels)"}.get(channels, f"{channels}-channel")



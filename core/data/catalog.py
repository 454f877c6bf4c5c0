"""One registry of datasets, all returned in the same ``Dataset`` shape.

    >>> from core.data import load_dataset
    >>> ds = load_dataset("shapes")
    >>> ds.input_shape, ds.class_names
"""

from __future__ import annotations

from dataclasses import dataclass

from core.data.base import Dataset, DatasetError, DatasetUnavailableError, ProgressFn


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    title: str
    description: str
    offline: bool  # usable with no network and no files
    needs_folder: bool  # the user must give a folder


DATASETS: dict[str, DatasetInfo] = {
    "shapes": DatasetInfo("shapes", "Shapes (synthetic)",
                          "Circles, squares, triangles and stars, generated from a seed. The default.", True, False),
    "digits": DatasetInfo("digits", "Digits (scikit-learn)", "1,797 handwritten 8x8 digits, shipped offline.", True, False),
    "mnist": DatasetInfo("mnist", "MNIST digits", "70,000 handwritten 28x28 digits: downloaded by Keras, or read from the idx files.", False, False),
    "fashion_mnist": DatasetInfo("fashion_mnist", "Fashion-MNIST", "70,000 28x28 photos of clothes: downloaded by Keras, or read from the idx files.", False, False),
    "cifar10": DatasetInfo("cifar10", "CIFAR-10", "60,000 32x32 colour photos of ten classes: downloaded by Keras, or read from a folder.", False, False),
    "olivetti": DatasetInfo("olivetti", "Olivetti faces", "400 64x64 photos of 40 people: downloaded by scikit-learn.", False, False),
    "folder": DatasetInfo("folder", "Image folder", "Your own images: a folder with one sub-folder per class.", True, True),
}

DEFAULT_DATASET = "shapes"


def load_dataset(name: str, options: dict | None = None, progress: ProgressFn | None = None) -> Dataset:
    """Load a dataset of the registry by name.

    Args:
        name: a key of ``DATASETS``.
        options: loader options, e.g. ``{"folder": "..."}`` for MNIST from idx files or
            ``{"path": "...", "image_size": 64}`` for a folder. A dataset's ``options``
            attribute holds exactly what is needed to load it again.
        progress: called with (fraction, message) during slow loads.

    Raises:
        DatasetError: unknown name, bad options or unreadable files.
        DatasetUnavailableError: a download failed; the message says how to supply the files.
    """
    options = {k: v for k, v in (options or {}).items() if v not in (None, "")}
    if name == "shapes":
        from core.data.shapes import load_shapes

        return load_shapes(progress=progress, **_checked(name, load_shapes, options))
    if name == "digits":
        from core.data.digits import load_digits

        return load_digits(progress=progress, **_checked(name, load_digits, options))
    if name in ("mnist", "fashion_mnist", "cifar10"):
        from core.data.classic import load_classic

        _checked(name, load_classic, options, skip=("name",))
        return load_classic(name, folder=options.get("folder"), progress=progress)
    if name == "olivetti":
        from core.data.olivetti import load_olivetti

        return load_olivetti(progress=progress, **_checked(name, load_olivetti, options))
    if name == "folder":
        from core.data.folder import load_folder

        if "path" not in options:
            raise DatasetError("Expected a folder path for the 'folder' dataset. Received: none")
        options = _checked(name, load_folder, options)
        image_size = options.pop("image_size", 64)
        if isinstance(image_size, (list, tuple)):
            image_size = tuple(int(v) for v in image_size)
        return load_folder(options.pop("path"), image_size=image_size, progress=progress, **options)
    raise DatasetError(f"Expected a dataset name in {sorted(DATASETS)}. Received: {name!r}")


def _checked(name: str, loader, options: dict, skip: tuple = ()) -> dict:
    """``options`` when the loader takes every one of them, else a DatasetError naming the known ones."""
    import inspect

    known = [p for p in inspect.signature(loader).parameters if p not in ("progress", *skip)]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise DatasetError(f"Expected options of the {name!r} dataset among {known}. Received: {unknown}")
    return dict(options)


__all__ = ["DATASETS", "DEFAULT_DATASET", "Dataset", "DatasetError", "DatasetInfo",
           "DatasetUnavailableError", "ProgressFn", "load_dataset"]

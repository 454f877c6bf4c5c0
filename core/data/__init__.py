"""What a network learns from: datasets, the user's own images, and the safe decoding of every upload.

- ``catalog``: the built-in datasets by name (``DATASETS``, ``load_dataset``), all returned as
  one ``Dataset`` shape (``base``). Their loaders: ``shapes`` (the offline default), ``digits``,
  ``classic`` (MNIST, Fashion-MNIST, CIFAR-10, with ``download`` and the ``idx`` reader),
  ``olivetti`` and ``folder`` (any folder of class folders).
- ``images``: every picture a user brings goes through here: decoded safely, or refused with a reason.
- ``zip_import``: a user's zip of class folders, unpacked safely into a folder.
- ``class_images``: the My classes store, one folder per class.
- ``augment``: random flips, turns, zooms, shifts and light changes of training batches.
- ``pixel_stats``: what a dataset's input values look like.

The catalog's names are importable from here: ``from core.data import load_dataset``.
"""

from core.data.base import Dataset, DatasetError, DatasetUnavailableError, ProgressFn
from core.data.catalog import DATASETS, DEFAULT_DATASET, DatasetInfo, load_dataset

__all__ = ["DATASETS", "DEFAULT_DATASET", "Dataset", "DatasetError", "DatasetInfo", "DatasetUnavailableError",
           "ProgressFn", "load_dataset"]

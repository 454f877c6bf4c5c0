"""The Olivetti faces (AT&T, 40 people x 10 photos, 64x64 grey) through scikit-learn's fetch-and-cache.

``sklearn.datasets.fetch_olivetti_faces`` downloads once into scikit-learn's data
folder (``~/scikit_learn_data`` or ``$SCIKIT_LEARN_DATA``) and reads that cache
afterwards. Offline, the failure becomes a message saying how to get the same
faces another way: the ORL/AT&T folder layout (``s1..s40/*.pgm``) through the
folder loader.
"""

from __future__ import annotations

import numpy as np

from core.data.base import Dataset, DatasetUnavailableError, ProgressFn
from core.data.folder import per_class_split, stratified_split


def load_olivetti(train_per_class: int | None = 5, test_fraction: float = 0.5, seed: int = 0,
                  progress: ProgressFn | None = None) -> Dataset:
    """Load the Olivetti faces.

    Args:
        train_per_class: photos of each person used for training (the rest test); None to
            split by ``test_fraction`` instead.
        test_fraction: share of each person's photos held out when ``train_per_class`` is None.
        seed: seed of the split.
        progress: called with (fraction, message) while loading.
    """
    from sklearn.datasets import fetch_olivetti_faces

    if progress:
        progress(0.0, "Loading the Olivetti faces (downloaded by scikit-learn on first use)")
    try:
        bunch = fetch_olivetti_faces(shuffle=False)
    except (OSError, ValueError) as exc:  # URLError and HTTPError are OSErrors
        raise DatasetUnavailableError(
            f"Could not download the Olivetti faces with sklearn.datasets.fetch_olivetti_faces(): "
            f"{type(exc).__name__}: {exc}. If this machine is offline, use the same faces in the ORL/AT&T "
            "layout instead: a folder with s1 ... s40 sub-folders of .pgm photos, loaded as an image folder."
        ) from exc
    x = bunch.images.astype(np.float32)[..., None]  # already scaled to [0, 1]
    y = bunch.target.astype(np.int64)
    if train_per_class is not None:
        train_idx, test_idx = per_class_split(y, int(train_per_class), seed)
    else:
        train_idx, test_idx = stratified_split(y, test_fraction, seed)
    return Dataset(
        name="olivetti", title="Olivetti faces",
        description="400 photos of 40 people, 64x64 grey (AT&T Laboratories Cambridge), via scikit-learn.",
        class_names=[f"person {i + 1}" for i in range(40)],
        x_train=x[train_idx], y_train=y[train_idx], x_test=x[test_idx], y_test=y[test_idx],
        source="sklearn.datasets.fetch_olivetti_faces cache",
        options={"train_per_class": train_per_class, "test_fraction": test_fraction, "seed": seed},
    )

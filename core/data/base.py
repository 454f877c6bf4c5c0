"""The common shape every dataset has, and the errors loaders raise."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

# A loader reports slow work as (fraction done in [0, 1], message).
ProgressFn = Callable[[float, str], None]


class DatasetError(Exception):
    """A dataset could not be loaded; the message says why and what to do."""


class DatasetUnavailableError(DatasetError):
    """The dataset's files are missing and could not be downloaded."""


@dataclass
class Dataset:
    """Images and labels of one dataset, ready for a Keras model.

    Images are float32 in [0, 1], shape (N, height, width, channels); labels
    are int64 class indices into ``class_names``.
    """

    name: str  # registry key, e.g. "shapes"
    title: str  # human title, e.g. "Shapes (synthetic)"
    description: str  # one or two sentences for the Data page
    class_names: list[str]
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str = ""  # where the images came from (folder, download cache...)
    options: dict = field(default_factory=dict)  # what load_dataset needs to load it again
    warnings: list[str] = field(default_factory=list)  # e.g. files skipped because they are not images

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(int(d) for d in self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def class_counts(self, split: str = "train") -> dict[str, int]:
        """Number of images per class in the ``"train"`` or ``"test"`` split."""
        labels = self.y_train if split == "train" else self.y_test
        counts = np.bincount(labels, minlength=self.num_classes)
        return {name: int(c) for name, c in zip(self.class_names, counts)}

    def samples_per_class(self, per_class: int, split: str = "train", seed: int = 0) -> dict[int, np.ndarray]:
        """Indices of up to ``per_class`` random images of every class."""
        labels = self.y_train if split == "train" else self.y_test
        rng = np.random.default_rng(seed)
        picked = {}
        for c in range(self.num_classes):
            idx = np.flatnonzero(labels == c)
            if len(idx) > per_class:
                idx = np.sort(rng.choice(idx, per_class, replace=False))
            picked[c] = idx
        return picked

    def reference(self) -> dict:
        """Plain data that identifies the dataset in a model's metadata."""
        return {
            "name": self.name,
            "title": self.title,
            "options": dict(self.options),
            "input_shape": list(self.input_shape),
            "class_names": list(self.class_names),
        }


def validate_arrays(x: np.ndarray, y: np.ndarray, num_classes: int, what: str) -> None:
    """Raise DatasetError when images and labels do not fit together."""
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise DatasetError(f"Expected {what} images of shape (N, H, W, 1 or 3). Received: shape={x.shape}")
    if len(x) != len(y):
        raise DatasetError(f"Expected as many {what} labels as images. Received: {len(y)} labels for {len(x)} images")
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        raise DatasetError(f"Expected {what} labels in [0, {num_classes - 1}]. Received: [{y.min()}, {y.max()}]")

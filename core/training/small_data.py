"""Training settings for a few dozen to a few hundred photos: a user's own classes, or enrolled faces.

My classes and Who am I? train on whatever the user brought, so nothing is tuned by hand:
the batch grows with the number of photos and the epochs give about 100 weight updates.
"""

from __future__ import annotations

from core.models.architecture import ModelSpec
from core.models.presets import PRESETS
from core.training.config import TrainConfig, batch_and_epochs

PRESET = "small_cnn"  # three small conv blocks: trains on a few dozen images in seconds on a CPU
# Mild changes for a handful of webcam photos: a little turn, zoom, shift and light,
# so the network does not learn one exact framing. No flips: a hand pointing left
# and one pointing right are different classes.
MILD_AUGMENTATION = {"rotation_degrees": 8.0, "zoom": 0.1, "translation": 0.08, "brightness": 0.1, "contrast": 0.1}


def choose_spec() -> ModelSpec:
    """The architecture trained on a user's classes: the Small CNN preset."""
    return PRESETS[PRESET].spec()


def choose_config(n_train: int, epochs: int | None = None, learning_rate: float = 1e-3, augment: bool = True,
                  seed: int = 0) -> TrainConfig:
    """Hyperparameters for ``n_train`` training images of a user's classes.

    Args:
        n_train: images in the training split; batches of 4 for a few dozen, up to 32 for hundreds.
        epochs: passes over them; by default enough for about 100 gradient steps
            (a few dozen images need many passes), between 10 and 40.
        learning_rate: Adam's step size.
        augment: mild random changes of every batch (``MILD_AUGMENTATION``).
        seed: seeds the weights, the shuffling and the augmentation.

    The whole training split is used for learning (no validation share): with a
    handful of images per class, the per-class test split already measures the result.
    """
    # Small batches for few images: every epoch costs a fixed overhead (callbacks,
    # the job's filter snapshots), so more steps per epoch train faster overall.
    batch_size, enough = batch_and_epochs(n_train, (4, 32), (10, 40))
    epochs = enough if epochs is None else epochs
    return TrainConfig(epochs=int(epochs), batch_size=batch_size, learning_rate=float(learning_rate), optimizer="adam",
                       validation_split=0.0, seed=int(seed),
                       augmentation=dict(MILD_AUGMENTATION) if augment else None)

"""The settings of one training run, and the arithmetic of its epochs and validation split.

``TrainConfig`` is what the Train page, the fast recipes and ``python -m core.train`` fill in,
and what is stored beside every trained model. The helpers here turn it into numbers of
images and batches without TensorFlow, so pages can warn about a run before it starts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

OPTIMIZERS = ("adam", "sgd", "rmsprop", "adamw")
SCHEDULES = ("constant", "cosine")
# the choices the Train page offers
LEARNING_RATES = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 2e-1)
BATCH_SIZES = (8, 16, 32, 64, 128, 256)
LABEL_SMOOTHING = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3)
WEIGHT_DECAYS = (0.0, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2)
# shares of the training images a focused epoch trains on (0: every image every epoch)
FOCUS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
# A run with fewer weight updates than this rarely gets far from a guess: the Train page says so.
FEW_UPDATES = 100


@dataclass
class TrainConfig:
    """Hyperparameters of one training run."""

    epochs: int = 5  # passes over the training split
    batch_size: int = 64  # images per gradient step
    learning_rate: float = 1e-3  # step size of the optimizer
    optimizer: str = "adam"  # one of OPTIMIZERS
    validation_split: float = 0.1  # share of the training split held out to validate each epoch
    seed: int = 0  # seeds weights, shuffling and the validation split
    schedule: str = "constant"  # "cosine": warm up over the first steps, then decay to 0 by the last batch
    augmentation: dict | None = None  # core.data.augment.Augmentation settings applied to every training batch
    label_smoothing: float = 0.0  # train towards 1 - s on the true class and s / classes on every class, not 1 and 0
    # Shrink every weight by lr x weight_decay at each step (decoupled weight decay, as AdamW and Keras's
    # optimizers do it); 0 for none. SGD always uses Nesterov momentum 0.9.
    weight_decay: float = 0.0
    # Hard-image focus: after ``focus_warmup`` epochs of every image, each epoch trains on the share ``focus``
    # of the images with the highest loss when last trained on, plus ``focus_revisit`` of the others picked at
    # random (their losses are measured again then). 0: every epoch trains on every image. See ``FocusedBatches``.
    focus: float = 0.0
    focus_warmup: int = 2
    focus_revisit: float = 0.1
    # Fine-tuning a network built on a backbone (core.models.backbones): after ``fine_tune_from`` epochs of its new
    # head alone, the backbone's last ``fine_tune_blocks`` blocks are unfrozen and every later epoch trains them
    # too, with a fresh optimizer whose learning rate is ``fine_tune_rate`` times the run's. 0 blocks: none.
    fine_tune_blocks: int = 0
    fine_tune_from: int = 0
    fine_tune_rate: float = 0.1

    def to_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"Expected epochs and batch_size of at least 1. Received: {self.epochs}, {self.batch_size}")
        if not self.learning_rate > 0:
            raise ValueError(f"Expected a positive learning rate. Received: {self.learning_rate}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"Expected an optimizer in {OPTIMIZERS}. Received: {self.optimizer!r}")
        if not 0.0 <= self.validation_split < 1.0:
            raise ValueError(f"Expected validation_split in [0, 1). Received: {self.validation_split}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"Expected label_smoothing in [0, 1). Received: {self.label_smoothing}")
        if not 0.0 <= self.weight_decay < 1.0:
            raise ValueError(f"Expected weight_decay in [0, 1). Received: {self.weight_decay}")
        if not 0.0 <= self.focus < 1.0:
            raise ValueError(f"Expected focus in [0, 1). Received: {self.focus}")
        if self.focus and self.focus_warmup < 1:
            raise ValueError(f"Expected focus_warmup of at least 1 epoch (the losses that pick the hard images are "
                             f"measured then). Received: {self.focus_warmup}")
        if not 0.0 <= self.focus_revisit <= 1.0:
            raise ValueError(f"Expected focus_revisit in [0, 1]. Received: {self.focus_revisit}")
        if self.fine_tune_blocks < 0:
            raise ValueError(f"Expected fine_tune_blocks of at least 0. Received: {self.fine_tune_blocks}")
        if self.fine_tune_blocks and not 1 <= self.fine_tune_from < self.epochs:
            raise ValueError(f"Expected fine-tuning to start after 1 to {self.epochs - 1} epochs of the new head alone "
                             f"(fine_tune_from), so that both get at least one. Received: {self.fine_tune_from} of "
                             f"{self.epochs} epochs")
        if self.fine_tune_from and not self.fine_tune_blocks:
            raise ValueError(f"Expected at least one block of the backbone to fine-tune from epoch "
                             f"{self.fine_tune_from + 1}: with every layer frozen there is nothing to fine-tune "
                             "(fine_tune_blocks is 0)")
        if self.fine_tune_blocks and not 0.0 < self.fine_tune_rate <= 1.0:
            raise ValueError(f"Expected fine_tune_rate in (0, 1]. Received: {self.fine_tune_rate}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"Expected a schedule in {SCHEDULES}. Received: {self.schedule!r}")
        self.augmenter_settings().validate()

    def augmenter_settings(self):
        """The ``Augmentation`` these settings describe (all off when ``augmentation`` is None)."""
        from core.data.augment import Augmentation

        return Augmentation.from_dict(self.augmentation)


def validation_size(n: int, fraction: float) -> int:
    """How many of ``n`` training images ``split_validation`` holds out: at least one on each side."""
    if fraction <= 0 or n < 2:
        return 0
    return min(max(1, int(round(n * fraction))), n - 1)


def epoch_images(n: int, config: TrainConfig) -> list[int]:
    """Images each epoch trains on, of ``n`` training images (fewer after the warm-up with hard-image focus)."""
    if not config.focus:
        return [n] * config.epochs
    hard = max(1, round(config.focus * n))
    focused = hard + round(config.focus_revisit * (n - hard))
    return [n if epoch < config.focus_warmup else focused for epoch in range(config.epochs)]


def epoch_steps(n: int, config: TrainConfig) -> list[int]:
    """Batches (weight updates) each epoch runs, of ``n`` training images (see ``epoch_images``)."""
    return [-(-k // config.batch_size) for k in epoch_images(n, config)]


def steps_per_epoch(n: int, validation_split: float, batch_size: int) -> int:
    """Batches (weight updates) in one epoch of ``n`` training images once the validation share is held out."""
    return -(-(n - validation_size(n, validation_split)) // batch_size)


def batch_and_epochs(n: int, batches: tuple[int, int], epochs: tuple[int, int]) -> tuple[int, int]:
    """A batch size and epochs for ``n`` training images: batches of about a sixth of them (a power of two
    within ``batches``), and enough epochs (within ``epochs``) for ``FEW_UPDATES`` weight updates.

    Returns:
        (batch_size, epochs).
    """
    batch = int(np.clip(2 ** round(np.log2(max(n, 1) / 6)), *batches))
    steps = -(-max(n, 1) // batch)
    return batch, int(np.clip(-(-FEW_UPDATES // steps), *epochs))


def suggested_run(n: int, validation_split: float) -> tuple[int, int]:
    """Epochs and batch size the Train page starts from for ``n`` training images: at least ``FEW_UPDATES``
    weight updates, in small batches for a few hundred photos and batches of 64 for thousands.

    Returns:
        (epochs, batch_size): the batch one of ``BATCH_SIZES``, the epochs between 5 and 60.
    """
    batch, epochs = batch_and_epochs(n - validation_size(n, validation_split), (BATCH_SIZES[0], 64), (5, 60))
    return epochs, batch


def split_validation(x: np.ndarray, y: np.ndarray, fraction: float, seed: int):
    """Shuffle once with ``seed`` and hold out the last ``fraction`` for validation.

    Keras's own ``validation_split`` takes the *last* images without shuffling,
    which on a sorted dataset validates on classes never trained on.
    """
    n_val = validation_size(len(x), fraction)
    if n_val == 0:
        return x, y, None
    order = np.random.default_rng(seed).permutation(len(x))
    val, train = order[:n_val], order[n_val:]
    return x[train], y[train], (x[val], y[val])

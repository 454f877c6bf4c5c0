"""Keras callbacks of a training run: the cosine learning-rate schedule and progress reports.

Importing this module imports Keras (and TensorFlow): modules that must stay cheap to import
(the job, the command line) import it inside the function that trains.
"""

from __future__ import annotations

from typing import Callable

import keras
import numpy as np


def cosine_learning_rate(step: int, total: int, base: float, warmup: int) -> float:
    """Learning rate of batch ``step`` (0-based) of ``total``: linear warm-up from base/10, then cosine to 0."""
    if warmup > 0 and step < warmup:
        return base * (0.1 + 0.9 * step / warmup)
    span = max(1, total - warmup)
    progress = min(1.0, (step - warmup) / span)
    return base * 0.5 * (1.0 + float(np.cos(np.pi * progress)))


class CosineSchedule(keras.callbacks.Callback):
    """Sets the learning rate before every batch (see ``cosine_learning_rate``).

    Warm-up lasts 3% of the batches (at most one epoch). If something else
    changes the learning rate meanwhile (the Train page's control), the schedule
    steps aside and leaves the rate as set.

    Args:
        base: the peak learning rate, reached when the warm-up ends.
    """

    def __init__(self, base: float, phase_epochs: int | None = None):
        super().__init__()
        self.base = float(base)
        self.phase_epochs = phase_epochs  # a first phase's epochs (a head before fine-tuning): its cosine ends there
        self.step, self.total, self.warmup, self.offset, self.run_total = 0, 1, 0, 0, 1
        self.last: float | None = None
        self.active = True
        self.rates: list[float] = []  # the rate set before each batch, as stored (float32)

    def on_train_begin(self, logs=None):
        steps = self.params.get("steps") or 1
        self.run_total = self.params.get("total_steps") or steps * (self.params.get("epochs") or 1)
        self.total = min(self.run_total, steps * self.phase_epochs) if self.phase_epochs else self.run_total
        self.warmup = min(steps, int(0.03 * self.total))
        self.offset = 0

    def restart(self, base: float) -> None:
        """Start a new warm-up and cosine at ``base`` over the batches left (fine-tuning's fresh optimizer).

        A rate set by hand earlier in the run stays set (the schedule stays aside).
        """
        self.base = float(base)
        self.offset, self.total = self.step, self.run_total
        self.warmup = min(self.params.get("steps") or 1, int(0.03 * max(1, self.total - self.offset)))
        self.last = None  # the new optimizer starts at its own rate: not a rate set by hand

    def on_train_batch_begin(self, batch, logs=None):
        if not self.active:
            return
        lr_var = self.model.optimizer.learning_rate
        if self.last is not None and float(lr_var.numpy()) != self.last:
            self.active = False  # set by hand: keep it
            return
        lr_var.assign(cosine_learning_rate(self.step - self.offset, self.total - self.offset, self.base, self.warmup))
        self.last = float(lr_var.numpy())  # as stored (float32), to compare with next time
        self.rates.append(self.last)
        self.step += 1


class ProgressCallback(keras.callbacks.Callback):
    """Forwards batch and epoch logs to plain functions.

    ``on_batch(epoch, batch, steps, logs)`` and ``on_epoch(epoch, logs)`` receive
    floats only, so a UI can draw them without touching TensorFlow.
    ``on_batch`` may run on a Keras helper thread, slightly after the batch and,
    rarely, out of order. The
    ``on_batch_begin(model)``, ``on_train_begin(model)`` and
    ``on_epoch_end_model(model, epoch)`` hooks get the model being trained (a
    job uses them to pause, change the learning rate and record filters).
    ``should_stop()`` is asked before and after every batch.
    """

    # Keras then runs on_train_batch_end in a helper thread: reading the
    # batch's loss no longer makes the training loop wait for the device
    # after every batch. The handlers given here must be thread-safe.
    async_safe = True

    def __init__(self, on_batch: Callable | None = None, on_epoch: Callable | None = None,
                 should_stop: Callable[[], bool] | None = None, on_batch_begin: Callable | None = None,
                 on_train_begin: Callable | None = None, on_epoch_end_model: Callable | None = None):
        super().__init__()
        self.epoch = 0
        self._on_batch, self._on_epoch, self._should_stop = on_batch, on_epoch, should_stop
        self._on_batch_begin, self._on_train_begin, self._on_epoch_end_model = (
            on_batch_begin, on_train_begin, on_epoch_end_model)

    def _stop_if_asked(self) -> None:
        if self._should_stop and self._should_stop():
            self.model.stop_training = True

    def on_train_begin(self, logs=None):
        if self._on_train_begin:
            self._on_train_begin(self.model)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if self._on_batch_begin:
            self._on_batch_begin(self.model)
        self._stop_if_asked()

    def on_train_batch_end(self, batch, logs=None):
        if self._on_batch:
            self._on_batch(self.epoch, batch, self.params.get("steps"), {k: float(v) for k, v in (logs or {}).items()})
        self._stop_if_asked()

    def on_epoch_end(self, epoch, logs=None):
        if self._on_epoch:
            self._on_epoch(epoch, {k: float(v) for k, v in (logs or {}).items()})
        if self._on_epoch_end_model:
            self._on_epoch_end_model(self.model, epoch)

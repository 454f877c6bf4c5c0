"""What a page reads of a training run: its progress (``JobSnapshot``) and the first layer's replay (``Snapshot``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Snapshot:
    """What the first conv layer looked like at one moment of training."""

    epoch: int  # 0 before the first update, then epochs finished
    kernel: np.ndarray  # (kh, kw, in, out) of the first conv layer
    maps: dict[str, np.ndarray]  # conv layer name -> (H, W, C) maps of the probe image


@dataclass
class JobSnapshot:
    """A consistent copy of a job's progress, safe to read from the UI thread."""

    state: str
    epoch: int  # 0-based epoch in progress
    epochs: int
    batch: int  # batches finished in this epoch
    steps: int | None  # batches per epoch
    elapsed: float  # seconds of training, pauses excluded; once finished, the result's ``train_seconds``
    images_per_second: float
    batch_log: list[dict] = field(default_factory=list)
    epoch_log: list[dict] = field(default_factory=list)
    error: str | None = None
    queue_position: int | None = None
    learning_rate: float | None = None
    lr_log: list[dict] = field(default_factory=list)  # {"step", "learning_rate"} of each change
    pending_learning_rate: float | None = None  # chosen, and used from the next batch on (after a pause)
    images: int = 0  # images trained on so far
    images_total: int = 0  # in the whole run (epochs can differ: hard-image focus)
    paused_seconds: float = 0.0  # held by Pause so far (not in ``elapsed``)

    @property
    def fraction(self) -> float:
        if self.state == "done":
            return 1.0
        if self.images_total:
            return min(1.0, self.images / self.images_total)
        if not self.steps:
            return self.epoch / max(1, self.epochs)
        return min(1.0, (self.epoch + self.batch / self.steps) / max(1, self.epochs))

    @property
    def eta(self) -> float | None:
        f = self.fraction
        if f <= 0 or self.state != "running":
            return None
        return self.elapsed * (1 - f) / f

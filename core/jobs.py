"""A training run in a background thread that a page can poll.

Streamlit reruns the page script on every click; a ``model.fit`` inside the
script would be interrupted by the first one. The job runs in a thread owned by
the user's session instead. A thread, not a process, because the trained model
must end up in the same Python process as the page that shows it, and
TensorFlow releases the GIL while it computes, so the page stays responsive.
"""

from __future__ import annotations

import threading
import time
import traceback
import uuid

import numpy as np
from dataclasses import dataclass, field

from .training import ProgressCallback, TrainConfig, train_model

STATES = ("queued", "running", "done", "stopped", "failed")


@dataclass
class JobSnapshot:
    """A consistent copy of a job's progress, safe to read from the UI thread."""

    state: str
    epoch: int  # 0-based epoch in progress
    epochs: int
    batch: int  # batches finished in this epoch
    steps: int | None  # batches per epoch
    elapsed: float  # seconds since the job started running
    images_per_second: float
    batch_log: list[dict] = field(default_factory=list)
    epoch_log: list[dict] = field(default_factory=list)
    error: str | None = None

    @property
    def fraction(self) -> float:
        if self.state == "done":
            return 1.0
        if not self.steps:
            return self.epoch / max(1, self.epochs)
        return min(1.0, (self.epoch + self.batch / self.steps) / max(1, self.epochs))

    @property
    def eta(self) -> float | None:
        f = self.fraction
        if f <= 0 or self.state != "running":
            return None
        return self.elapsed * (1 - f) / f


class TrainingJob:
    """Train ``model`` on ``dataset`` in a daemon thread.

    Args:
        model: a Keras model, used by this job alone while it runs.
        dataset: the data.
        config: hyperparameters.
        name: the model's display name.
        spec: the ``ModelSpec`` as a dict, kept for the metadata.
    """

    def __init__(self, model, dataset, config: TrainConfig, name: str, spec: dict | None = None):
        config.validate()
        self.id = uuid.uuid4().hex[:8]
        self.model, self.dataset, self.config, self.name, self.spec = model, dataset, config, name, spec
        self.result: dict | None = None
        self.metadata: dict | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._state = "queued"
        self._epoch = self._batch = 0
        self._steps = None
        self._started = self._finished = None
        self._images = 0
        # Images per epoch after the validation split, to count the last, partial batch right.
        from .training import split_validation

        n_all = len(dataset.x_train)
        _, y_fit, _ = split_validation(np.zeros((n_all, 1)), np.zeros(n_all), config.validation_split, config.seed)
        self._per_epoch = len(y_fit)
        self._batch_log: list[dict] = []
        self._epoch_log: list[dict] = []
        self._error: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"train-{self.id}", daemon=True)

    def start(self) -> "TrainingJob":
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the job to stop after the current batch; the model keeps the weights it has."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def finished(self) -> bool:
        return self._state in ("done", "stopped", "failed")

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            elapsed = 0.0 if self._started is None else (self._finished or time.perf_counter()) - self._started
            return JobSnapshot(
                state=self._state, epoch=self._epoch, epochs=self.config.epochs, batch=self._batch, steps=self._steps,
                elapsed=elapsed, images_per_second=self._images / elapsed if elapsed > 0 else 0.0,
                batch_log=list(self._batch_log), epoch_log=list(self._epoch_log), error=self._error,
            )

    def _on_batch(self, epoch, batch, steps, logs):
        with self._lock:
            self._epoch, self._batch, self._steps = epoch, batch + 1, steps
            self._images = epoch * self._per_epoch + min((batch + 1) * self.config.batch_size, self._per_epoch)
            step = epoch + (batch + 1) / steps if steps else float(epoch)
            self._batch_log.append({"step": step, **{k: logs[k] for k in ("loss", "accuracy") if k in logs}})

    def _on_epoch(self, epoch, logs):
        with self._lock:
            self._epoch_log.append({"epoch": epoch + 1, **logs})

    def _run(self):
        from .storage import build_metadata

        with self._lock:
            self._state = "running"
            self._started = time.perf_counter()
        try:
            callback = ProgressCallback(on_batch=self._on_batch, on_epoch=self._on_epoch, should_stop=self._stop.is_set)
            result = train_model(self.model, self.dataset, self.config, callbacks=[callback])
            metadata = build_metadata(self.model, self.dataset, name=self.name, spec=self.spec,
                                      train_config=self.config.to_dict(), result=result)
            with self._lock:
                self.result, self.metadata = result, metadata
                self._state = "stopped" if self._stop.is_set() else "done"
        except Exception as exc:  # reported in the UI; the thread must not die silently
            with self._lock:
                self._error = f"{type(exc).__name__}: {exc}"
                self._state = "failed"
            traceback.print_exc()
        finally:
            with self._lock:
                self._finished = time.perf_counter()

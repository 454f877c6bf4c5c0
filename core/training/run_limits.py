"""How long a training run may go on on a shared server, and why it stopped, in plain words.

A class of thirty shares one server: a run must not keep its memory and a core for ever. A job
(``core.training.jobs``) is stopped after its current batch, the model so far kept, when:

- it has lasted ``job_max_time`` since it first got a training slot. Pauses count: a paused run
  still holds its model and its data in memory, and pausing again and again must not be a way
  round the limit (each pause is itself held to ``job_paused_max_time``). Time spent waiting for
  a slot does not count: the wait is the class's doing, not the run's, and a full queue must not
  use up a run's time before it trains.
- it has stayed paused for ``job_paused_max_time``;
- no tab of its user has been seen for ``job_orphan_time`` (``TrainingJob.touch``), whether it
  waits, trains or is paused.

The limits are read from ``core.settings.limits()`` at every check, so a test sets them with
``monkeypatch.setenv`` (``CNNLAB_JOB_MAX_TIME=0.5``); ``RunClock`` reads an injectable clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from core.settings import Limits, human_time

# Why a run ended before its last epoch (``TrainingJob.stop_kind``)
USER = "user"  # its Stop button
PAUSED = "paused"  # paused longer than job_paused_max_time
MAX_TIME = "max_time"  # ran longer than job_max_time
ORPHANED = "orphaned"  # no tab of its user seen for job_orphan_time
OUT_OF_MEMORY = "out_of_memory"  # the server ran out of memory while it trained


@dataclass
class RunClock:
    """The times of one run on one clock: its start, its pauses, its waits for a slot, when a tab last saw it.

    Not thread-safe: the job calls it under its own lock.
    """

    clock: Callable[[], float] = time.monotonic  # seconds; a test passes a clock it moves by hand
    seen: float = field(init=False)  # last time a tab of the run's user was seen
    started: float | None = None  # when the run first got a training slot
    finished: float | None = None
    paused_at: float | None = None  # when the pause in progress began
    paused_total: float = 0.0  # pauses that ended
    waiting_at: float | None = None  # when a resumed run began waiting for a slot again
    waited_total: float = 0.0  # such waits that ended

    def __post_init__(self):
        self.seen = self.clock()  # the page that creates a run is a tab of its user

    def touch(self) -> None:
        self.seen = self.clock()

    def start(self) -> None:
        self.started = self.clock()

    def pause(self) -> None:
        self.paused_at = self.clock()

    def end_pause(self) -> None:
        if self.paused_at is not None:
            self.paused_total += self.clock() - self.paused_at
            self.paused_at = None

    def wait(self) -> None:
        self.waiting_at = self.clock()

    def end_wait(self) -> None:
        if self.waiting_at is not None:
            self.waited_total += self.clock() - self.waiting_at
            self.waiting_at = None

    def finish(self) -> None:
        self.end_pause()
        self.end_wait()
        self.finished = self.clock()

    def paused_seconds(self) -> float:
        """Time held by Pause so far."""
        return self.paused_total + (self.clock() - self.paused_at if self.paused_at is not None else 0.0)

    def waited_seconds(self) -> float:
        """Time spent waiting for a slot again after a pause."""
        return self.waited_total + (self.clock() - self.waiting_at if self.waiting_at is not None else 0.0)

    def run_seconds(self) -> float:
        """Time since the run first got a slot, pauses included, waits for a slot again excluded (``job_max_time``)."""
        if self.started is None:
            return 0.0
        end = self.finished if self.finished is not None else self.clock()
        return end - self.started - self.waited_seconds()

    def training_seconds(self) -> float:
        """Time spent training: ``run_seconds`` less the pauses."""
        return max(0.0, self.run_seconds() - self.paused_seconds()) if self.started is not None else 0.0

    def limit_passed(self, limits: Limits) -> str | None:
        """``ORPHANED``, ``PAUSED`` or ``MAX_TIME`` when the run has gone past that limit, else None."""
        if self.finished is not None:
            return None
        now = self.clock()
        if now - self.seen > limits.job_orphan_time:
            return ORPHANED
        if self.paused_at is not None and now - self.paused_at > limits.job_paused_max_time:
            return PAUSED
        if self.started is not None and self.run_seconds() > limits.job_max_time:
            return MAX_TIME
        return None


def stop_words(kind: str, limits: Limits) -> str:
    """Why a run was stopped, the start of the sentence the pages show (``Stopped after 15 min paused``)."""
    if kind == PAUSED:
        return f"Stopped after {human_time(limits.job_paused_max_time)} paused"
    if kind == MAX_TIME:
        return (f"Stopped after {human_time(limits.job_max_time)}, the longest a run may last on this server "
                "(pauses count, waiting for a slot does not)")
    if kind == ORPHANED:
        return f"Stopped after {human_time(limits.job_orphan_time)} with no tab of yours open"
    if kind == USER:
        return "Stopped with the Stop button"
    raise ValueError(f"Expected one of {USER!r}, {PAUSED!r}, {MAX_TIME!r} or {ORPHANED!r}. Received: {kind!r}")


def stopped_text(words: str, epochs_done: int | None) -> str:
    """The whole sentence: why, and what is kept (``...: the model of epoch 3 is kept.``)."""
    if not epochs_done:
        return f"{words} while waiting in the queue for a training slot: nothing was trained."
    return f"{words}: the model of epoch {epochs_done} is kept."


def out_of_memory_text(epoch: int, params: int, batch_size: int, kept_epochs: int, scored: bool = True) -> str:
    """What the pages say when a run ran out of memory in ``epoch`` (1-based), and which model is kept.

    ``scored`` False: the model of ``kept_epochs`` epochs could not be scored (that needs memory too), so none is kept.
    """
    text = (f"Out of memory in epoch {epoch}: the server could not find the memory that {params:,} weights trained "
            f"in batches of {batch_size} need. Try a smaller network or batch size, or train when fewer people do.")
    if not kept_epochs:
        return text + " No epoch had finished: no model is kept."
    if not scored:
        return text + f" Scoring the model of epoch {kept_epochs} ran out of memory too: no model is kept."
    return text + f" The model of epoch {kept_epochs} is kept."


def out_of_memory(exc: BaseException) -> bool:
    """True for the errors that mean "not enough memory": Python's, and TensorFlow's from an allocation."""
    if isinstance(exc, MemoryError):
        return True
    import tensorflow as tf  # imported already by the run that raised it

    return isinstance(exc, tf.errors.ResourceExhaustedError)

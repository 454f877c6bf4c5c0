"""A training run in a background thread that a page can poll and steer.

Streamlit reruns the page script on every click; a ``model.fit`` inside the
script would be interrupted by the first one. The job runs in a thread owned by
the user's session instead. A thread, not a process, because the trained model
must end up in the same Python process as the pages that show it (a process
would have to save and reload it after every epoch), and TensorFlow releases
the GIL while it computes, so pages stay responsive and training keeps its
speed (``bench/train_overhead.py`` measures the cost against plain ``fit``).

Pages start runs through ``core.training.launch`` (``new_run``: a model built from a spec;
``continue_run``: a copy of a trained model, trained further); at most one run per CPU core trains at once
(``core.training.queue``), and a paused run gives its slot back until it resumes. A finished run
holds its model and its ``ModelCard``.

The server is shared, so a run is held to the limits of ``core.settings`` (``core.training.run_limits``
says which and why): it stops by itself, its model so far kept, when it lasts too long, stays
paused too long or no tab of its user has been seen for a while (``touch``); in classroom mode a
user has one run at a time (``core.training.user_jobs``). Running out of memory ends a run with a
message, not a traceback, and keeps the model of its last finished epoch. ``stop_reason`` says in
plain words why a run ended early.

``TrainingJob``'s controls (the pages' threads) are here; its training thread's callbacks are in
``core.training.job_thread`` and its end in ``core.training.job_end``, mixins sharing its lock and
counters, and the replay's records in ``core.training.probe``.
"""

from __future__ import annotations

import threading
import time
import traceback
import uuid

import numpy as np

from core.settings import limits
from core.storage.card import ModelCard
from core.training.config import TrainConfig, epoch_images, validation_size
from core.training.job_end import RunEnding
from core.training.job_thread import TrainingThreadSide
from core.training.probe import ProbeRecorder
from core.training.progress import JobSnapshot, Snapshot
from core.training.queue import QUEUE, JobQueue
from core.training.run import pick_strategy, train_model
from core.training.run_limits import USER, RunClock, out_of_memory, stop_words, stopped_text
from core.training.user_jobs import USER_JOBS, UserJobs

# "queued": waiting for a training slot, at the start or again after a pause
STATES = ("queued", "running", "paused", "done", "stopped", "failed")


class TrainingJob(TrainingThreadSide, RunEnding):
    """Train ``model`` on ``dataset`` in a daemon thread.

    Args:
        model: a Keras model, used by this job alone while it runs. To continue
            training a model others use, pass a copy (``core.training.launch.copy_model``).
        dataset: the data.
        config: hyperparameters.
        name: the model's display name.
        spec: the ``ModelSpec`` as a dict, kept in the card.
        compile: compile with ``config``'s optimizer (False keeps the model's own).
        parent: the card of the model this run continues, if any; ``parent_id`` its id.
        probe: one image whose feature maps are recorded at step 0 and after each epoch.
        queue: the concurrency limit to wait on (the process-wide one by default).
        strategy: a ``tf.distribute`` strategy; by default picked by ``pick_strategy``.
        private: the finished model is written to disk only when its user saves it (enrolled faces).
        face_margin: the crop margin of the faces it trains on, kept in the card (a face model).
        on_end: called in the training thread with the job once its model and card are ready, before
            the job reports that it ended (so whoever sees it ended finds the model kept): the
            workspace adds the model to its list and saves it, whatever the browser tabs do.
            An exception it raises is printed and does not fail the run.
        user: whose run it is; ``start`` refuses it with ``JobLimitError`` when that user has
            ``jobs_per_user`` unfinished runs already in classroom mode. None: not counted.
        user_jobs: the register of runs per user to count it in (the process-wide one by default).
        clock: the clock of the time limits and the training time (``time.monotonic``; a test's own).

    Once finished, ``result`` holds what ``train_model`` returned, its ``train_seconds`` less the time
    spent paused (``paused_seconds``), and ``card`` the model's card;
    ``model_id`` is set by whoever adds the model to a list of models (the workspace's), so a page
    finds the model its run produced. A run that ended before its last epoch says why in
    ``stop_reason`` (``stop_kind``: one of ``core.training.run_limits``'s reasons).
    """

    def __init__(self, model, dataset, config: TrainConfig, name: str, spec: dict | None = None,
                 compile: bool = True, parent: ModelCard | None = None, parent_id: str | None = None,
                 probe: np.ndarray | None = None, queue: JobQueue | None = None, strategy="auto",
                 private: bool = False, face_margin: float | None = None, on_end=None, user: str | None = None,
                 user_jobs: UserJobs | None = None, clock=time.monotonic, card_extra: dict | None = None):
        config.validate()
        self.id = uuid.uuid4().hex[:8]
        self.model, self.dataset, self.config, self.name, self.spec = model, dataset, config, name, spec
        self.compile, self.parent, self.parent_id = compile, parent, parent_id
        self.private, self.face_margin = private, face_margin
        self.on_end = on_end
        self.card_extra = dict(card_extra or {})  # kept in the finished model's card (``ModelCard.extra``)
        self.queue = queue or QUEUE
        self.user, self.user_jobs = user, user_jobs or USER_JOBS
        self.strategy = strategy
        self._probe = ProbeRecorder(probe if probe is not None else
                                    (dataset.x_test[0] if len(dataset.x_test) else dataset.x_train[0]))
        self.result: dict | None = None
        self.card: ModelCard | None = None
        self.model_id: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._resume = threading.Event()
        self._resume.set()
        self._pending_lr: float | None = None
        self._lr_before_stop: float | None = None
        self._lr: float = config.learning_rate
        self._lr_log: list[dict] = []
        self._state = "queued"
        self._epoch = self._batch = 0
        self._steps = None
        self._times = RunClock(clock)
        self._stop_kind: str | None = None  # why it was asked to stop, first reason first
        self._stop_words: str | None = None  # that reason in words, with the limits as they were then
        self._stop_reason: str | None = None  # the whole sentence, once the run has ended
        self._epoch_weights: tuple[int, list] | None = None  # (epochs done, weights then), for running out of memory
        self._images = 0
        n_all = len(dataset.x_train)
        # images per epoch, to count the last partial batch right
        self._epoch_images = epoch_images(n_all - validation_size(n_all, config.validation_split), config)
        self._batch_log: list[dict] = []
        self._epoch_log: list[dict] = []
        self._error: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"train-{self.id}", daemon=True)

    # --- controls, called from the UI thread ------------------------------------------

    def start(self) -> "TrainingJob":
        """Start training in the background; raises JobLimitError (nothing started) when its user has enough runs."""
        if self.user is not None:
            self.user_jobs.add(self.user, self)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop after the current batch; the model keeps the weights of its last finished batch."""
        self._ask_to_stop(USER)

    def _ask_to_stop(self, kind: str) -> None:
        with self._lock:
            if self._stop_kind is None:
                self._stop_kind, self._stop_words = kind, stop_words(kind, limits())
        self._stop.set()
        self._resume.set()

    def touch(self) -> None:
        """A tab of this run's user was seen just now: the run is not orphaned (``job_orphan_time``)."""
        with self._lock:
            self._times.touch()

    def _check_limits(self) -> bool:
        """Ask the run to stop if it went past a time limit; True once it is asked to stop, for any reason."""
        if self._stop.is_set():
            return True
        with self._lock:
            kind = self._times.limit_passed(limits())
        if kind is not None:
            self._ask_to_stop(kind)
        return self._stop.is_set()

    def pause(self) -> None:
        """Hold training after the current batch until ``resume``."""
        with self._lock:
            if self._state == "running":
                self._resume.clear()

    def resume(self) -> None:
        self._resume.set()

    def set_learning_rate(self, learning_rate: float) -> None:
        """Use ``learning_rate`` from the next batch on (after the pause, when paused).

        Until that batch starts, the snapshot shows it as ``pending_learning_rate``.
        """
        if not learning_rate > 0:
            raise ValueError(f"Expected a positive learning rate. Received: {learning_rate}")
        with self._lock:
            self._pending_lr = float(learning_rate)

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def probe(self) -> np.ndarray:
        """The test image whose feature maps the replay shows."""
        return self._probe.probe

    @property
    def snapshots(self) -> list[Snapshot]:
        """The first layer's filters and the probe's feature maps at the start and after each epoch, so far."""
        return self._probe.snapshots

    @property
    def epoch_images(self) -> list[int]:
        """Images each epoch trains on (fewer after the warm-up with hard-image focus)."""
        return list(self._epoch_images)

    @property
    def finished(self) -> bool:
        return self._state in ("done", "stopped", "failed")

    @property
    def state(self) -> str:
        return self._state

    @property
    def stop_reason(self) -> str | None:
        """Why the run ended before its last epoch, in plain words with what is kept; None otherwise or until it ends."""
        return self._stop_reason

    @property
    def stop_kind(self) -> str | None:
        """``stop_reason``'s kind: ``user``, ``paused``, ``max_time``, ``orphaned`` or ``out_of_memory``."""
        return self._stop_kind if self._stop_reason is not None else None

    @property
    def paused_remaining(self) -> float | None:
        """Seconds left before a paused run is stopped (``job_paused_max_time``); None when not paused."""
        with self._lock:
            if self._times.paused_at is None:
                return None
            return max(0.0, limits().job_paused_max_time - (self._times.clock() - self._times.paused_at))

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            paused = self._times.paused_seconds()
            if self.result is not None:
                elapsed = self.result["train_seconds"]  # the figure the result and the card give
            else:
                elapsed = self._times.training_seconds()
            return JobSnapshot(
                state=self._state, epoch=self._epoch, epochs=self.config.epochs, batch=self._batch, steps=self._steps,
                elapsed=elapsed, images_per_second=self._images / elapsed if elapsed > 0 else 0.0,
                batch_log=list(self._batch_log), epoch_log=list(self._epoch_log), error=self._error,
                queue_position=self.queue.position(self.id), learning_rate=self._lr, lr_log=list(self._lr_log),
                images=self._images, images_total=sum(self._epoch_images), paused_seconds=paused,
                pending_learning_rate=self._pending_lr,
            )

    # --- the training thread -----------------------------------------------------------

    def _run(self):
        from core.training.callbacks import ProgressCallback  # imports Keras: here, not when the page imports jobs

        try:
            if not self.queue.acquire(self.id, self._check_limits):
                with self._lock:
                    self._stop_reason = self._error = stopped_text(self._stop_words or stop_words(USER, limits()), None)
                    self._state = "stopped"
                return
            with self._lock:
                self._state = "running"
                self._times.start()
            callback = ProgressCallback(on_batch=self._on_batch, on_epoch=self._on_epoch, should_stop=self._stop.is_set,
                                        on_batch_begin=self._on_batch_begin, on_train_begin=lambda m: self._probe.record(m, 0),
                                        on_epoch_end_model=self._on_epoch_end)
            if self.strategy != "auto":
                strategy = self.strategy
            else:  # hard-image focus trains through CNN Lab's own loop, on one device
                strategy = None if self.config.focus else pick_strategy()
            result = train_model(self.model, self.dataset, self.config, callbacks=[callback], compile=self.compile,
                                 strategy=strategy)
            with self._lock:
                # every pause and wait ends before the last batch does
                paused, waited = self._times.paused_total, self._times.waited_total
            # train_model's clock ran through the pauses and the waits for a slot: the run's time is its training alone
            result["train_seconds"] = max(0.0, result["train_seconds"] - paused - waited)
            result["paused_seconds"] = paused
            self._end_with(result)
        except Exception as exc:  # reported in the UI; the thread must not die silently
            if out_of_memory(exc):
                self._end_out_of_memory()
            else:
                with self._lock:
                    self._error = f"{type(exc).__name__}: {exc}"
                    self._state = "failed"
                traceback.print_exc()
        finally:
            self.queue.release(self.id)
            with self._lock:
                self._times.finish()
        self._warm_up()

    def _warm_up(self) -> None:
        """Trace the new model's inspection functions, its slot given back (``core.inspection.warm``)."""
        if self.result is None:
            return
        try:
            from core.inspection.warm import warm_up

            warm_up(self.model)
        except Exception:  # noqa: BLE001  (a head start only: each page traces what it needs anyway)
            pass

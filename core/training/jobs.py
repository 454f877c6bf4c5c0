"""A training run in a background thread that a page can poll and steer.

Streamlit reruns the page script on every click; a ``model.fit`` inside the
script would be interrupted by the first one. The job runs in a thread owned by
the user's session instead. A thread, not a process, because the trained model
must end up in the same Python process as the pages that show it (a process
would have to save and reload it after every epoch), and TensorFlow releases
the GIL while it computes, so pages stay responsive and training keeps its
speed (``bench/train_overhead.py`` measures the cost against plain ``fit``).

Pages start runs through ``new_run`` (a model built from a spec) and ``continue_run`` (a copy
of a trained model, trained further); at most one run per CPU core trains at once
(``core.training.queue``), and a paused run gives its slot back until it resumes. A finished run
holds its model and its ``ModelCard``.

The server is shared, so a run is held to the limits of ``core.settings`` (``core.training.run_limits``
says which and why): it stops by itself, its model so far kept, when it lasts too long, stays
paused too long or no tab of its user has been seen for a while (``touch``); in classroom mode a
user has one run at a time (``core.training.user_jobs``). Running out of memory ends a run with a
message, not a traceback, and keeps the model of its last finished epoch. ``stop_reason`` says in
plain words why a run ended early.

Over 300 lines: ``TrainingJob``'s controls (UI thread) and its callbacks (training
thread) share one lock and one set of counters, and are easier to check side by side.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
import uuid

import numpy as np

from core.settings import limits
from core.storage.card import ModelCard
from core.training.config import TrainConfig, epoch_images, validation_size
from core.training.give_way import give_way
from core.training.progress import JobSnapshot, Snapshot
from core.training.queue import QUEUE, JobQueue
from core.training.run import train_model
from core.training.run_limits import (
    OUT_OF_MEMORY,
    USER,
    RunClock,
    out_of_memory,
    out_of_memory_text,
    stop_words,
    stopped_text,
)
from core.training.user_jobs import USER_JOBS, UserJobs

# "queued": waiting for a training slot, at the start or again after a pause
STATES = ("queued", "running", "paused", "done", "stopped", "failed")
HOLD_POLL_S = 0.2  # while paused, the job checks its time limits this often


def pick_strategy():
    """``MirroredStrategy`` over all GPUs when more than one is visible, else None (one device)."""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.MirroredStrategy([g.name for g in gpus]) if len(gpus) > 1 else None


class TrainingJob:
    """Train ``model`` on ``dataset`` in a daemon thread.

    Args:
        model: a Keras model, used by this job alone while it runs. To continue
            training a model others use, pass a copy (``copy_model``).
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
                 user_jobs: UserJobs | None = None, clock=time.monotonic):
        config.validate()
        self.id = uuid.uuid4().hex[:8]
        self.model, self.dataset, self.config, self.name, self.spec = model, dataset, config, name, spec
        self.compile, self.parent, self.parent_id = compile, parent, parent_id
        self.private, self.face_margin = private, face_margin
        self.on_end = on_end
        self.queue = queue or QUEUE
        self.user, self.user_jobs = user, user_jobs or USER_JOBS
        self.strategy = strategy
        self.probe = np.asarray(probe if probe is not None else (dataset.x_test[0] if len(dataset.x_test) else dataset.x_train[0]), np.float32)
        self.result: dict | None = None
        self.card: ModelCard | None = None
        self.model_id: str | None = None
        self.snapshots: list[Snapshot] = []
        self._probe_model = None  # (the model trained, a model of its conv layers' outputs)
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

    def _on_batch_begin(self, model):
        give_way()  # a page's script run has the cores first (core.training.give_way)
        self._check_limits()  # past a limit: this batch is the last (the callback then stops the loop)
        # The pause comes first: a learning rate chosen while paused applies to the first batch after it.
        if not self._resume.is_set() and not self._stop.is_set():
            self._hold()
            if self._stop.is_set():
                # Stopped while paused: Keras cannot skip the batch it is about to run,
                # so it runs with a learning rate of 0 and the weights stay as they were.
                self._lr_before_stop = float(model.optimizer.learning_rate.numpy())
                model.optimizer.learning_rate.assign(0.0)
                return
        with self._lock:
            lr = self._pending_lr
        if lr is not None:
            model.optimizer.learning_rate.assign(lr)
            with self._lock:
                self._lr = lr
                if self._pending_lr == lr:  # not replaced meanwhile by a newer choice
                    self._pending_lr = None
                step = self._epoch + (self._batch / self._steps if self._steps else 0.0)
                self._lr_log.append({"step": step, "learning_rate": lr})
        elif self.config.schedule != "constant":
            # a schedule moves the rate every batch: show the one in use
            rate = float(model.optimizer.learning_rate.numpy())
            with self._lock:
                self._lr = rate

    def _hold(self) -> None:
        """Paused: give the slot back, wait for Resume or Stop (or a limit), then queue for a slot again."""
        with self._lock:
            self._state = "paused"
            self._times.pause()
        self.queue.release(self.id)  # the next run in the queue trains meanwhile
        while not self._resume.wait(HOLD_POLL_S):
            self._check_limits()
        with self._lock:
            self._times.end_pause()
            if self._stop.is_set():
                self._state = "running"  # its last batch, frozen, and its test score: a few seconds
                return
            self._state = "queued"
            self._times.wait()
        self.queue.acquire(self.id, self._check_limits)  # False once asked to stop: the caller freezes the batch
        with self._lock:
            self._times.end_wait()
            self._state = "running"

    def _on_batch(self, epoch, batch, steps, logs):
        # Keras reports batch ends from a helper thread, so one may arrive after a later one.
        step = epoch + (batch + 1) / steps if steps else float(epoch)
        entry = {"step": step, **{k: logs[k] for k in ("loss", "accuracy") if k in logs}}
        with self._lock:
            if (epoch, batch + 1) > (self._epoch, self._batch):
                self._epoch, self._batch, self._steps = epoch, batch + 1, steps
                sizes = self._epoch_images
                this_epoch = sizes[min(epoch, len(sizes) - 1)]
                self._images = sum(sizes[:epoch]) + min((batch + 1) * self.config.batch_size, this_epoch)
            if self._batch_log and self._batch_log[-1]["step"] > step:
                self._batch_log.append(entry)
                self._batch_log.sort(key=lambda e: e["step"])
            else:
                self._batch_log.append(entry)

    def _on_epoch(self, epoch, logs):
        with self._lock:
            self._epoch_log.append({"epoch": epoch + 1, **logs})

    def _on_epoch_end(self, model, epoch: int) -> None:
        self._record(model, epoch + 1)
        # A copy of the weights each epoch (about 0.4 MB for the presets, 40 MB at the largest model allowed)
        # so that a run that runs out of memory later still ends with a whole epoch's model.
        self._epoch_weights = (epoch + 1, model.get_weights())

    def _record(self, model, epoch: int) -> None:
        """Keep the first conv layer's filters and the probe's conv maps after ``epoch`` epochs."""
        from core.inspection.layers import conv_layers

        convs = conv_layers(model)
        if not convs:
            return
        if self._probe_model is None or self._probe_model[0] is not model:  # once a run: it shares the weights
            import keras

            inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
            self._probe_model = (model, keras.Model(inputs, [layer.output for layer in convs]))
        outputs = self._probe_model[1](self.probe[None], training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        maps = {layer.name: np.asarray(out)[0][..., :32] for layer, out in zip(convs, outputs)}
        self.snapshots.append(Snapshot(epoch, np.array(convs[0].get_weights()[0]), maps))

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
                                        on_batch_begin=self._on_batch_begin, on_train_begin=lambda m: self._record(m, 0),
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

    def _end_with(self, result: dict, reason: str | None = None) -> None:
        """Keep the model trained with its card, say why it ended early if it did, and hand it to ``on_end``."""
        from core.storage.card import card_for_run

        if self._lr_before_stop is not None and getattr(self.model, "optimizer", None) is not None:
            self.model.optimizer.learning_rate.assign(self._lr_before_stop)
        if self._lr_log:
            result["learning_rate_changes"] = list(self._lr_log)
        card = card_for_run(self.model, self.dataset, name=self.name, spec=self.spec,
                            train_config=self.config.to_dict(), result=result, parent=self.parent,
                            parent_id=self.parent_id, private=self.private, face_margin=self.face_margin)
        with self._lock:
            self.result, self.card = result, card
            stopped = reason is not None or self._stop.is_set()
            if reason is None and stopped:
                reason = stopped_text(self._stop_words or stop_words(USER, limits()), result["epochs_done"])
            self._stop_reason = reason  # before on_end, which may tell it (the workspace's notice)
        if self.on_end is not None:
            try:
                self.on_end(self)
            except Exception:  # the run itself succeeded: report, and still end it
                traceback.print_exc()
        with self._lock:
            self._state = "stopped" if stopped else "done"

    def _end_out_of_memory(self) -> None:
        """End a run that ran out of memory: the model of its last finished epoch, if any, with the reason why."""
        with self._lock:
            epoch = min(len(self._epoch_log) + 1, self.config.epochs)
            kept = self._epoch_weights
            self._stop_kind = OUT_OF_MEMORY
        message = out_of_memory_text(epoch, int(self.model.count_params()), self.config.batch_size,
                                     kept[0] if kept else 0)
        print(f"train-{self.id}: {message}", file=sys.stderr)  # one line in the server's log, no traceback
        if kept is not None:
            try:
                self.model.set_weights(kept[1])
                self._end_with(self._result_so_far(kept[0]), reason=message)
                return
            except Exception as exc:  # scoring or saving the model needs memory too
                if not out_of_memory(exc):
                    traceback.print_exc()
                message = out_of_memory_text(epoch, int(self.model.count_params()), self.config.batch_size, kept[0],
                                             scored=False)
        with self._lock:
            self.result = self.card = None
            self._error = self._stop_reason = message
            self._state = "failed"

    def _result_so_far(self, epochs: int) -> dict:
        """What ``train_model`` returns, for the first ``epochs`` epochs of a run that did not finish."""
        from core.training.run import evaluate_model

        with self._lock:
            logs = [dict(entry) for entry in self._epoch_log[:epochs]]
            paused, seconds = self._times.paused_seconds(), self._times.training_seconds()
        history: dict[str, list[float]] = {}
        for entry in logs:
            entry.pop("epoch", None)
            for key, value in entry.items():
                history.setdefault(key, []).append(float(value))
        test_loss, test_accuracy = evaluate_model(self.model, self.dataset)
        return {"history": history, "test_loss": test_loss, "test_accuracy": test_accuracy, "train_seconds": seconds,
                "epochs_done": epochs, "epoch_images": self.epoch_images[:epochs], "paused_seconds": paused}


def copy_model(model):
    """A trainable copy of ``model`` with the same weights (the original is left untouched)."""
    import keras

    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def new_run(spec, dataset, config: TrainConfig, name: str, **job_options) -> TrainingJob:
    """Build ``spec``'s network for ``dataset`` (weights seeded by ``config.seed``) and start training it.

    Args:
        spec: a ``core.models.architecture.ModelSpec``.
        dataset: the data; the network takes its input shape and has one output per class.
        config: hyperparameters.
        name: the model's display name.
        **job_options: ``TrainingJob``'s other arguments (``private``, ``face_margin``, ``queue``...).

    Returns:
        The started job.
    """
    from core.models.architecture import build_model

    model = build_model(spec, dataset.input_shape, dataset.num_classes, seed=config.seed)
    return TrainingJob(model, dataset, config, name=name, spec=spec.to_dict(), **job_options).start()


def continue_run(model, card: ModelCard, model_id: str | None, dataset, config: TrainConfig,
                 **job_options) -> TrainingJob:
    """Train a copy of ``model`` further on ``dataset``; ``model`` itself is left as it is.

    The new model is named after its parent and its epochs since the random start
    (``shapes_cnn@25ep``), and its card names the parent (``card``, whose id is ``model_id``).

    Returns:
        The started job.
    """
    total = (card.epochs_total or card.epochs_done or 0) + config.epochs
    name = f"{card.name.split('@')[0]}@{total}ep"
    return TrainingJob(copy_model(model), dataset, config, name=name, spec=card.spec, parent=card,
                       parent_id=model_id, **job_options).start()

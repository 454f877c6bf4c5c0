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
(``core.training.queue``). A finished run holds its model and its ``ModelCard``.

Somewhat over 300 lines: ``TrainingJob``'s controls (UI thread) and its callbacks (training
thread) share one lock and one set of counters, and are easier to check side by side.
"""

from __future__ import annotations

import threading
import time
import traceback
import uuid

import numpy as np

from core.storage.card import ModelCard
from core.training.config import TrainConfig, epoch_images, validation_size
from core.training.give_way import give_way
from core.training.progress import JobSnapshot, Snapshot
from core.training.queue import QUEUE, JobQueue
from core.training.run import train_model

STATES = ("queued", "running", "paused", "done", "stopped", "failed")


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

    Once finished, ``result`` holds what ``train_model`` returned, its ``train_seconds`` less the time
    spent paused (``paused_seconds``), and ``card`` the model's card;
    ``model_id`` is set by whoever adds the model to a list of models (the workspace's), so a page
    finds the model its run produced.
    """

    def __init__(self, model, dataset, config: TrainConfig, name: str, spec: dict | None = None,
                 compile: bool = True, parent: ModelCard | None = None, parent_id: str | None = None,
                 probe: np.ndarray | None = None, queue: JobQueue | None = None, strategy="auto",
                 private: bool = False, face_margin: float | None = None, on_end=None):
        config.validate()
        self.id = uuid.uuid4().hex[:8]
        self.model, self.dataset, self.config, self.name, self.spec = model, dataset, config, name, spec
        self.compile, self.parent, self.parent_id = compile, parent, parent_id
        self.private, self.face_margin = private, face_margin
        self.on_end = on_end
        self.queue = queue or QUEUE
        self.strategy = strategy
        self.probe = np.asarray(probe if probe is not None else dataset.x_test[0], np.float32)
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
        self._started = self._finished = None
        self._paused_at: float | None = None
        self._paused_total = 0.0
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
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop after the current batch; the model keeps the weights of its last finished batch."""
        self._stop.set()
        self._resume.set()

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

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            now = time.perf_counter()
            paused = self._paused_total + (now - self._paused_at if self._paused_at is not None else 0.0)
            if self.result is not None:
                elapsed = self.result["train_seconds"]  # the figure the result and the card give
            elif self._started is None:
                elapsed = 0.0
            else:
                end = self._finished or (self._paused_at or now)
                elapsed = end - self._started - self._paused_total
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
        # The pause comes first: a learning rate chosen while paused applies to the first batch after it.
        if not self._resume.is_set():
            with self._lock:
                self._state, self._paused_at = "paused", time.perf_counter()
            self._resume.wait()
            with self._lock:
                self._paused_total += time.perf_counter() - self._paused_at
                self._paused_at = None
                self._state = "running"
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
        from core.storage.card import card_for_run
        from core.training.callbacks import ProgressCallback  # imports Keras: here, not when the page imports jobs

        if not self.queue.acquire(self.id, self._stop):
            with self._lock:
                self._state = "stopped"
                self._error = "Stopped while waiting in the queue."
            return
        with self._lock:
            self._state = "running"
            self._started = time.perf_counter()
        try:
            job = self
            callback = ProgressCallback(on_batch=self._on_batch, on_epoch=self._on_epoch, should_stop=self._stop.is_set,
                                        on_batch_begin=self._on_batch_begin, on_train_begin=lambda m: job._record(m, 0),
                                        on_epoch_end_model=lambda m, e: job._record(m, e + 1))
            if self.strategy != "auto":
                strategy = self.strategy
            else:  # hard-image focus trains through CNN Lab's own loop, on one device
                strategy = None if self.config.focus else pick_strategy()
            result = train_model(self.model, self.dataset, self.config, callbacks=[callback], compile=self.compile,
                                 strategy=strategy)
            with self._lock:
                paused = self._paused_total  # every pause ends before the last batch does
            # train_model's clock ran through the pauses: the run's time is its training alone
            result["train_seconds"] = max(0.0, result["train_seconds"] - paused)
            result["paused_seconds"] = paused
            if self._lr_before_stop is not None and getattr(self.model, "optimizer", None) is not None:
                self.model.optimizer.learning_rate.assign(self._lr_before_stop)
            if self._lr_log:
                result["learning_rate_changes"] = list(self._lr_log)
            card = card_for_run(self.model, self.dataset, name=self.name, spec=self.spec,
                                train_config=self.config.to_dict(), result=result, parent=self.parent,
                                parent_id=self.parent_id, private=self.private, face_margin=self.face_margin)
            with self._lock:
                self.result, self.card = result, card
            if self.on_end is not None:
                try:
                    self.on_end(self)
                except Exception:  # the run itself succeeded: report, and still end it
                    traceback.print_exc()
            with self._lock:
                self._state = "stopped" if self._stop.is_set() else "done"
        except Exception as exc:  # reported in the UI; the thread must not die silently
            with self._lock:
                self._error = f"{type(exc).__name__}: {exc}"
                self._state = "failed"
            traceback.print_exc()
        finally:
            self.queue.release(self.id)
            with self._lock:
                if self._paused_at is not None:
                    self._paused_total += time.perf_counter() - self._paused_at
                    self._paused_at = None
                self._finished = time.perf_counter()


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

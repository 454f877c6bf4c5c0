"""The training thread's side of a ``core.training.jobs.TrainingJob``: what Keras calls at every batch and epoch.

A mixin of ``TrainingJob``, kept apart from its controls (``stop``, ``pause``, ``set_learning_rate``,
called from the pages' threads) only for length: both sides share the job's lock, events and
counters, defined in ``TrainingJob.__init__``. Here a batch first gives way to the pages' script
runs, checks the run's time limits, waits while paused (its training slot given back), and takes a
new learning rate; batch and epoch ends update the counters the page polls.
"""

from __future__ import annotations

from core.training.give_way import give_way

HOLD_POLL_S = 0.2  # while paused, the job checks its time limits this often


class TrainingThreadSide:
    """``TrainingJob``'s callbacks, run in its training thread."""

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
        self._probe.record(model, epoch + 1)
        # A copy of the weights each epoch (about 0.4 MB for the presets, 40 MB at the largest model allowed)
        # so that a run that runs out of memory later still ends with a whole epoch's model.
        self._epoch_weights = (epoch + 1, model.get_weights())

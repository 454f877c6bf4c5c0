"""How a ``core.training.jobs.TrainingJob`` ends: its model kept with its card, and why it ended early if it did.

A mixin of ``TrainingJob``, apart only for length: it shares the job's lock and counters. A run that
runs out of memory ends here too, with the model of its last whole epoch when there is one, and a
message instead of a traceback.
"""

from __future__ import annotations

import sys
import traceback

from core.settings import limits
from core.training.run_limits import OUT_OF_MEMORY, USER, out_of_memory, out_of_memory_text, stop_words, stopped_text


class RunEnding:
    """``TrainingJob``'s last steps, run in its training thread."""

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
        card.extra.update(self.card_extra)
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

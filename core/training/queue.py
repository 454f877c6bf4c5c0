"""The queue that shares the CPU between training runs: at most ``limit`` run at once, the rest wait in order.

A process-wide limit on concurrent jobs (one per CPU core by default,
``$CNNLAB_MAX_TRAINING_JOBS`` to change it) queues the rest in arrival order.
"""

from __future__ import annotations

import os
import threading
from collections import deque


class JobQueue:
    """At most ``limit`` jobs run at once; the others wait in arrival order."""

    def __init__(self, limit: int | None = None):
        self.limit = limit or int(os.environ.get("CNNLAB_MAX_TRAINING_JOBS", 0)) or (os.cpu_count() or 1)
        self._cond = threading.Condition()
        self._waiting: deque[str] = deque()
        self._running: set[str] = set()

    def acquire(self, job_id: str, cancelled: threading.Event) -> bool:
        """Block until ``job_id`` may run; False if cancelled while waiting."""
        with self._cond:
            self._waiting.append(job_id)
            try:
                while not (self._waiting[0] == job_id and len(self._running) < self.limit):
                    if cancelled.is_set():
                        return False
                    self._cond.wait(timeout=0.2)
                self._running.add(job_id)
                return True
            finally:
                self._waiting.remove(job_id)
                self._cond.notify_all()

    def release(self, job_id: str) -> None:
        with self._cond:
            self._running.discard(job_id)
            self._cond.notify_all()

    def position(self, job_id: str) -> int | None:
        """1 for the next job to start, None when not waiting."""
        with self._cond:
            return self._waiting.index(job_id) + 1 if job_id in self._waiting else None

    @property
    def running(self) -> int:
        with self._cond:
            return len(self._running)


QUEUE = JobQueue()

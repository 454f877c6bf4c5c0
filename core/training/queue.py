"""The queue that shares the CPU between training runs: at most ``limit`` run at once, the rest wait in order.

A process-wide limit on concurrent jobs (one per CPU core by default,
``$CNNLAB_MAX_TRAINING_JOBS`` to change it) queues the rest in arrival order. A paused job gives
its slot back and queues again, at the end, when it resumes (``core.training.jobs``): on two
cores, two paused runs would otherwise stop training for everyone.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from typing import Callable


class JobQueue:
    """At most ``limit`` jobs run at once; the others wait in arrival order."""

    def __init__(self, limit: int | None = None):
        self.limit = limit or int(os.environ.get("CNNLAB_MAX_TRAINING_JOBS", 0)) or (os.cpu_count() or 1)
        self._cond = threading.Condition()
        self._waiting: deque[str] = deque()
        self._running: set[str] = set()

    def acquire(self, job_id: str, cancelled: threading.Event | Callable[[], bool]) -> bool:
        """Block until ``job_id`` may run; False if cancelled while waiting.

        ``cancelled`` is an event, or a function asked about every 0.2 s while waiting (a job checks
        its time limits there).
        """
        is_cancelled = cancelled.is_set if isinstance(cancelled, threading.Event) else cancelled
        with self._cond:
            self._waiting.append(job_id)
        try:
            while True:
                with self._cond:
                    if self._may_run(job_id):
                        self._running.add(job_id)
                        return True
                # asked without the queue's lock: a job's check takes the job's own lock, which the job's
                # snapshot holds while it asks the queue for its position
                if is_cancelled():
                    return False
                with self._cond:
                    if not self._may_run(job_id):
                        self._cond.wait(timeout=0.2)
        finally:
            with self._cond:
                self._waiting.remove(job_id)
                self._cond.notify_all()

    def _may_run(self, job_id: str) -> bool:
        return self._waiting[0] == job_id and len(self._running) < self.limit

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

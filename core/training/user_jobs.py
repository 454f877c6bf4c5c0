"""Whose runs are unfinished: in classroom mode a user has at most ``jobs_per_user`` of them.

The pages already grey out Train while their user's run goes on, but a page drawn before the run
started (a second tab, My classes while Train runs) and a click at the same moment in two tabs
get past that. So the one place every run passes, ``TrainingJob.start``, asks ``USER_JOBS`` first,
and a run over the limit never starts: ``JobLimitError`` names the runs in the way. A run counts
from its start until it has ended, queued and paused included (a paused run still holds its model
in memory). Personal mode has no such limit: one person on their own machine.
"""

from __future__ import annotations

import threading

from core.settings import classroom, limits


class JobLimitError(RuntimeError):
    """A user asked for one run more than ``jobs_per_user`` allows; ``running`` holds the runs in the way."""

    def __init__(self, user: str, running: list, limit: int):
        self.user, self.running, self.limit = user, list(running), limit
        names = ", ".join(repr(getattr(job, "name", "?")) for job in running)
        super().__init__(f"Expected at most {limit} unfinished training run{'' if limit == 1 else 's'} per user in "
                         f"classroom mode. Received: a new run for {user!r} while {names} "
                         f"{'is' if len(running) == 1 else 'are'} not finished")


class UserJobs:
    """The unfinished runs of each user of this process (jobs with a ``finished`` property and a ``name``)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._jobs: dict[str, list] = {}

    def add(self, user: str, job) -> None:
        """Count ``job`` as ``user``'s; raises JobLimitError in classroom mode when that is one too many."""
        with self._lock:
            running = self._unfinished(user)
            limit = limits().jobs_per_user
            if classroom() and len(running) >= limit:
                raise JobLimitError(user, running, limit)
            self._jobs[user] = running + [job]

    def running(self, user: str) -> list:
        """``user``'s runs that have not ended, oldest first."""
        with self._lock:
            return self._unfinished(user)

    def _unfinished(self, user: str) -> list:
        # a run leaves the count by ending: nothing to forget when its thread stops
        running = [job for job in self._jobs.get(user, []) if not job.finished]
        if running:
            self._jobs[user] = running
        else:
            self._jobs.pop(user, None)
        return running


USER_JOBS = UserJobs()

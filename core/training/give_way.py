"""Training gives way to the pages: between batches, a run waits while a page's script runs.

A run and the pages share the server's cores (two here), and TensorFlow keeps both busy with a
run's batches, so a page that needs a few hundred milliseconds of CPU got about a third of it and
took seconds to redraw. Pages mark their script run with ``page_run()``; a training thread calls
``give_way()`` before each batch and waits, at most ``MAX_WAIT_S``, until no page runs. A run
loses only the time pages run (none while nobody clicks), and never stalls behind a long page.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

MAX_WAIT_S = 0.5  # the longest one batch waits: a page run that lasts (or several in a row) slows a run, never stops it

_lock = threading.Lock()
_running = 0  # page script runs in progress
_idle = threading.Event()
_idle.set()


@contextmanager
def page_run():
    """Mark a page's script run: training threads wait between batches until it ends."""
    global _running
    with _lock:
        _running += 1
        _idle.clear()
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0:
                _idle.set()


def give_way(max_wait: float = MAX_WAIT_S) -> float:
    """Wait until no page's script runs, at most ``max_wait`` seconds; returns the seconds waited."""
    if _idle.is_set():
        return 0.0
    start = time.perf_counter()
    _idle.wait(max_wait)
    return time.perf_counter() - start


def pages_running() -> int:
    return _running

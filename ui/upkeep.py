"""Housekeeping of a classroom server, in a thread of its own: workspaces nobody opens any more are deleted.

A student who opened the app once with a private link and never came back leaves their photos
on the server; ``CNNLAB_WORKSPACE_DAYS`` (30 by default) bounds how long. It runs at start and
then daily, in classroom mode only: in personal mode the workspace is the machine owner's.
"""

from __future__ import annotations

import threading

from core.settings import SettingsError, classroom, limits
from core.workspace import data_root, remove_stale

from .workspace import live_users

DAY_S = 86400.0
_STARTED = threading.Event()


def start_upkeep() -> None:
    """Start the daily clean-up thread once per process (classroom mode only)."""
    try:
        if _STARTED.is_set() or not classroom():
            return
    except SettingsError:
        return  # the page shows the setting's error
    _STARTED.set()
    threading.Thread(target=_loop, name="cnnlab-upkeep", daemon=True).start()


def _loop() -> None:
    while True:
        try:
            remove_stale(data_root(), limits().workspace_days, keep=live_users())
        except (OSError, SettingsError):
            pass
        threading.Event().wait(DAY_S)

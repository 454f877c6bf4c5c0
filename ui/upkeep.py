"""Housekeeping of the server, in a thread of its own, at start and then daily.

- Zip extractions a killed server left half done are deleted (both modes): hidden from their user,
  they would count in the user's quota for ever.
- In classroom mode, workspaces nobody opens any more are deleted: a student who opened the app
  once with a private link and never came back leaves their photos on the server, and
  ``CNNLAB_WORKSPACE_DAYS`` (30 by default) bounds how long. In personal mode the workspace is the
  machine owner's, and stays.
"""

from __future__ import annotations

import threading

from core.settings import SettingsError, classroom, limits
from core.workspace import data_root, remove_stale, remove_unfinished_imports

from .workspace import live_users

DAY_S = 86400.0
_STARTED = threading.Event()


def start_upkeep() -> None:
    """Start the daily clean-up thread once per process."""
    if _STARTED.is_set():
        return
    _STARTED.set()
    threading.Thread(target=_loop, name="cnnlab-upkeep", daemon=True).start()


def upkeep_once() -> None:
    """One pass of the clean-up (what the thread does at start and every day)."""
    try:
        remove_unfinished_imports(data_root())
        if classroom():
            remove_stale(data_root(), limits().workspace_days, keep=live_users())
    except (OSError, SettingsError):
        pass  # a setting that cannot be read: the page shows its error


def _loop() -> None:
    while True:
        upkeep_once()
        threading.Event().wait(DAY_S)

"""ui.upkeep: half-done zip extractions go in both modes; stale workspaces only on a classroom server."""

from __future__ import annotations

import os
import time

from core.workspace import Workspace
from ui.upkeep import upkeep_once


def test_one_pass_removes_leftovers_in_both_modes_and_stale_workspaces_in_classroom_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path))
    long_ago = time.time() - 40 * 86400
    stale = Workspace("lstale", tmp_path)
    partial = stale.uploads / ".pets-abcd.partial"
    (partial / "cats").mkdir(parents=True)
    stale.mark_visit()
    os.utime(stale.visited_path, (long_ago, long_ago))
    os.utime(partial, (long_ago, long_ago))

    monkeypatch.setenv("CNNLAB_MODE", "personal")
    upkeep_once()
    assert not partial.exists() and stale.folder.exists()  # the machine owner's workspace stays

    monkeypatch.setenv("CNNLAB_MODE", "classroom")
    upkeep_once()
    assert not stale.folder.exists()

"""Folders a classroom user may open, picked from a list: nobody types a path of the server.

The teacher shares folders by listing their roots in ``CNNLAB_FOLDER_ROOTS``. Users see each
root and its sub-folders two levels down that hold sub-folders of their own (a dataset's class
folders), named from the root (``photos/cats_vs_dogs``). The scan is bounded, so a root with
thousands of folders costs a page run no more than a few milliseconds.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from core.settings import folder_roots

MAX_LISTED = 200  # folders offered
MAX_SCANNED = 5000  # directory entries looked at per page run


def shared_folders() -> dict[str, Path]:
    """``{"root/sub": path}``: the dataset folders under the allowed roots, sorted by name."""
    found: dict[str, Path] = {}
    budget = [MAX_SCANNED]
    for root in folder_roots():
        if not root.is_dir():
            continue
        _scan(root, root.name or str(root), 0, found, budget)
    return dict(sorted(found.items())[:MAX_LISTED])


def _scan(folder: Path, label: str, depth: int, found: dict, budget: list) -> None:
    subs = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                budget[0] -= 1
                if budget[0] < 0:
                    break
                if entry.is_dir(follow_symlinks=False) and not entry.name.startswith("."):
                    subs.append(entry)
    except OSError:
        return
    if subs:
        found[label] = folder
    if depth < 2:
        for entry in sorted(subs, key=lambda e: e.name)[:MAX_LISTED]:
            _scan(Path(entry.path), f"{label}/{entry.name}", depth + 1, found, budget)


def folder_picker(label: str, key: str, current: str | None, help: str | None = None) -> str | None:
    """A select box of the shared folders; returns the chosen folder's path (None when none are shared)."""
    folders = shared_folders()
    if not folders:
        st.info("The teacher shares no folders of the server. Upload a .zip of class folders instead.")
        return None
    labels = list(folders)
    by_path = {str(p): name for name, p in folders.items()}
    if st.session_state.get(key) not in folders:
        st.session_state[key] = by_path.get(str(current), labels[0])
    picked = st.selectbox(label, labels, key=key, help=help)
    return str(folders[picked])

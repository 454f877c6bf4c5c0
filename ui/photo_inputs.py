"""Webcam and upload inputs that add photos to one named item (a class, a person), and its messages.

My classes and Who am I? both give every item a panel with a "Webcam" toggle, a camera,
a multi-file uploader and the messages of the last change. The photos go to
``add(name, [(label, bytes), ...], source)`` (source ``"camera"`` or ``"upload"``) in a
widget callback, before the page is drawn again. After each batch the widget's key gets a new generation: a fresh, empty
uploader and a live camera for the next photo. A camera widget returns its last
photo on every rerun, so each snapshot is added once, by its file id.

Each page passes its own ``prefix`` (the widget keys are ``{prefix}_cam_on_{id}``,
``{prefix}_cam_{id}_{generation}`` and ``{prefix}_up_{id}_{generation}``) and its own
``state`` name for what it keeps in the session (``{state}_gen``, ``{state}_seen_shots``).
The item's messages are flashed to the slot ``item_slot(state, item_id)``.
"""

from __future__ import annotations

from typing import Callable

import streamlit as st

from core.settings import limits

from .camera import camera_snapshot
from .flash import flash, show_flashes
from .widget_memory import persist

AddPhotos = Callable[[str, list[tuple[str, bytes]], str], None]


def generation(state: str, key: str) -> int:
    return st.session_state.setdefault(f"{state}_gen", {}).get(key, 0)


def next_generation(state: str, key: str) -> None:
    gens = st.session_state.setdefault(f"{state}_gen", {})
    gens[key] = gens.get(key, 0) + 1


def item_slot(state: str, item_id: str) -> str:
    """The flash slot of one item's panel (see ``ui.flash``)."""
    return f"{state}:{item_id}"


def _on_camera(state: str, item_id: str, name: str, key: str, add: AddPhotos, label: str) -> None:
    shot = st.session_state.get(key)
    if shot is None:
        return
    seen = st.session_state.setdefault(f"{state}_seen_shots", set())
    if shot.file_id in seen:  # a camera widget returns its last photo on every rerun
        return
    seen.add(shot.file_id)
    add(name, [(label, shot.getvalue())], "camera")
    next_generation(state, f"cam_{item_id}")


def _on_upload(state: str, item_id: str, name: str, key: str, add: AddPhotos) -> None:
    files = st.session_state.get(key) or []
    # The uploader takes any number of files; only the first max_upload_files are read and looked at.
    batch = limits().max_upload_files
    add(name, [(f.name, f.getvalue()) for f in files[:batch]], "upload")
    if len(files) > batch:
        flash("error", f"Only the first {batch} of the {len(files)} files sent were looked at: at most {batch} are "
                       "taken at once.", slot=item_slot(state, item_id))
    next_generation(state, f"up_{item_id}")


def draw_photo_inputs(*, prefix: str, state: str, item_id: str, name: str, add: AddPhotos,
                      camera_help: str, camera_label: str, snapshot_label: str,
                      upload_label: str, upload_help: str) -> None:
    """The "Webcam" toggle and camera, the uploader, then the item's messages."""
    if st.toggle("Webcam", key=persist(f"{prefix}_cam_on_{item_id}", False), help=camera_help):
        cam_key = f"{prefix}_cam_{item_id}_{generation(state, f'cam_{item_id}')}"
        camera_snapshot(camera_label, key=cam_key, on_change=_on_camera,
                        args=(state, item_id, name, cam_key, add, snapshot_label), label_visibility="collapsed")
    up_key = f"{prefix}_up_{item_id}_{generation(state, f'up_{item_id}')}"
    st.file_uploader(upload_label, accept_multiple_files=True, key=up_key, on_change=_on_upload,
                     args=(state, item_id, name, up_key, add), help=upload_help)
    show_flashes(item_slot(state, item_id))

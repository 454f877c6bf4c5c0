"""The Who am I? page's identity panels: a name, a webcam and uploads, and the aligned faces kept.

The faces live in a ``core.faces.enrol.FaceGallery`` in the user's workspace (``ui.workspace``),
in memory, never on disk: a refreshed tab finds them, a restarted server does not. Every change
happens in a widget callback, before the page runs, so the page always draws the gallery as it is.
"""

from __future__ import annotations

import uuid

import streamlit as st

from core.data.class_images import ClassImageError
from core.data.images import SUPPORTED
from core.faces.enrol import MIN_FACES, FaceGallery

from .flash import drop_flashes, flash, show_flashes
from .photo_inputs import draw_photo_inputs, item_slot
from .runs import owned_job
from .session import remove_model
from .widget_memory import persist
from .workspace import workspace
from .text import plain

THUMB_COLUMNS = 8


def gallery() -> FaceGallery:
    """The user's enrolled faces (created empty, with "Me" as the first identity)."""
    ws = workspace()
    with ws.lock:
        if ws.face_gallery is None:
            ws.face_gallery = FaceGallery()
            ws.face_gallery.add_identity("Me")
    return ws.face_gallery


def _ids() -> dict:
    return st.session_state.setdefault("face_ids", {})


def identity_id(name: str) -> str:
    return _ids().setdefault(name, uuid.uuid4().hex[:8])


def _say(iid: str, kind: str, text: str) -> None:
    flash(kind, text, slot=item_slot("face", iid))


def _enrol(name: str, files: list[tuple[str, bytes]], source: str) -> None:
    # a snapshot and an uploaded photo are checked alike (source: "camera" or "upload")
    # Refused photos count towards the identity's room and the batch's bound as kept ones do (enrol_many).
    iid = identity_id(name)
    try:
        report = gallery().enrol_many(name, files)
    except KeyError:
        return  # the identity was removed meanwhile
    for label, reason in report.refused:
        _say(iid, "error", f"{label}: not added. {reason}")
    if report.bound_reason:
        _say(iid, "error", report.bound_reason)
    for label, result in report.added:
        _say(iid, "success", f"{label}: face found ({result.face.confidence:.1%} sure), eyes levelled by "
                             f"{result.aligned.angle:+.0f}°, added to {plain(name)}.")
    if len(report.added) > 3:  # one line per photo is too much for a batch of uploads
        drop_flashes(item_slot("face", iid), "success")
        _say(iid, "success", f"{len(report.added)} faces added to {plain(name)}.")


def _add_identity() -> None:
    ss = st.session_state
    try:
        gallery().add_identity(ss.get("face_new_name", ""))
        ss["face_new_name"] = ""
    except ClassImageError as exc:
        flash("error", str(exc), slot="face_add")


def _remove_identity(name: str) -> None:
    gallery().remove_identity(name)
    _ids().pop(name, None)


def _delete_face(name: str, face_id: str) -> None:
    gallery().delete(name, face_id)


def delete_everything() -> None:
    """Forget every enrolled face and the models trained on them in this session."""
    gallery().clear()
    ss = st.session_state
    ss.pop("face_ids", None)
    ws = workspace()
    for model_id in [mid for mid, e in ws.models.items() if e.card.private]:
        remove_model(model_id)
    job = owned_job("faces")
    if job is not None:
        job.stop()
        ws.discard(job)  # its model must not join the models when it ends
    flash("success", "Every enrolled face, and every model trained on them, is deleted.",
          slot="face_deleted")


def draw_add_identity() -> None:
    cols = st.columns([3, 1], vertical_alignment="bottom")
    cols[0].text_input("Add a person", key=persist("face_new_name", ""), placeholder="Their name, then press Add")
    cols[1].button("Add", icon=":material/person_add:", key="face_add", on_click=_add_identity)
    show_flashes("face_add")


def draw_identity(name: str) -> None:
    """One identity: webcam and upload inputs, messages, and the aligned faces with delete buttons."""
    iid = identity_id(name)
    faces = gallery().faces(name)
    with st.container(border=True, key=f"face_box_{iid}"):
        head = st.columns([4, 3, 1], vertical_alignment="center")
        head[0].markdown(f"#### {plain(name)}")
        short = len(faces) < MIN_FACES
        head[1].markdown(f"**{len(faces)}** face{'s' if len(faces) != 1 else ''}"
                         + (f" · :orange[:material/warning: at least {MIN_FACES} needed]" if short else ""))
        head[2].button("", icon=":material/delete:", key=f"face_remove_{iid}", on_click=_remove_identity,
                       args=(name,), help=f"Remove {name} and their faces")
        left, right = st.columns([2, 3])
        with left:
            draw_photo_inputs(prefix="face", state="face", item_id=iid, name=name, add=_enrol,
                              camera_help="Each snapshot is checked for exactly one face.",
                              camera_label=f"Snapshot of {name}", snapshot_label="Snapshot",
                              upload_label=f"Photos of {name}", upload_help=f"{SUPPORTED} files with one face each.")
        with right:
            if not faces:
                st.caption(f"No faces yet. Take webcam snapshots of {name} from a few angles and in different light.")
            for start in range(0, len(faces), THUMB_COLUMNS):
                cols = st.columns(THUMB_COLUMNS)
                for col, face in zip(cols, faces[start:start + THUMB_COLUMNS]):
                    col.image(face.crop, width="stretch")
                    col.button("", icon=":material/close:", key=f"face_del_{face.id}", help="Delete this face",
                               on_click=_delete_face, args=(name, face.id), type="tertiary")

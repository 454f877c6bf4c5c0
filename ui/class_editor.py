"""The My classes page's class panels: name, webcam, uploads and thumbnails of one class.

The images live on disk (``core.class_images``) in this browser session's upload
folder, so they survive reruns and page switches. Every change happens in a
widget callback, before the page runs, so the page always draws what is on disk.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import streamlit as st

from core.data.class_images import MIN_IMAGES_PER_CLASS, ClassImageError, ClassImages, thumbnail
from core.data.images import SUPPORTED

from . import uploads
from .flash import flash, show_flashes
from .photo_inputs import draw_photo_inputs, item_slot
from .widget_memory import ephemeral, persist
from .workspace import workspace
from .text import plain

THUMBS_SHOWN = 24  # newest thumbnails drawn per class until "Show all" is on
THUMB_COLUMNS = 6


def class_store() -> ClassImages:
    """This user's classes (``<uploads>/my_classes``), created with two empty classes.

    A deleted photo goes from the frozen copies of ``runs_folder`` too, and what is added counts
    against the quota of the user's workspace folder.
    """
    return ClassImages(uploads.session_folder() / "my_classes", runs_root=runs_folder(),
                       quota_folder=workspace().store.folder).start()


def runs_folder() -> Path:
    """Where the frozen copies that models are trained on go (hidden from the Data page's upload list)."""
    return uploads.session_folder() / ".my_classes_runs"


def class_id(name: str) -> str:
    """A widget-key id that stays with a class when it is renamed."""
    return st.session_state.setdefault("classes_ids", {}).setdefault(name, uuid.uuid4().hex[:8])


def _say(cid: str, kind: str, text: str) -> None:
    flash(kind, text, slot=item_slot("classes", cid))


# --- callbacks: they change the folder before the page is drawn again ------------------------


def _on_rename(name: str, key: str) -> None:
    cid = class_id(name)
    try:
        new = class_store().rename_class(name, st.session_state[key])
    except ClassImageError as exc:
        st.session_state[key] = name
        _say(cid, "error", f"Not renamed: {exc}")
        return
    ids = st.session_state["classes_ids"]
    ids[new] = ids.pop(name)


def _add(name: str, files: list[tuple[str, bytes]], source: str) -> None:
    cid = class_id(name)
    try:
        report = class_store().add_images(name, files)
    except ClassImageError as exc:
        _say(cid, "error", str(exc))
        return
    if report.added and source == "upload":  # a snapshot shows up as its thumbnail
        _say(cid, "success", f"Added {len(report.added)} image{'s' if len(report.added) != 1 else ''} to {plain(name)}.")
    if report.refused:
        _say(cid, "error", "Not added (your other images are kept):\n\n"
             + "\n".join(f"- {line}" for line in report.refused))


def _remove_image(name: str, filename: str) -> None:
    try:
        class_store().remove_image(name, filename)
    except ClassImageError as exc:
        _say(class_id(name), "error", str(exc))


def _clear(name: str) -> None:
    class_store().clear_class(name)


def _remove_class(name: str) -> None:
    class_store().remove_class(name)
    st.session_state.get("classes_ids", {}).pop(name, None)


def _add_class() -> None:
    try:
        class_store().add_class()
    except ClassImageError as exc:
        flash("error", str(exc), slot="classes_add")


# --- drawing -----------------------------------------------------------------------------


@st.cache_data(max_entries=2000, show_spinner=False)
def _thumbnail(path: str, mtime_ns: int):
    return thumbnail(path, 96)


def draw_add_class() -> None:
    st.button("Add a class", icon=":material/add:", key="cls_add", on_click=_add_class)
    show_flashes("classes_add")


def draw_class(store: ClassImages, name: str) -> None:
    """One class: its name, webcam and upload inputs, count and thumbnails with delete buttons."""
    cid = class_id(name)
    images = store.images(name)
    name_key = ephemeral(f"cls_name_{cid}")  # shows the class's name on disk, set below on every run
    if st.session_state.get(name_key) != name:
        st.session_state[name_key] = name
    with st.container(border=True, key=f"cls_box_{cid}"):
        head = st.columns([4, 3, 1], vertical_alignment="center")
        head[0].text_input("Class name", key=name_key, on_change=_on_rename, args=(name, name_key),
                           label_visibility="collapsed", placeholder="Class name: type and press Enter")
        short = len(images) < MIN_IMAGES_PER_CLASS
        head[1].markdown(f"**{len(images)}** image{'s' if len(images) != 1 else ''}"
                         + (f" · :orange[:material/warning: at least {MIN_IMAGES_PER_CLASS} needed]" if short else ""))
        with head[2].popover("", icon=":material/more_vert:", help="Clear or remove this class"):
            st.button(f"Delete all {len(images)} images", key=f"cls_clear_{cid}", on_click=_clear, args=(name,),
                      disabled=not images, icon=":material/delete_sweep:")
            st.button(f"Remove {name}" + (f" and its {len(images)} images" if images else ""), key=f"cls_remove_{cid}",
                      on_click=_remove_class, args=(name,), icon=":material/delete:")

        left, right = st.columns([2, 3])
        with left:
            draw_photo_inputs(prefix="cls", state="classes", item_id=cid, name=name, add=_add,
                              camera_help="Take snapshots; each one is added to this class.",
                              camera_label=f"Snapshot for {name}", snapshot_label="webcam snapshot",
                              upload_label=f"Add images to {name}", upload_help=f"{SUPPORTED} files, several at once.")
        with right:
            _draw_thumbnails(name, cid, images)


def _draw_thumbnails(name: str, cid: str, images: list[Path]) -> None:
    if not images:
        st.caption(f"No images yet. Take webcam snapshots or upload photos of {plain(name)}.")
        return
    newest = images[::-1]
    if len(newest) > THUMBS_SHOWN and not st.toggle(f"Show all {len(newest)}", key=persist(f"cls_all_{cid}", False)):
        newest = newest[:THUMBS_SHOWN]
    for start in range(0, len(newest), THUMB_COLUMNS):
        cols = st.columns(THUMB_COLUMNS)
        for col, path in zip(cols, newest[start:start + THUMB_COLUMNS]):
            col.image(_thumbnail(str(path), path.stat().st_mtime_ns), width="stretch")
            col.button("", icon=":material/close:", key=f"cls_del_{cid}_{path.stem}", help="Delete this image",
                       on_click=_remove_image, args=(name, path.name), type="tertiary")

"""Predict's gallery: the last pictures tried in this session, each with its answer and verdict, to compare.

Kept in ``st.session_state[GALLERY]`` as a list, newest first, at most ``GALLERY_SIZE`` pictures
of every model together: each keeps the model's input (what it is shown again with), a
thumbnail and a preview of at most ``PREVIEW_SIDE`` pixels, about 30 kB a picture for the
shipped model, so a session never grows without limit. Showing one again sets
``st.session_state[SHOWN]`` to its id; a new picture from the page's input clears it.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import numpy as np
import streamlit as st
from PIL import Image

from core.visuals.tiles import image_tile

GALLERY = "pred_gallery"  # session key: list of GalleryItem, newest first
SHOWN = "pred_gallery_shown"  # session key: id of the item shown again, or None
LAST_INPUT = "pred_gallery_last_input"  # session key: id of the last picture the input widgets gave
GALLERY_SIZE = 12  # pictures kept, of every model together
THUMB_SIDE = 96  # pixels, the longer side of a thumbnail
PREVIEW_SIDE = 240  # pixels, the longer side of the picture shown again
COLUMNS = 6


@dataclass
class GalleryItem:
    """One picture tried on Predict, with what the model answered."""

    id: str  # digest of the model's input and the model
    model_id: str
    image: np.ndarray  # the model's input (float32, its input shape)
    caption: str  # where the picture came from
    thumbnail: bytes  # JPEG or PNG, THUMB_SIDE pixels at most
    preview: bytes  # JPEG or PNG, PREVIEW_SIDE pixels at most
    top_class: str
    probability: float
    verdict: str  # "unlike its data", "like its data" or "not checked"

    @property
    def label(self) -> str:
        return f"{self.top_class} {self.probability:.1%} · {self.verdict}"


def picture_id(image: np.ndarray, model_id: str) -> str:
    """The id a picture has in the gallery of one model."""
    data = np.ascontiguousarray(image, np.float32).tobytes() + model_id.encode()
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def _encode(picture: np.ndarray, side: int) -> bytes:
    """A uint8 RGB picture shrunk to ``side`` pixels at most: JPEG for photos, PNG for small model inputs."""
    img = Image.fromarray(picture)
    if max(img.size) > side:
        img.thumbnail((side, side), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=85)
    else:
        buf = io.BytesIO()
        img.save(buf, format="PNG")
    return buf.getvalue()


def note_input(image: np.ndarray, model_id: str) -> None:
    """Tell the gallery which picture the input widgets give now; a new one ends showing a gallery picture."""
    ss = st.session_state
    new = picture_id(image, model_id)
    if ss.get(LAST_INPUT) != new:
        ss[LAST_INPUT] = new
        ss[SHOWN] = None


def remember(model_id: str, image: np.ndarray, caption: str, original: np.ndarray | None, top_class: str,
             probability: float, verdict: str) -> None:
    """Put a picture first in the gallery (once per picture and model), dropping the oldest beyond ``GALLERY_SIZE``."""
    items: list[GalleryItem] = st.session_state.setdefault(GALLERY, [])
    item_id = picture_id(image, model_id)
    if any(item.id == item_id for item in items):
        return
    if original is not None:
        picture = np.asarray(original, np.uint8)
    else:  # a dataset sample: its few pixels, enlarged so they stay crisp
        picture = image_tile(image, max(1, THUMB_SIDE // max(image.shape[:2])))
    items.insert(0, GalleryItem(item_id, model_id, np.array(image, np.float32), caption, _encode(picture, THUMB_SIDE),
                                _encode(picture, PREVIEW_SIDE), top_class, float(probability), verdict))
    del items[GALLERY_SIZE:]


def shown_item(model_id: str) -> GalleryItem | None:
    """The gallery picture the user chose to see again, if it belongs to ``model_id``."""
    shown = st.session_state.get(SHOWN)
    return next((i for i in st.session_state.get(GALLERY, []) if i.id == shown and i.model_id == model_id), None)


def _show(item_id: str | None) -> None:
    st.session_state[SHOWN] = item_id


def _clear() -> None:
    st.session_state[GALLERY] = []
    st.session_state[SHOWN] = None


def show_back_button() -> None:
    """The button that goes back from a gallery picture to the picture of the input widgets."""
    st.button("Back to the current picture", key="pred_gallery_back", on_click=_show, args=(None,))


def show_gallery(model_id: str) -> None:
    """The thumbnails of ``model_id``'s pictures, each with its answer and a button to show it again, and Clear."""
    items = [i for i in st.session_state.get(GALLERY, []) if i.model_id == model_id]
    st.subheader("Photos tried")
    if not items:
        st.caption(f"Every picture you try here joins this gallery (the last {GALLERY_SIZE}), to compare answers.")
        return
    st.caption(f"The last {GALLERY_SIZE} pictures tried in this session, newest first, with the model's top class, "
               "its share and the verdict of the checks. Show one to see it again.")
    shown = st.session_state.get(SHOWN)
    for start in range(0, len(items), COLUMNS):
        for col, item in zip(st.columns(COLUMNS), items[start:start + COLUMNS]):
            col.image(item.thumbnail, caption=item.label)
            col.button("Showing" if item.id == shown else "Show", key=f"pred_gallery_show_{item.id}",
                       on_click=_show, args=(item.id,), disabled=item.id == shown, help=item.caption)
    st.button("Clear the gallery", key="pred_gallery_clear", on_click=_clear, icon=":material/delete:")

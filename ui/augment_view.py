"""Augmentation settings and their preview (Data page); the Train page reads the same settings."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.data import Dataset
from core.data.augment import FLIPS, Augmentation, augment_images
from core.visuals.tiles import image_grid

from .widget_memory import persist, set_widget_values
from .widgets import picture

# widget key -> Augmentation field (the widgets' defaults are the Augmentation's: all off)
WIDGETS = {
    "aug_flip": "flip",
    "aug_rotation": "rotation_degrees",
    "aug_zoom": "zoom",
    "aug_translation": "translation",
    "aug_brightness": "brightness",
    "aug_contrast": "contrast",
}
FLIP_LABELS = {"none": "none", "horizontal": "left ↔ right", "vertical": "up ↕ down",
               "horizontal_and_vertical": "both"}


def current_augmentation() -> Augmentation:
    """The settings chosen on the Data page (all off until someone changes them), read from the kept
    widget values, so the Train page sees them without drawing the widgets."""
    ss = st.session_state
    return Augmentation(**{field: _value(key, ss.get(key, getattr(OFF, field))) for key, field in WIDGETS.items()})


def set_augmentation(aug: Augmentation) -> None:
    """Choose ``aug`` as if set on the Data page (call from a widget callback)."""
    set_widget_values({key: _widget_value(key, getattr(aug, field)) for key, field in WIDGETS.items()})


OFF = Augmentation()


def _widget_value(key: str, value):
    return int(value) if key == "aug_rotation" else value  # the rotation slider steps in whole degrees


def _value(key: str, widget_value):
    return float(widget_value) if key == "aug_rotation" else widget_value


def _reset() -> None:
    set_augmentation(OFF)


def draw_augmentation_section(ds: Dataset) -> None:
    st.caption("Show the network a slightly different version of each photo every epoch: mirrored, turned, zoomed, "
               "shifted, lighter or darker. It then learns what a class looks like rather than these exact pixels. "
               "The settings below are the ones the Train page uses.")
    key = {k: persist(k, _widget_value(k, getattr(OFF, field))) for k, field in WIDGETS.items()}
    c = st.columns(3)
    c[0].selectbox("Flip", FLIPS, key=key["aug_flip"], format_func=FLIP_LABELS.get,
                   help="Mirror images at random. Left-right suits photos; digits and letters change meaning.")
    c[1].slider("Rotation (± degrees)", 0, 45, step=5, key=key["aug_rotation"])
    c[2].slider("Zoom (± share)", 0.0, 0.5, step=0.05, key=key["aug_zoom"], format="%.2f")
    c = st.columns(3)
    c[0].slider("Shift (± share of the size)", 0.0, 0.3, step=0.05, key=key["aug_translation"], format="%.2f")
    c[1].slider("Brightness (± share of the range)", 0.0, 0.5, step=0.05, key=key["aug_brightness"], format="%.2f")
    c[2].slider("Contrast (± share)", 0.0, 0.5, step=0.05, key=key["aug_contrast"], format="%.2f")
    aug = current_augmentation()
    c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
    c1.markdown(f"**In use:** {aug.describe()}")
    if c2.button("New random draw", key="aug_redraw", disabled=not aug.active):
        st.session_state["aug_seed"] = st.session_state.get("aug_seed", 0) + 1
    c3.button("Turn all off", key="aug_reset", on_click=_reset, disabled=not aug.active)

    variants = 7
    picked = ds.samples_per_class(1, seed=st.session_state.get("data_seed", 0))
    indices = [int(v[0]) for v in list(picked.values())[:4] if len(v)]
    if not indices:
        return
    originals = ds.x_train[indices]
    copies = np.repeat(originals, variants, axis=0)
    augmented = augment_images(copies, aug, seed=st.session_state.get("aug_seed", 0))
    cols = st.columns(len(indices))
    for i, (col, index) in enumerate(zip(cols, indices)):
        tiles = np.concatenate([originals[i:i + 1], augmented[i * variants:(i + 1) * variants]])
        picture(col, image_grid(tiles, cols=4), caption=f"{ds.class_names[int(ds.y_train[index])]}: "
                                                        "the original (top left) and 7 random versions")

"""Replay how the first conv layer's filters and a probe image's feature maps changed in training."""

from __future__ import annotations

import streamlit as st

from core.visuals.filter_sheet import filter_sheet
from core.visuals.tiles import feature_map_grid, image_tile

from .layer_picker import pick_layer
from .widget_memory import persist
from .widgets import picture

COLUMN_PX = 340  # width of one of the two wide columns the replay draws in, on a 1280 px wide window


def show_evolution(snapshots: list, key: str, probe=None) -> None:
    """An epoch slider over ``core.training.progress.Snapshot`` records; nothing when there are none."""
    if not snapshots:
        return
    epochs = [s.epoch for s in snapshots]
    if len(epochs) == 1:
        epoch = epochs[0]
        st.caption("Filters and maps before the first update; more appear after each epoch.")
    else:
        ss, widget, latest = st.session_state, persist(f"{key}_epoch", epochs[-1]), f"{key}_epoch_latest"
        # Follow the newest epoch as training adds them, unless the user has moved the slider back.
        chosen = ss.get(widget)
        if chosen not in epochs or chosen == ss.get(latest):
            chosen = epochs[-1]
        ss[latest] = epochs[-1]
        # Written on every run, so the server always sends the slider the epoch drawn below. Left alone,
        # a slider keeps the browser's own value: a run that started from a value the browser had before
        # it received the newest epoch drew that older epoch under a slider showing the newest.
        ss[widget] = chosen
        epoch = st.select_slider("Epoch", epochs, key=widget,
                                 help="0 is the random start; each step is one more pass over the training images.")
    snap = snapshots[epochs.index(epoch)]
    names = list(snap.maps)
    cols = st.columns([1, 2, 2] if probe is not None else [1, 1])
    if probe is not None:
        picture(cols[0], image_tile(probe, max(1, 96 // probe.shape[0])), caption="probe image")
        cols = cols[1:]
    rgb_tiles = snap.kernel.shape[2] == 3  # half the Filters page's colour tiles: 8 a row in the column
    picture(cols[0], filter_sheet(snap.kernel, tile_px=36 if rgb_tiles else None, max_width=COLUMN_PX).image,
            caption=f"first-layer filters after {snap.epoch} epoch(s)")
    layer = names[0]
    if len(names) > 1:
        layer = pick_layer("Layer", names, key=f"{key}_layer", container=cols[1])
    picture(cols[1], feature_map_grid(snap.maps[layer], max_width=COLUMN_PX),
            caption=f"{layer} maps of the probe after {snap.epoch} epoch(s)")

"""Replay how the first conv layer's filters and a probe image's feature maps changed in training."""

from __future__ import annotations

import streamlit as st

from core.visuals.tiles import feature_map_grid, filter_grid, image_tile

from .widget_memory import persist
from .widgets import picture


def show_evolution(snapshots: list, key: str, probe=None) -> None:
    """An epoch slider over ``core.training.progress.Snapshot`` records; nothing when there are none."""
    if not snapshots:
        return
    epochs = [s.epoch for s in snapshots]
    if len(epochs) == 1:
        epoch = epochs[0]
        st.caption("Filters and maps before the first update; more appear after each epoch.")
    else:
        widget, latest = f"{key}_epoch", f"{key}_epoch_latest"
        # Follow the newest epoch as training adds them, unless the user has moved the slider back.
        if st.session_state.get(widget) not in epochs or st.session_state[widget] == st.session_state.get(latest):
            st.session_state[widget] = epochs[-1]
        st.session_state[latest] = epochs[-1]
        epoch = st.select_slider("Epoch", epochs, key=persist(widget, epochs[-1]),
                                 help="0 is the random start; each step is one more pass over the training images.")
    snap = snapshots[epochs.index(epoch)]
    names = list(snap.maps)
    cols = st.columns([1, 2, 2] if probe is not None else [1, 1])
    if probe is not None:
        picture(cols[0], image_tile(probe, max(1, 96 // probe.shape[0])), caption="probe image")
        cols = cols[1:]
    picture(cols[0], filter_grid(snap.kernel), caption=f"first-layer filters after {epoch} epoch(s)")
    layer = names[0]
    if len(names) > 1:
        layer = cols[1].selectbox("Layer", names, key=persist(f"{key}_layer", names[0]))
    picture(cols[1], feature_map_grid(snap.maps[layer]), caption=f"{layer} maps of the probe after {epoch} epoch(s)")

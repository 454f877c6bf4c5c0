"""The Models page's ImageNet networks: which are on this server, download or import their weights, use one."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core.models.imagenet import DEFAULT_NETWORK, NETWORKS, NetworkError
from core.models.imagenet_weights import (WeightsDownloadError, WeightsError, cached_weights, fetch_weights,
                                          find_weights_files, import_weights, weights_path)
from core.settings import classroom, folder_roots, human_bytes, inside

from .flash import flash, show_flashes
from .networks import load_network, loaded_network
from .session import set_current_model
from .text import plain
from .widget_memory import ephemeral, persist
from .workspace import workspace

UPLOAD_LIMIT = 50 * 2**20  # .streamlit/config.toml's maxUploadSize
SLOT = "models_networks"


def network_table() -> pd.DataFrame:
    rows = []
    for net in NETWORKS.values():
        ready = cached_weights(net) is not None
        rows.append({"network": net.title, "year": net.year, "parameters": f"{net.params / 1e6:.1f} M",
                     "weights file": human_bytes(net.weight_bytes),
                     "on this server": "in memory" if loaded_network(net.key) is not None else
                     "ready" if ready else "not yet"})
    return pd.DataFrame(rows)


def use_network(key: str) -> None:
    """Load the network (once per server; the memory limit is checked then), then add it to the user's models and
    make it current: a network refused never joins the list, where every page would fail to load it again."""
    net = NETWORKS[key]
    try:
        with st.spinner(f"Loading {net.title}: {net.params / 1e6:.1f} million weights…"):
            load_network(key)
    except NetworkError as exc:
        flash("error", plain(exc, 600), SLOT)
        return
    entry = workspace().add_network(key)
    set_current_model(entry.id)
    flash("success", f"**{net.title}** is now the current model on every page: look inside it on Activations, "
                     "Filters and Predict.", SLOT)


def download(key: str) -> None:
    net = NETWORKS[key]
    bar = st.progress(0.0, text=f"Downloading {net.title}'s weights…")
    try:
        fetch_weights(net, progress=lambda f, message: bar.progress(min(max(f, 0.0), 1.0), text=message))
    except WeightsDownloadError as exc:
        bar.empty()
        st.session_state["models_net_failed"] = key
        flash("error", f"{plain(exc, 600)}  \nWithout internet here, import the file below: download "
                       f"`{net.file_name}` from {exc.url} on a computer that has it.", SLOT)
        return
    except WeightsError as exc:
        bar.empty()
        flash("error", plain(exc, 600), SLOT)
        return
    bar.empty()
    flash("success", f"{net.title}'s weights are on this server now, checked.", SLOT)


def _upload_key() -> str:
    return f"models_net_upload_{st.session_state.get('models_net_upload_gen', 0)}"


def import_upload(key: str, widget: str) -> None:
    upload = st.session_state.get(widget)
    if upload is None:
        return
    # a fresh, empty uploader for the next file: a file dropped on one that still holds a refused file would
    # otherwise wait for the removal's rerun, and the message this one causes moves it, so the browser lost it
    st.session_state["models_net_upload_gen"] = st.session_state.get("models_net_upload_gen", 0) + 1
    net = NETWORKS[key]
    try:
        import_weights(net, upload.getvalue(), upload.name)
    except (WeightsError, OSError) as exc:
        flash("error", f"Could not import {plain(upload.name, 80)}: {plain(exc, 600)}", SLOT)
        return
    flash("success", f"Imported {plain(upload.name, 80)}: {net.title}'s weights are on this server now, checked.",
          SLOT)


def import_path(key: str, state_key: str) -> None:
    """Import the file whose path the widget ``state_key`` holds (read here: a button's args are those of the last
    run, before the path was typed)."""
    net = NETWORKS[key]
    path = st.session_state.get(state_key)
    if not path:
        return
    source = Path(path).expanduser()
    if classroom() and not any(inside(source, root) for root in folder_roots()):
        flash("error", "Only files in the folders the teacher shares can be imported here.", SLOT)
        return
    try:
        with open(source, "rb") as fh:
            import_weights(net, fh, source.name)
    except (WeightsError, OSError) as exc:
        flash("error", f"Could not import {plain(source.name, 80)}: {plain(exc, 600)}", SLOT)
        return
    flash("success", f"Imported {plain(source.name, 80)}: {net.title}'s weights are on this server now, checked.", SLOT)


def draw_networks() -> None:
    st.subheader("Famous ImageNet networks")
    st.caption("Five CNNs of `keras.applications`, trained by their authors on ImageNet: 1.28 million photos of "
               "1,000 kinds of things. Their weights are Keras's own files, downloaded once into Keras's cache and "
               "checked against the checksums Keras publishes; then every page can look inside them.")
    st.dataframe(network_table(), hide_index=True, key="models_net_table")
    key = st.selectbox("Network", list(NETWORKS), format_func=lambda k: NETWORKS[k].title,
                       key=persist("models_net_pick", DEFAULT_NETWORK))
    net = NETWORKS[key]
    st.caption(f"{net.description} {net.params:,} weights ({human_bytes(net.weight_bytes)}).")
    show_flashes(SLOT)
    ready = cached_weights(net) is not None
    c1, c2 = st.columns(2)
    c1.button("Use it", key="models_net_use", on_click=use_network, args=(key,), type="primary", disabled=not ready,
              icon=":material/neurology:", help=None if ready else "Its weights are not on this server yet.")
    if c2.button(f"Download the weights ({human_bytes(net.weight_bytes)})", key="models_net_download",
                 disabled=ready, icon=":material/download:", help=net.url):
        download(key)
        st.rerun()
    if ready:
        return
    with st.expander("No internet here? Import the weights file", expanded=st.session_state.get(
            "models_net_failed") == key):
        st.markdown(f"The file is **`{net.file_name}`**, from {net.url}. It is checked before it is used: another "
                    "network's file, or one cut short, is refused.")
        if net.weight_bytes < UPLOAD_LIMIT * 0.9:
            widget = _upload_key()
            st.file_uploader("Weights file (.h5)", type=["h5"], key=ephemeral(widget), on_change=import_upload,
                             args=(key, widget))
        else:
            st.caption(f"At {human_bytes(net.weight_bytes)} it is over this server's upload limit "
                       f"({human_bytes(UPLOAD_LIMIT)}): put it in a folder of the server instead.")
        if classroom():
            files = find_weights_files(net, folder_roots())
            if files:
                st.selectbox("From a folder the teacher shares", [str(p) for p in files],
                                      key=ephemeral("models_net_folder_file"))
                st.button("Import it", key="models_net_import_folder", on_click=import_path,
                          args=(key, "models_net_folder_file"))
            else:
                st.caption(f"The teacher can put `{net.file_name}` in a shared folder (`CNNLAB_FOLDER_ROOTS`) for "
                           "everyone to import here.")
        else:
            st.text_input("Or its path on this machine", key=ephemeral("models_net_path"),
                          placeholder=str(Path.home() / "Downloads" / net.file_name))
            st.button("Import it", key="models_net_import_path", on_click=import_path, args=(key, "models_net_path"))
            st.caption(f"Copying it to `{weights_path(net)}` works too: that is Keras's own cache.")

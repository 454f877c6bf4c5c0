"""Models: your saved models and the gallery; load, rename, delete, download, upload, publish."""

from dataclasses import replace

import pandas as pd
import streamlit as st

from core.data import DATASETS, DatasetError
from core.settings import classroom, limits
from core.storage.files import ModelFileError
from core.storage.gallery import GALLERY_PREFIX, gallery_registry, publish
from core.storage.registry import check_fit, datasets_that_fit
from ui.flash import flash, show_flashes
from ui.identity import identify
from ui.network_view import draw_networks
from ui.router import require_router
from ui.session import add_model, current_dataset, init_state, set_current_model, set_dataset
from ui.text import plain
from ui.workspace import workspace
from ui.widget_memory import ephemeral, persist

require_router(__file__)

init_state()
ss = st.session_state
who = identify()
# A registry is only a wrapper around a folder: one per run costs nothing and holds no user state.
try:
    registry = workspace().registry()
    gallery = gallery_registry()
except OSError as exc:
    st.error(f"The folder for saved models cannot be created: {exc}. Set `CNNLAB_MODELS_DIR` (personal mode) or "
             "`CNNLAB_DATA_DIR` to a writable folder.")
    st.stop()
if not ss.get("models_cleaned"):
    registry.remove_orphans()  # leftovers of saves cut short, once per session
    ss["models_cleaned"] = True


def say(kind: str, text: str) -> None:
    flash(kind, text, slot="models")


def load_entry(saved_id: str | None) -> None:
    """Load a saved model (``gallery:ID`` for one of the gallery) and make it the current model."""
    if saved_id is None:
        return
    try:
        source, entry_id = workspace().registry_of(saved_id)
        name = source.get(entry_id).name
        known = workspace().find_saved(saved_id)  # a second Load reuses the first
        if known is not None and known.card.name == name:
            set_current_model(known.id)
        else:
            model, card = source.load(entry_id)
            snapshots, probe = source.load_replay(entry_id) or (None, None)
            add_model(model, card, evolution=snapshots, probe=probe, saved_id=saved_id)
    except (ModelFileError, ValueError, OSError) as exc:
        say("error", f"Could not load the model: {plain(exc, 400)}")
        return
    say("success", f"Loaded **{plain(name)}**: it is now the current model on every page.")
    current = ss["models"][ss["current_model"]]
    ss["models_check_fit"] = (name, current.model)


def rename_entry(entry_id: str) -> None:
    try:
        entry = registry.rename(entry_id, ss.get("models_new_name", ""))
    except (ModelFileError, ValueError, OSError) as exc:
        say("error", f"Could not rename the model: {plain(exc, 400)}")
        return
    ss["models_new_name"] = ""
    # Set again, so the browser is sent the choice's new label: it keeps the label it last showed and
    # sends it back with the next click, and the old one, no longer an option, would clear the choice.
    ss["models_pick"] = entry_id
    for model in ss["models"].values():  # copies loaded or saved in this session take the new name too
        if model.saved_id == entry_id:
            model.card = replace(model.card, name=entry.name)
    say("success", f"Renamed to **{plain(entry.name)}**.")


def delete_entry(entry_id: str) -> None:
    if not ss.get("models_confirm_delete"):
        say("warning", "Tick the box to confirm first: a deleted model cannot be brought back.")
        return
    try:
        name = registry.get(entry_id).name
        registry.delete(entry_id)
    except (ModelFileError, ValueError, OSError) as exc:
        say("error", f"Could not delete the model: {plain(exc, 400)}")
        return
    ss["models_confirm_delete"] = False
    ss["models_pick"] = None
    say("success", f"Deleted **{plain(name)}**. Copies already loaded stay in this session until you leave.")


def publish_entry(entry_id: str) -> None:
    """The teacher copies one of their models into the gallery, for everyone."""
    if not (classroom() and who.teacher):
        return
    try:
        published = publish(registry, entry_id, [workspace().store.folder])
    except (ModelFileError, ValueError, OSError) as exc:
        say("error", f"Could not publish the model: {plain(exc, 400)}")
        return
    say("success", f"Published **{plain(published.name)}** to the gallery: every user of this server can load it now.")


def withdraw_entry(entry_id: str) -> None:
    if not (classroom() and who.teacher):
        return
    try:
        name = gallery.get(entry_id).name
        gallery.delete(entry_id)
    except (ModelFileError, ValueError, OSError) as exc:
        say("error", f"Could not withdraw the model: {plain(exc, 400)}")
        return
    ss["models_gallery_pick"] = None
    say("success", f"Withdrew **{plain(name)}** from the gallery. Copies users already loaded stay with them.")


def import_upload() -> None:
    uploaded = ss.get("models_upload")
    if uploaded is None:
        return
    try:
        workspace().check_room(uploaded.size)
        entry = registry.import_upload(uploaded.getvalue(), uploaded.name)
        model, _ = registry.load(entry.id)
    except (ModelFileError, ValueError, OSError) as exc:
        say("error", plain(exc, 600))
        return
    ss["models_pick"] = ss["models_last_upload"] = entry.id
    say("success", f"Added **{plain(entry.name)}** to your models: {model.input_shape[1]}×{model.input_shape[2]}×"
                   f"{model.input_shape[3]} images in, {model.output_shape[-1]} classes out.")
    ss["models_check_fit"] = (entry.name, model)


def show_fit(name: str, model) -> None:
    """Warn when a model does not fit the current dataset, and list the datasets it fits."""
    try:
        dataset = current_dataset()
    except DatasetError:
        return
    problems = check_fit(model, dataset)
    if not problems:
        return
    fits = datasets_that_fit(model)
    listed = ", ".join(f"{DATASETS[n].title} (`{n}`)" for n in fits) or "none of the built-in datasets"
    h, w, c = model.input_shape[1:]
    st.warning(f"**{plain(name)}** does not fit the current dataset, {plain(dataset.title)}. "
               + " ".join(plain(p, 300) for p in problems)
               + f"\n\nDatasets it fits: {listed}; choose one on the Data page. An image folder of your own "
               f"also fits when loaded at {h}×{w} with {'colour' if c == 3 else 'grey'} images and "
               f"{model.output_shape[-1]} class sub-folders. Predict works with any photo.")
    offline = [n for n in fits if DATASETS[n].offline and not DATASETS[n].needs_folder]
    for n, col in zip(offline, st.columns(max(1, len(offline)))):
        col.button(f"Switch to {DATASETS[n].title}", key=f"models_use_{n}", on_click=use_dataset, args=(n,))
    if len(offline) < len(fits):
        st.page_link("pages/data.py", label="Load another dataset on the Data page", icon=":material/photo_library:")


def use_dataset(name: str) -> None:
    set_dataset(name)
    st.session_state["data_name"] = name
    say("success", f"{DATASETS[name].title} is now the dataset.")


def model_table(entries) -> pd.DataFrame:
    """One row per entry; names are cells of a table, shown as typed (never as Markdown)."""
    return pd.DataFrame({
        "name": [e.name for e in entries],
        "dataset": [e.card.dataset_title or ("uploaded" if e.card.source == "upload" else "—") for e in entries],
        "test accuracy": [f"{e.card.test_accuracy:.1%}" if e.card.test_accuracy is not None else "—"
                          for e in entries],
        "parameters": [f"{e.card.params:,}" if e.card.params is not None else "—" for e in entries],
        "created": [e.created.replace("T", " ")[:16] for e in entries],
        "size": [f"{e.size_bytes / 1e6:.1f} MB" if e.size_bytes >= 1e6 else f"{e.size_bytes / 1e3:.0f} KB"
                 for e in entries],
        "id": [e.id for e in entries],
    })


def file_reader(source, entry_id: str):
    """The download's bytes, read when the user clicks, not on every run (a model may be 40 MB)."""
    def read() -> bytes:
        # A model deleted since the list was drawn raises here: the browser says "Failed to generate file for
        # download" and the page stays as it is (an empty file saved as a model would be silently wrong).
        return source.get(entry_id).keras_path.read_bytes()
    return read


def download_button(source, entries_by_id: dict, picked: str | None, key: str, col) -> None:
    none = picked is None
    col.download_button("Download .keras", data=b"" if none else file_reader(source, picked),
                        file_name="model.keras" if none else entries_by_id[picked].download_name,
                        mime="application/octet-stream", key=key, disabled=none, on_click="ignore")


def short_label(entry, entry_id: str) -> str:
    name = entry.name if len(entry.name) <= 60 else entry.name[:59] + "…"
    return f"{name} · {entry.created[:10]} · {entry_id}"


st.title("Models")
st.caption("A saved model is everything needed to use it again: its architecture (the layers), its weights (what "
           "training learned) in a `.keras` file, and a small `.json` of metadata: dataset, class names, test "
           "accuracy. Load one to make it the current model on every page, or upload a model saved with Keras 3.")
if classroom():
    st.caption("Your models are private: nobody else on this server can see, load or change them. The gallery below "
               "holds the models the teacher shared with everyone.")
else:
    st.caption(f"Saved models live in `{registry.root}` on this machine (set `CNNLAB_MODELS_DIR` to move them).")

show_flashes("models")
pending_fit = ss.pop("models_check_fit", None)
if pending_fit is not None:
    show_fit(*pending_fit)

st.subheader("Your models")
entries = registry.list_entries()
by_id = {e.id: e for e in entries}
if entries:
    st.dataframe(model_table(entries), hide_index=True, key="models_table")
else:
    st.info("No saved models yet: train one on the Train page, or upload a `.keras` file below.")

if ss.get("models_pick") not in by_id:
    ss["models_pick"] = None  # deleted here or in another tab
picked = st.selectbox("Saved model", list(by_id), key=persist("models_pick", None), placeholder="Choose a saved model",
                      format_func=lambda i: short_label(by_id[i], i))
none = picked is None
c1, c2, c3 = st.columns(3) if classroom() and who.teacher else (*st.columns(2), None)
c1.button("Load", key="models_load", on_click=load_entry, args=(picked,), disabled=none, type="primary",
          help="Make it the current model on every page.")
download_button(registry, by_id, picked, "models_download", c2)
if c3 is not None:
    c3.button("Publish to the gallery", key="models_publish", on_click=publish_entry, args=(picked,), disabled=none,
              help="Copy it into the gallery, where every user of this server can load it (not change it).")

c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
c1.text_input("New name", key=persist("models_new_name", ""), disabled=none, placeholder="e.g. mnist_lenet_10_epochs",
              max_chars=limits().max_name_length)
c2.button("Rename", key="models_rename", on_click=rename_entry, args=(picked,), disabled=none)
c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
c1.checkbox("Yes, delete this model for good", key=ephemeral("models_confirm_delete"), disabled=none)
c2.button("Delete", key="models_delete", on_click=delete_entry, args=(picked,), disabled=none)

shared = gallery.list_entries()
if classroom() or shared:
    st.subheader("Gallery")
    st.caption("Models shared with every user of this server: load one to look inside it; it cannot be changed here. "
               "The shipped model is always in the sidebar's list.")
    gallery_by_id = {e.id: e for e in shared}
    if shared:
        st.dataframe(model_table(shared), hide_index=True, key="models_gallery_table")
    else:
        st.info("The teacher has not shared any model yet.")
    if ss.get("models_gallery_pick") not in gallery_by_id:
        ss["models_gallery_pick"] = None
    g_picked = st.selectbox("Gallery model", list(gallery_by_id), key=persist("models_gallery_pick", None),
                            placeholder="Choose a model of the gallery",
                            format_func=lambda i: short_label(gallery_by_id[i], i), disabled=not shared)
    g_none = g_picked is None
    columns = st.columns(3 if classroom() and who.teacher else 2)
    columns[0].button("Load", key="models_gallery_load", on_click=load_entry,
                      args=(None if g_none else GALLERY_PREFIX + g_picked,), disabled=g_none)
    download_button(gallery, gallery_by_id, g_picked, "models_gallery_download", columns[1])
    if classroom() and who.teacher:
        columns[2].button("Withdraw from the gallery", key="models_withdraw", on_click=withdraw_entry,
                          args=(g_picked,), disabled=g_none)

draw_networks()

st.subheader("Upload a model")
st.caption("A `.keras` file saved with Keras 3 (`model.save(\"name.keras\")`) whose input is an image, "
           "(height, width, 1 or 3), and whose output has one score per class. Files with Python code inside, "
           "such as Lambda or custom layers, are refused: loading them would run that code on the server.")
st.file_uploader("Model file (.keras)", key="models_upload", on_change=import_upload,
                 help="A Keras 3 model saved with model.save(\"name.keras\"). Other files are refused with the reason.")
last = ss.get("models_last_upload")
if last in by_id:
    st.button(f"Load {by_id[last].name[:60]}", key="models_load_upload", on_click=load_entry, args=(last,))

"""Models: the saved models of this server; load, rename, delete, download or upload one."""

from dataclasses import replace

import pandas as pd
import streamlit as st

from core.data import DATASETS, DatasetError
from core.storage.files import ModelFileError
from core.storage.registry import ModelRegistry, check_fit, datasets_that_fit
from ui.flash import flash, show_flashes
from ui.router import require_router
from ui.session import add_model, current_dataset, init_state, set_current_model, set_dataset
from ui.workspace import workspace
from ui.widget_memory import ephemeral, persist

require_router(__file__)

init_state()
ss = st.session_state
# A registry is only a wrapper around a folder: one per run costs nothing and holds no user state.
try:
    registry = ModelRegistry()
except OSError as exc:
    st.error(f"The folder for saved models cannot be created: {exc}. Set `CNNLAB_MODELS_DIR` to a writable folder.")
    st.stop()
if not ss.get("models_cleaned"):
    registry.remove_orphans()  # leftovers of saves cut short, once per session
    ss["models_cleaned"] = True


def say(kind: str, text: str) -> None:
    flash(kind, text, slot="models")


def load_entry(entry_id: str) -> None:
    try:
        name = registry.get(entry_id).name
        known = workspace().find_saved(entry_id)  # a second Load reuses the first
        if known is not None and known.card.name == name:
            set_current_model(known.id)
        else:
            model, card = registry.load(entry_id)
            snapshots, probe = registry.load_replay(entry_id) or (None, None)
            add_model(model, card, evolution=snapshots, probe=probe, saved_id=entry_id)
    except (ModelFileError, ValueError) as exc:
        say("error", f"Could not load the model: {exc}")
        return
    say("success", f"Loaded **{name}**: it is now the current model on every page.")
    current = ss["models"][ss["current_model"]]
    ss["models_check_fit"] = (name, current.model)


def rename_entry(entry_id: str) -> None:
    try:
        entry = registry.rename(entry_id, ss.get("models_new_name", ""))
    except (ModelFileError, ValueError) as exc:
        say("error", f"Could not rename the model: {exc}")
        return
    ss["models_new_name"] = ""
    # Set again, so the browser is sent the choice's new label: it keeps the label it last showed and
    # sends it back with the next click, and the old one, no longer an option, would clear the choice.
    ss["models_pick"] = entry_id
    for model in ss["models"].values():  # copies loaded or saved in this session take the new name too
        if model.saved_id == entry_id:
            model.card = replace(model.card, name=entry.name)
    say("success", f"Renamed to **{entry.name}**.")


def delete_entry(entry_id: str) -> None:
    if not ss.get("models_confirm_delete"):
        say("warning", "Tick the box to confirm first: a deleted model cannot be brought back.")
        return
    try:
        name = registry.get(entry_id).name
        registry.delete(entry_id)
    except (ModelFileError, ValueError, OSError) as exc:
        say("error", f"Could not delete the model: {exc}")
        return
    ss["models_confirm_delete"] = False
    ss["models_pick"] = None
    say("success", f"Deleted **{name}**. Copies already loaded stay in this session until you leave.")


def import_upload() -> None:
    uploaded = ss.get("models_upload")
    if uploaded is None:
        return
    try:
        entry = registry.import_upload(uploaded.getvalue(), uploaded.name)
        model, _ = registry.load(entry.id)
    except ModelFileError as exc:
        say("error", str(exc))
        return
    ss["models_pick"] = ss["models_last_upload"] = entry.id
    say("success", f"Added **{entry.name}** to the saved models: {model.input_shape[1]}×{model.input_shape[2]}×"
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
    st.warning(f"**{name}** does not fit the current dataset, {dataset.title}. " + " ".join(problems)
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


st.title("Models")
st.caption("A saved model is everything needed to use it again: its architecture (the layers), its weights (what "
           "training learned) in a `.keras` file, and a small `.json` of metadata: dataset, class names, test "
           "accuracy. Load one to make it the current model on every page, or upload a model saved with Keras 3.")
st.caption(f"Saved models live in `{registry.root}` on the server (set `CNNLAB_MODELS_DIR` to move them).")

show_flashes("models")
pending_fit = ss.pop("models_check_fit", None)
if pending_fit is not None:
    show_fit(*pending_fit)

entries = registry.list_entries()
by_id = {e.id: e for e in entries}
if entries:
    table = pd.DataFrame({
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
    st.dataframe(table, hide_index=True, key="models_table")
else:
    st.info("No saved models yet. Upload a `.keras` file below.")

if ss.get("models_pick") not in by_id:
    ss["models_pick"] = None  # deleted here or by another session
picked = st.selectbox("Saved model", list(by_id), key=persist("models_pick", None), placeholder="Choose a saved model",
                      format_func=lambda i: f"{by_id[i].name} · {by_id[i].created[:10]} · {i}")
none = picked is None
c1, c2 = st.columns(2)
c1.button("Load", key="models_load", on_click=load_entry, args=(picked,), disabled=none, type="primary",
          help="Make it the current model on every page.")
c2.download_button("Download .keras", data=b"" if none else by_id[picked].keras_path.read_bytes(),
                   file_name="model.keras" if none else by_id[picked].download_name,
                   mime="application/octet-stream", key="models_download",
                   disabled=none, on_click="ignore")

c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
c1.text_input("New name", key=persist("models_new_name", ""), disabled=none, placeholder="e.g. mnist_lenet_10_epochs")
c2.button("Rename", key="models_rename", on_click=rename_entry, args=(picked,), disabled=none)
c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
c1.checkbox("Yes, delete this model for good", key=ephemeral("models_confirm_delete"), disabled=none)
c2.button("Delete", key="models_delete", on_click=delete_entry, args=(picked,), disabled=none)

st.subheader("Upload a model")
st.caption("A `.keras` file saved with Keras 3 (`model.save(\"name.keras\")`) whose input is an image, "
           "(height, width, 1 or 3), and whose output has one score per class. Files with Python code inside, "
           "such as Lambda or custom layers, are refused: loading them would run that code on the server.")
st.file_uploader("Model file (.keras)", key="models_upload", on_change=import_upload,
                 help="A Keras 3 model saved with model.save(\"name.keras\"). Other files are refused with the reason.")
last = ss.get("models_last_upload")
if last in by_id:
    st.button(f"Load {by_id[last].name}", key="models_load_upload", on_click=load_entry, args=(last,))

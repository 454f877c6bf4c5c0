"""Overview: what CNN Lab is, what is in view now, and a numbered path through the app."""

import streamlit as st

from core.data import DatasetError
from ui import uploads
from ui.dataset_cache import get_dataset
from ui.flash import flash, show_flashes
from ui.router import require_router
from ui.session import chosen_dataset_title, current_model, set_current_model, set_dataset
from ui.workspace import workspace
from ui.text import plain

require_router(__file__)

OWN_PHOTOS_SIZE = 64  # pixels a side: what the Data page's folder loader starts at, and the photo recipe's size


def _on_own_zip() -> None:
    """An uploaded zip of class folders becomes the dataset at once (the Data page can change its settings)."""
    imported = uploads.import_zip("home_zip")
    if imported is None:
        return
    filename, folder, report = imported
    options = {"path": str(folder), "image_size": OWN_PHOTOS_SIZE}
    try:
        dataset = get_dataset("folder", options)
    except DatasetError as exc:
        flash("error", f"{plain(filename)} was unpacked, but cannot be used as a dataset: {plain(exc, 600)}",
              slot="home_zip")
        return
    set_dataset("folder", options)
    st.session_state["data_name"], st.session_state["data_where"] = "folder", "zip"
    counts = ", ".join(f"{plain(name)} {n}" for name, n in dataset.class_counts("train").items())
    flash("success", f"**{plain(dataset.title)}** is now the dataset on every page: {len(dataset.x_train):,} training "
                     f"and {len(dataset.x_test):,} test images in {dataset.num_classes} classes ({counts}). "
                     "Next: train a network on them.", slot="home_zip")
    if report.small_classes:
        flash("warning", "Too few images to learn from in: " + ", ".join(plain(c) for c in report.small_classes)
                         + ". Add more on the Data page before training.", slot="home_zip")
    for warning in report.warnings:
        flash("warning", plain(warning, 600), slot="home_zip")


entry = current_model()
ws = workspace()
choice = ws.state.dataset

st.title("CNN Lab")
st.markdown(
    "See inside a convolutional neural network. A CNN looks at an image through small **filters** that slide "
    "over it; each filter answers *\"is my pattern here?\"* at every position, producing a **feature map**. "
    "Layers of filters build edges into corners, corners into shapes, shapes into a class."
)

# What is in view on every page: full names, never cut (a metric truncates long model names).
acc = entry.card.test_accuracy
tag = f" ({entry.origin or 'shipped'})" if entry.shipped else ""
with st.container(border=True):
    st.markdown(
        f":material/neurology: **Current model** {plain(entry.name)}{tag} · "
        f"trained on {plain(entry.card.dataset_title or 'an unknown dataset')} · "
        f"test accuracy {f'{acc:.1%}' if acc is not None else 'not measured'} · {entry.params:,} parameters  \n"
        f":material/photo_library: **Dataset** {plain(chosen_dataset_title())}"
    )

shipped = [e for e in ws.models.values() if e.shipped]
if len(shipped) > 1:
    st.markdown("**Ready-made models**: networks that already work, to look inside at once.")
    for col, ready in zip(st.columns(len(shipped)), shipped):
        with col, st.container(border=True):
            names = ready.class_names
            shown = ", ".join(plain(n) for n in names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
            score = ready.card.test_accuracy
            st.markdown(f"**{plain(ready.name)}**: {ready.knows} ({shown})")
            st.caption(f"Trained on {plain(ready.card.dataset_title or 'its dataset')} · input "
                       f"{ready.input_shape[0]}×{ready.input_shape[1]}×{ready.input_shape[2]} · {ready.params:,} "
                       f"parameters" + (f" · test accuracy {score:.1%}" if score is not None else ""))
            current = ready.id == entry.id
            st.button("In use" if current else "Use it", key=f"home_use_{ready.id}", disabled=current,
                      icon=":material/check:" if current else ":material/neurology:",
                      on_click=set_current_model, args=(ready.id,))

st.subheader("Start here")
mine = [e for e in ws.models.values() if not e.shipped]
trained = f" You have {len(mine)} model{'s' if len(mine) != 1 else ''} of your own." if mine else ""
steps = [
    ("1 · Data", "Pick the images: a built-in dataset, or your own photos (below).",
     [("pages/data.py", "Data: browse the images", ":material/photo_library:")]),
    ("2 · Train", "Build a CNN and watch it learn, live." + trained,
     [("pages/train.py", "Train: build and train", ":material/model_training:")]),
    ("3 · Look inside", "What it learned, what it sees, and the arithmetic of one output.",
     [("pages/filters.py", "Filters", ":material/filter:"), ("pages/activations.py", "Activations", ":material/layers:"),
      ("pages/arithmetic.py", "Step by step", ":material/calculate:"),
      ("pages/evaluation.py", "Evaluation", ":material/grid_on:"),
      ("pages/embedding.py", "Embedding map", ":material/scatter_plot:")]),
    ("4 · Predict", "Try your own picture: a photo, a webcam snapshot or a drawing, and how sure it may be.",
     [("pages/predict.py", "Predict: try a picture", ":material/image_search:")]),
]
for col, (title, text, links) in zip(st.columns(len(steps)), steps):
    with col, st.container(border=True, height="stretch"):
        st.markdown(f"**{title}**")
        st.caption(text)
        for page, label, icon in links:
            st.page_link(page, label=label, icon=icon)

st.subheader("Or start from your own pictures")
left, mid, right = st.columns(3)
with left, st.container(border=True):
    st.markdown("**Your photos, from a zip**")
    st.caption("One folder per class inside (cats/, dogs/ …). It becomes the dataset at once; then train.")
    st.file_uploader("A .zip of class folders", type=["zip"], key="home_zip", on_change=_on_own_zip)
    show_flashes("home_zip")
    if choice["name"] == "folder" and uploads.is_upload(choice["options"].get("path")):
        st.page_link("pages/train.py", label="Train on them", icon=":material/arrow_forward:")
with mid, st.container(border=True):
    st.markdown("**My classes, from the webcam**")
    st.caption("Make two or more classes from webcam snapshots or photos, train in seconds, then try it live.")
    st.page_link("pages/classes.py", label="Open My classes", icon=":material/photo_camera:")
with right, st.container(border=True):
    st.markdown("**Who am I? Face recognition**")
    st.caption("Enrol faces from the webcam; see detection, alignment and the CNN, and strangers come out unknown.")
    st.page_link("pages/faces.py", label="Open Who am I?", icon=":material/face:")

st.page_link("pages/models.py", label="Models: every model you trained, to load, rename, download or upload",
             icon=":material/inventory_2:")

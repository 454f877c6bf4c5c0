"""My classes: name your own classes, fill them with webcam snapshots or photos, train, try it."""

import dataclasses
import re
import time
from types import SimpleNamespace

import numpy as np
import streamlit as st

from core.data import DatasetError
from core.data.class_images import DEFAULT_IMAGE_SIZE, IMAGE_SIZES, TEST_FRACTION, dataset_options
from core.inspection.predict import class_probabilities, top_k
from core.training.small_data import MILD_AUGMENTATION, choose_config, choose_spec
from core.visuals.figures import probability_bar
from ui.class_editor import class_store, draw_add_class, draw_class, runs_folder
from ui.dataset_cache import get_dataset
from ui.job_progress import draw_job_progress
from ui.router import require_router
from ui.runs import is_running, owned_job, start_new_run, start_transfer_run
from ui.session import init_state
from ui.workspace import workspace
from ui.widget_memory import persist
from ui.widgets import image_input
from ui.text import plain
from ui.transfer_view import draw_start_point, transfer_problem

require_router(__file__)
init_state()

st.title("My classes")
st.caption("Teach a CNN your own classes: name them, show it a few examples of each with your webcam or your "
           "photos, and train. Objects, faces, hand signs: anything the camera can tell apart.")

store = class_store()
names = store.class_names()
for name in names:
    draw_class(store, name)
draw_add_class()

st.subheader("Train")
counts = store.counts()
problems = store.training_problems()
running = is_running()
ours = owned_job("classes")
st.markdown(" · ".join(f"{plain(name)}: **{n}**" for name, n in counts.items()) + f" · {sum(counts.values())} images in all")
for problem in problems:
    st.warning(problem, icon=":material/warning:")

n_train_guess = sum(n - max(1, round(n * TEST_FRACTION)) for n in counts.values())
auto = choose_config(max(1, n_train_guess), augment=False)
spec = choose_spec()
size = st.session_state.get("cls_size", DEFAULT_IMAGE_SIZE)
epochs = st.session_state.get("cls_epochs")
# what the run will train on, as far as the start point needs it (the images are read when Train is pressed)
shape = SimpleNamespace(input_shape=(size, size, 3), num_classes=max(2, len(names)))
transfer = draw_start_point(shape, epochs or auto.epochs, prefix="cls", fine_from=max(1, auto.epochs // 2),
                            scratch="Random weights (the Small CNN)", compact=True)
with st.expander("Settings"):
    c = st.columns(4)
    size = c[0].select_slider("Image size", IMAGE_SIZES, key=persist("cls_size", DEFAULT_IMAGE_SIZE),
                              help="Side of the square the CNN sees." + (
                                  " A backbone gets them resized to its own input inside the network."
                                  if transfer is not None else ""))
    epochs = c[1].number_input("Epochs", 1, 200, value=None, key=persist("cls_epochs", None),
                               placeholder=f"auto ({auto.epochs})",
                               help="Passes over your images. Empty: enough for about 100 training steps.")
    lr = c[2].select_slider("Learning rate", [1e-4, 3e-4, 1e-3, 3e-3, 1e-2], key=persist("cls_lr", 1e-3))
    augment = c[3].checkbox("Vary the images", key=persist("cls_augment", True),
                            help="Each batch sees your images a little turned, zoomed, shifted and lit differently "
                                 f"({', '.join(f'{k} {v:g}' for k, v in MILD_AUGMENTATION.items())}), so a few "
                                 "snapshots teach more.")
    model_text = ("the Small CNN preset (three conv blocks of 16, 32 and 32 filters, then dense 64)" if transfer is None
                  else "a new softmax layer on the backbone's features")
    st.caption(f"Model: {model_text} on {size}×{size} colour images, in batches of {auto.batch_size}; "
               f"{TEST_FRACTION:.0%} of every class is held out to test it.")
model_name = st.text_input("Model name", key=persist("cls_model_name", "my_classes"))

problem = transfer_problem(transfer, shape, int(epochs or auto.epochs)) if transfer is not None else None
reason = ("A training run is in progress." if running else " ".join(problems) if problems else problem)
if st.button("Train", type="primary", icon=":material/model_training:", key="cls_train", disabled=reason is not None,
             help=reason or ("Train a new model on these classes." if transfer is None else
                             "Train a new last layer on the backbone's features, on these classes.")):
    # Unchanged classes train on the copy made for the last run: the same dataset, so the runs are compared.
    last = st.session_state.get("cls_snapshot")
    if last is not None and last.parent == runs_folder() and store.matches(last):  # this workspace's own copy
        frozen = last
    else:
        slug = re.sub(r"[^A-Za-z0-9_-]+", "_", model_name.strip()).strip("_") or "my_classes"
        target = runs_folder() / f"{slug}-{time.strftime('%Y%m%d-%H%M%S')}"
        while target.exists():
            target = target.with_name(target.name + "x")
        frozen = store.snapshot(target)
        st.session_state["cls_snapshot"] = frozen
    try:
        dataset = get_dataset("folder", dataset_options(frozen, size))
    except DatasetError as exc:
        st.error(f"Your images could not be read: {exc}")
        st.stop()
    # A copy with a title people recognise (the loader's is "Folder: <snapshot folder>"); the arrays are shared.
    dataset = dataclasses.replace(dataset, title=f"My classes: {', '.join(names)}")
    config = choose_config(len(dataset.x_train), epochs=epochs, learning_rate=lr, augment=augment)
    if transfer is None:
        start_new_run(spec, dataset, config, model_name.strip() or "my_classes", owner="classes")
    else:
        start_transfer_run(transfer, dataset, config, model_name.strip() or "my_classes", owner="classes")
if reason:
    st.caption(f"Train is off: {reason}")


@st.fragment(run_every=1.0 if running and ours else None)
def show_progress():
    draw_job_progress("classes", "cls", "on the Train page", lambda job: (
        f"{plain(job.name)}: {job.result['test_accuracy']:.0%} of the held-out images right after "
        f"{job.result['epochs_done']} epochs ({job.result['train_seconds']:.0f} s). It is now the current "
        "model: its Filters, Activations and Predict pages show it, and it is saved on the Models page."))


show_progress()

# The model trained here last: the one this page's last finished run produced (kept in the workspace).
entry = workspace().page_model("classes")
if entry is None:
    st.stop()

st.subheader("Try it")
st.caption(f"Show {plain(entry.name)} something new and see what it thinks: "
           f"{', '.join(plain(c) for c in entry.class_names)}.")
left, right = st.columns(2)
with left:
    picked = image_input(entry, key="cls_try", sources=("camera", "upload"))
if picked is not None:
    image, caption, original = picked
    probs = class_probabilities(entry.model, image)
    best = int(np.argmax(probs))
    with right:
        c1, c2 = st.columns([2, 1])
        c1.metric("It sees", entry.class_names[best], f"{probs[best]:.0%} sure", delta_color="off", delta_arrow="off")
        if original is not None:
            c2.image(original, caption=caption, width="stretch")
        st.plotly_chart(probability_bar(probs, entry.class_names), key="cls_try_probs")
        st.caption(" · ".join(f"{plain(name)} {p:.0%}" for name, p in top_k(probs, entry.class_names, len(probs))))

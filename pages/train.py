"""Train: pick or design an architecture, set hyperparameters, watch it learn."""

import json

import pandas as pd
import streamlit as st

from core.datasets import DatasetError
from core.figures import training_curves
from core.jobs import QUEUE, TrainingJob, copy_model
from core.models import ACTIVATIONS, POOLINGS, ConvBlock, ModelSpec, ModelSpecError, adaptation_notes, build_model, layer_table
from core.augment import Augmentation
from core.presets import PRESETS
from core.recipes import recipe_for, recipe_promise, recipe_validation_split
from core.training import (BATCH_SIZES, FEW_UPDATES, FOCUS, LABEL_SMOOTHING, LEARNING_RATES, OPTIMIZERS, SCHEDULES,
                           TrainConfig, epoch_steps, steps_per_epoch, validation_size)
from ui import state
from ui.augment_view import current_augmentation, set_augmentation
from ui.evolution import show_evolution

state.require_router(__file__)

state.init_state()
st.title("Train")
st.caption("Training shows the network thousands of labelled images. After each small batch it nudges every "
           "weight a little in the direction that lowers the loss, the measure of how wrong it was.")

try:
    dataset = state.current_dataset()
except DatasetError as exc:
    st.error(f"The chosen dataset cannot be loaded: {exc}")
    st.stop()
st.markdown(f"Training on **{dataset.title}**: {len(dataset.x_train):,} training images of "
            f"{dataset.input_shape[0]}×{dataset.input_shape[1]}×{dataset.input_shape[2]}, "
            f"{dataset.num_classes} classes. Change it on the Data page.")


def focus_label(share: float) -> str:
    return f"hardest {share:.0%}" if share else "off"


def apply_recipe(recipe) -> None:
    state.set_widget_values({"train_preset": recipe.preset, "train_custom": False, "train_epochs": recipe.epochs,
                             "train_batch": recipe.batch_size, "train_lr": recipe.learning_rate,
                             "train_optimizer": recipe.optimizer, "train_val": recipe_validation_split(recipe, dataset),
                             "train_schedule": recipe.schedule, "train_augment": True,
                             "train_smoothing": recipe.label_smoothing, "train_focus": recipe.focus})
    state.reset_widgets(["train_name"])  # back to its default, the dataset and the recipe's preset
    set_augmentation(Augmentation.from_dict(recipe.augmentation))


recipe = recipe_for(dataset)
if recipe is not None:
    with st.container(border=True):
        extra = Augmentation.from_dict(recipe.augmentation)
        st.markdown(f"**Fast recipe: {recipe.title}.** {PRESETS[recipe.preset].title}, {recipe.epochs} epochs of "
                    f"batch {recipe.batch_size}, learning rate {recipe.learning_rate:g} with warm-up and cosine decay"
                    + (f", augmentation: {extra.describe()}" if extra.active else "")
                    + (f", label smoothing {recipe.label_smoothing:g}" if recipe.label_smoothing else "")
                    + (f", hard-image focus {recipe.focus:.0%}" if recipe.focus else "")
                    + ". " + recipe_promise(recipe, dataset))
        st.button("Use the fast recipe", key="train_recipe", on_click=apply_recipe, args=(recipe,),
                  help="Fills in the architecture and hyperparameters below (and the Data page's augmentation). "
                       "Press Train afterwards.")


@st.cache_data(max_entries=32, show_spinner=False)
def describe(spec_json: str, input_shape: tuple, num_classes: int):
    spec = ModelSpec.from_dict(json.loads(spec_json))
    model = build_model(spec, input_shape, num_classes)
    return layer_table(model), adaptation_notes(spec, model), int(model.count_params())



BLOCK_COLUMNS = {
    "filters": st.column_config.NumberColumn("filters", min_value=1, max_value=256, step=1, required=True),
    "kernel_size": st.column_config.NumberColumn("kernel", min_value=1, max_value=11, step=1, required=True),
    "convs": st.column_config.NumberColumn("convs", min_value=1, max_value=4, step=1, required=True),
    "activation": st.column_config.SelectboxColumn("activation", options=list(ACTIVATIONS), required=True),
    "padding": st.column_config.SelectboxColumn("padding", options=["same", "valid"], required=True),
    "batch_norm": st.column_config.CheckboxColumn("batch norm"),
    "pooling": st.column_config.SelectboxColumn("pooling", options=list(POOLINGS), required=True),
    "pool_size": st.column_config.NumberColumn("pool", min_value=2, max_value=4, step=1, required=True),
    "dropout": st.column_config.NumberColumn("dropout", min_value=0.0, max_value=0.9, step=0.05, required=True),
}

st.subheader("Architecture")
preset_key = st.selectbox("Preset", list(PRESETS), key="train_preset", format_func=lambda k: PRESETS[k].title)
preset = PRESETS[preset_key]
st.caption(f"{preset.description} Source: {preset.source}.")
spec = preset.spec()
if st.toggle("Edit the architecture", key="train_custom"):
    blocks = st.data_editor(pd.DataFrame([vars(b) for b in spec.blocks]), num_rows="dynamic", hide_index=True,
                            column_config=BLOCK_COLUMNS, key=f"train_blocks_{preset_key}")
    dense_text = st.text_input("Hidden dense layers (units, comma separated)", ", ".join(map(str, spec.dense_units)),
                               key=f"train_dense_{preset_key}")
    try:
        rows = blocks.dropna().to_dict("records")
        spec = ModelSpec(
            name=f"{preset_key}_custom",
            blocks=[ConvBlock(int(r["filters"]), int(r["kernel_size"]), int(r["convs"]), r["activation"], r["padding"],
                              bool(r["batch_norm"]), r["pooling"], int(r["pool_size"]), float(r["dropout"])) for r in rows],
            dense_units=[int(u) for u in dense_text.replace(" ", "").split(",") if u],
            dense_activation=spec.dense_activation, dense_dropout=spec.dense_dropout, flatten_dropout=spec.flatten_dropout,
        )
    except (ValueError, TypeError) as exc:
        st.error(f"The architecture table has an invalid value: {exc}")
        st.stop()

try:
    table, notes, params = describe(json.dumps(spec.to_dict()), dataset.input_shape, dataset.num_classes)
except (ModelSpecError, ValueError) as exc:
    st.error(f"This architecture cannot be built for {dataset.title}: {exc}")
    st.stop()
st.dataframe(pd.DataFrame(table), hide_index=True, key="train_layers")
st.caption(f"{params:,} trainable parameters. " + " ".join(notes))

st.subheader("Hyperparameters")
c = st.columns(6)
# Defaults through session state, so values kept across pages need no second default.
for _key, _default in {"train_epochs": 5, "train_batch": 64, "train_lr": 1e-3, "train_val": 0.1, "train_seed": 0}.items():
    st.session_state.setdefault(_key, _default)
epochs = c[0].number_input("Epochs", 1, 200, key="train_epochs")
batch_size = c[1].select_slider("Batch size", BATCH_SIZES, key="train_batch")
lr = c[2].select_slider("Learning rate", LEARNING_RATES, key="train_lr")
optimizer = c[3].selectbox("Optimizer", OPTIMIZERS, key="train_optimizer")
val_split = c[4].slider("Validation share", 0.0, 0.5, step=0.05, key="train_val")
seed = c[5].number_input("Seed", 0, 10_000, key="train_seed")
c1, c3, c4, c2 = st.columns([2, 1, 1, 2])
st.session_state.setdefault("train_schedule", "constant")
schedule = c1.radio("Learning rate over the run", SCHEDULES, horizontal=True, key="train_schedule",
                    format_func={"constant": "constant", "cosine": "warm up, then cosine decay"}.get,
                    help="Cosine: start low for a few batches, then lower the rate smoothly to 0 by the last batch. "
                         "Short runs usually end more accurate this way.")
st.session_state.setdefault("train_smoothing", 0.0)
smoothing = c3.select_slider("Label smoothing", LABEL_SMOOTHING, key="train_smoothing",
                             help="Train towards 90% on the true class and the other 10% shared by all classes "
                                  "(at 0.1) instead of 100% and 0: the network stays less sure of itself and "
                                  "often generalises better. 0 is plain cross-entropy.")
st.session_state.setdefault("train_focus", 0.0)
focus = c4.select_slider("Hard-image focus", FOCUS, key="train_focus", format_func=focus_label,
                         help="After the first 2 epochs of every image, each epoch trains on this share of the "
                              "images whose loss was highest when last seen, plus a random tenth of the others, so "
                              "that an image forgotten comes back. Images the network already gets right add "
                              "almost nothing, so the epochs get shorter: on Fashion-MNIST's 60,000 images the "
                              "hardest 50% kept the accuracy in under two-thirds of the time. On a few hundred photos "
                              "there is less to skip. Off: every epoch trains on every image.")
augmentation = current_augmentation()
st.session_state.setdefault("train_augment", True)
use_augmentation = c2.toggle(f"Augment training images: {augmentation.describe()}", key="train_augment",
                             disabled=not augmentation.active,
                             help="Set on the Data page, where a preview shows what the network will see.")
use_augmentation = use_augmentation and augmentation.active
default_name, ss = f"{dataset.name}_{spec.name}", st.session_state
if ss.get("train_name") in (None, ss.get("train_name_default")):  # not typed by hand: follow the preset and dataset
    ss["train_name"] = default_name
ss["train_name_default"] = default_name
name = st.text_input("Model name", key="train_name")


def config_from_inputs() -> TrainConfig:
    return TrainConfig(epochs=int(epochs), batch_size=int(batch_size), learning_rate=float(lr), optimizer=optimizer,
                       validation_split=float(val_split), seed=int(seed), schedule=schedule,
                       label_smoothing=float(smoothing), focus=float(focus),
                       augmentation=augmentation.to_dict() if use_augmentation else None)


updates_per_epoch = steps_per_epoch(len(dataset.x_train), float(val_split), int(batch_size))
n_train = len(dataset.x_train) - validation_size(len(dataset.x_train), float(val_split))
updates = sum(epoch_steps(n_train, config_from_inputs()))
if updates < FEW_UPDATES:
    st.info(f"This run changes the weights only {updates} times ({updates_per_epoch} "
            f"batch{'es' if updates_per_epoch > 1 else ''} an epoch × {int(epochs)} epochs"
            + (", fewer after the first 2 with hard-image focus" if updates < updates_per_epoch * int(epochs) else "")
            + "): too few for most "
            "networks to learn much. Train for more epochs or pick a smaller batch.")

job = st.session_state.get("job")
running = job is not None and not job.finished
current = state.current_model()
fits = current.input_shape == dataset.input_shape and len(current.class_names) == dataset.num_classes
c1, c2 = st.columns([1, 3])
train_clicked = c1.button("Train", type="primary", disabled=running, key="train_start",
                          help="A run is in progress; stop it or wait." if running else "Train the architecture above from scratch.")
continue_name = current.metadata.get("name", current.id)
continue_clicked = c2.button(
    f"Continue training {continue_name} for {int(epochs)} more epochs", disabled=running or not fits, key="train_continue",
    help=("A run is in progress." if running else
          f"{continue_name} does not fit {dataset.title} (input or classes differ)." if not fits else
          "Start from the current model's weights; the current model itself is left as it is."))


if train_clicked:
    model = build_model(spec, dataset.input_shape, dataset.num_classes, seed=int(seed))
    st.session_state["job"] = TrainingJob(model, dataset, config_from_inputs(), name=name.strip() or spec.name,
                                          spec=spec.to_dict(), probe=dataset.x_test[0]).start()
    st.rerun()
if continue_clicked:
    parent = {**current.metadata, "id": current.id}
    total = (parent.get("epochs_total") or parent.get("epochs_done") or 0) + int(epochs)
    st.session_state["job"] = TrainingJob(copy_model(current.model), dataset, config_from_inputs(),
                                          name=f"{continue_name.split('@')[0]}@{total}ep", spec=current.metadata.get("spec"),
                                          parent=parent, probe=dataset.x_test[0]).start()
    st.rerun()


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "—"
    return f"{int(s // 60)}:{int(s % 60):02d}"


# How often the run's panel is redrawn while it trains. Each redraw costs the browser more than the
# server: on a 2-core machine with the browser on it too, a small run that trains in 10 s unwatched
# took 33 to 66 s with the panel redrawn every second, 14 s with it every 2 s and the curves every 4 s.
PROGRESS_EVERY_S = 2.0
CURVES_EVERY_S = 4.0


@st.fragment(run_every=PROGRESS_EVERY_S if running else None)
def show_progress():
    job = st.session_state.get("job")
    if job is None:
        st.info("Press **Train** to start. Progress and live curves appear here.")
        return
    snap = job.snapshot()
    st.subheader(f"Run: {job.name}")
    if snap.state == "queued":
        st.info(f"Waiting for a free training slot: position {snap.queue_position or 1} in the queue "
                f"({QUEUE.running} of {QUEUE.limit} slots busy).")
    batch_text = f", batch {snap.batch}/{snap.steps}" if snap.steps else ""
    sizes, epoch = job.epoch_images, min(snap.epoch, snap.epochs - 1)
    if sizes and sizes[epoch] < max(sizes):
        batch_text += f" · hard-image focus: {sizes[epoch]:,} of {max(sizes):,} images this epoch"
    st.progress(snap.fraction, text=f"{snap.state} · epoch {min(snap.epoch + 1, snap.epochs)}/{snap.epochs}{batch_text}")
    m = st.columns(5)
    m[0].metric("Elapsed", fmt_seconds(snap.elapsed))
    m[1].metric("ETA", fmt_seconds(snap.eta))
    m[2].metric("Images/s", f"{snap.images_per_second:,.0f}")
    last = snap.epoch_log[-1] if snap.epoch_log else {}
    m[3].metric("Val. accuracy", f"{last['val_accuracy']:.1%}" if "val_accuracy" in last else "—")
    m[4].metric("Learning rate", f"{snap.learning_rate:.2g}")

    live = not job.finished
    c = st.columns([1, 1, 2, 1])
    if snap.state == "paused":
        c[0].button("Resume", key="train_resume", on_click=job.resume, type="primary")
    else:
        c[0].button("Pause", key="train_pause", on_click=job.pause, disabled=snap.state != "running",
                    help="Hold training after this batch; the model stays in memory.")
    c[1].button("Stop", key="train_stop", on_click=job.stop, disabled=not live,
                help="Stop after this batch; the model keeps its weights and becomes usable at once.")
    new_lr = c[2].select_slider("New learning rate", LEARNING_RATES, value=_nearest(snap.learning_rate),
                                key="train_new_lr", disabled=not live)
    c[3].button("Apply", key="train_apply_lr", disabled=not live or new_lr == snap.learning_rate,
                on_click=job.set_learning_rate, args=(new_lr,), help="Use this learning rate from the next batch on.")
    if job.finished and job.result and st.session_state.get("job_consumed") != job.id:
        state.collect_finished_job()
        st.rerun(scope="app")  # the curves, the result and the sidebar with the finished model


@st.fragment(run_every=CURVES_EVERY_S if running else None)
def show_curves():
    job = st.session_state.get("job")
    if job is None:
        return
    snap = job.snapshot()
    cols = st.columns(2)
    cols[0].plotly_chart(training_curves(snap.batch_log, snap.epoch_log, "loss", lr_log=snap.lr_log), key="train_loss_chart")
    cols[1].plotly_chart(training_curves(snap.batch_log, snap.epoch_log, "accuracy", lr_log=snap.lr_log),
                         key="train_acc_chart")
    if snap.state == "failed":
        st.error(f"Training failed: {snap.error}")
    elif job.finished and job.result:
        st.success(f"{job.name}: test accuracy {job.result['test_accuracy']:.1%} after "
                   f"{job.result['epochs_done']} epochs ({job.result['train_seconds']:.1f} s). "
                   "It is now the current model: look at its Filters and Activations. "
                   "It is also saved on the Models page.")
        if job.metadata.get("registry_error"):
            st.warning(job.metadata["registry_error"])
    if job.snapshots:
        st.markdown("**How the first layer learned**: drag the slider to replay the filters and the feature maps "
                    "of one test image, from the random start to the last epoch.")
        show_evolution(list(job.snapshots), key="train_evo", probe=job.probe)


def _nearest(value: float) -> float:
    return min(LEARNING_RATES, key=lambda v: abs(v - value))


show_progress()
show_curves()

"""Train: pick or design an architecture, set hyperparameters, watch it learn."""

import streamlit as st

from core.settings import limits

from core.data import DatasetError
from core.data.augment import Augmentation
from core.models.presets import PRESETS
from core.training.config import (
    BATCH_SIZES,
    FEW_UPDATES,
    FOCUS,
    LABEL_SMOOTHING,
    LEARNING_RATES,
    OPTIMIZERS,
    SCHEDULES,
    WEIGHT_DECAYS,
    TrainConfig,
    epoch_steps,
    suggested_run,
    steps_per_epoch,
    validation_size,
)
from core.training.recipes import recipe_for, recipe_promise, recipe_validation_split
from ui.architecture_editor import draw_architecture, over_limits
from ui.augment_view import current_augmentation, set_augmentation
from ui.router import require_router
from ui.runs import is_running, start_continue_run, start_new_run, start_transfer_run
from ui.session import current_dataset, current_model, init_state
from ui.train_panel import draw_run_panel
from ui.transfer_view import draw_start_point, transfer_problem
from ui.widget_memory import follow_default, persist, reset_widgets, set_widget_values

require_router(__file__)

init_state()
st.title("Train")
st.caption("Training shows the network thousands of labelled images. After each small batch it nudges every "
           "weight a little in the direction that lowers the loss, the measure of how wrong it was.")

try:
    dataset = current_dataset()
except DatasetError as exc:
    st.error(f"The chosen dataset cannot be loaded: {exc}")
    st.stop()
if len(dataset.x_test) == 0:  # a run measures itself on test images and shows one of them as it learns
    st.error(f"{dataset.title} has no test images to measure a model with. Give every class at least 2 images "
             "(one is kept for testing), then load it again on the Data page.")
    st.stop()
st.markdown(f"Training on **{dataset.title}**: {len(dataset.x_train):,} training images of "
            f"{dataset.input_shape[0]}×{dataset.input_shape[1]}×{dataset.input_shape[2]}, "
            f"{dataset.num_classes} classes. Change it on the Data page.")


def focus_label(share: float) -> str:
    return f"hardest {share:.0%}" if share else "off"


def apply_recipe(recipe) -> None:
    set_widget_values({"train_start_from": "scratch", "train_preset": recipe.preset, "train_custom": False,
                       "train_epochs": recipe.epochs,
                       "train_batch": recipe.batch_size, "train_lr": recipe.learning_rate,
                       "train_optimizer": recipe.optimizer, "train_val": recipe_validation_split(recipe, dataset),
                       "train_schedule": recipe.schedule, "train_augment": True,
                       "train_smoothing": recipe.label_smoothing, "train_focus": recipe.focus,
                       "train_decay": recipe.weight_decay})
    reset_widgets(["train_name"])  # back to its default, the dataset and the recipe's preset
    set_augmentation(Augmentation.from_dict(recipe.augmentation))


recipe = recipe_for(dataset)
if recipe is not None:
    with st.container(border=True):
        extra = Augmentation.from_dict(recipe.augmentation)
        st.markdown(f"**Fast recipe: {recipe.title}.** {PRESETS[recipe.preset].title}, {recipe.epochs} epochs of "
                    f"batch {recipe.batch_size}, learning rate {recipe.learning_rate:g} with warm-up and cosine decay"
                    + (f", augmentation: {extra.describe()}" if extra.active else "")
                    + (f", label smoothing {recipe.label_smoothing:g}" if recipe.label_smoothing else "")
                    + (f", weight decay {recipe.weight_decay:g}" if recipe.weight_decay else "")
                    + (f", hard-image focus {recipe.focus:.0%}" if recipe.focus else "")
                    + ". " + recipe_promise(recipe, dataset))
        st.button("Use the fast recipe", key="train_recipe", on_click=apply_recipe, args=(recipe,),
                  help="Fills in the architecture and hyperparameters below (and the Data page's augmentation). "
                       "Press Train afterwards.")

st.subheader("Architecture")
transfer = draw_start_point(dataset, st.session_state.get("train_epochs"))
spec = draw_architecture(dataset) if transfer is None else None

st.subheader("Hyperparameters")
c = st.columns(6)
defaults = TrainConfig()
# Epochs and batch follow the dataset's size until chosen by hand, so a run starts with enough weight updates.
suggested = suggested_run(len(dataset.x_train), float(st.session_state.get("train_val", defaults.validation_split)))
follow_default({"train_epochs": suggested[0], "train_batch": suggested[1]})
epochs = c[0].number_input("Epochs", 1, 200, key=persist("train_epochs", defaults.epochs))
batch_size = c[1].select_slider("Batch size", BATCH_SIZES, key=persist("train_batch", defaults.batch_size))
lr = c[2].select_slider("Learning rate", LEARNING_RATES, key=persist("train_lr", defaults.learning_rate))
optimizer = c[3].selectbox("Optimizer", OPTIMIZERS, key=persist("train_optimizer", defaults.optimizer))
val_split = c[4].slider("Validation share", 0.0, 0.5, step=0.05, key=persist("train_val", defaults.validation_split))
seed = c[5].number_input("Seed", 0, 10_000, key=persist("train_seed", defaults.seed))
c1, c3, c5, c4, c2 = st.columns([2, 1, 1, 1, 2])
schedule = c1.radio("Learning rate over the run", SCHEDULES, horizontal=True,
                    key=persist("train_schedule", defaults.schedule),
                    format_func={"constant": "constant", "cosine": "warm up, then cosine decay"}.get,
                    help="Cosine: start low for a few batches, then lower the rate smoothly to 0 by the last batch. "
                         "Short runs usually end more accurate this way.")
smoothing = c3.select_slider("Label smoothing", LABEL_SMOOTHING, key=persist("train_smoothing", defaults.label_smoothing),
                             help="Train towards 90% on the true class and the other 10% shared by all classes "
                                  "(at 0.1) instead of 100% and 0: the network stays less sure of itself and "
                                  "often generalises better. 0 is plain cross-entropy.")
decay = c5.select_slider("Weight decay", WEIGHT_DECAYS, key=persist("train_decay", defaults.weight_decay),
                         format_func=lambda v: f"{v:g}" if v else "off",
                         help="After every step, shrink each weight by learning rate × this share: large weights "
                              "cost something, so the network keeps only those the data asks for.")
focus = c4.select_slider("Hard-image focus", FOCUS, key=persist("train_focus", defaults.focus), format_func=focus_label,
                         help="After the first 2 epochs of every image, each epoch trains on this share of the "
                              "images whose loss was highest when last seen, plus a random tenth of the others, so "
                              "that an image forgotten comes back. Images the network already gets right add "
                              "almost nothing, so the epochs get shorter: on Fashion-MNIST's 60,000 images the "
                              "hardest 50% kept the accuracy in under two-thirds of the time. On a few hundred photos "
                              "there is less to skip. Off: every epoch trains on every image.")
augmentation = current_augmentation()
use_augmentation = c2.toggle(f"Augment training images: {augmentation.describe()}", key=persist("train_augment", True),
                             disabled=not augmentation.active,
                             help="Set on the Data page's Augmentation tab, where a preview shows what the network will see.")
use_augmentation = use_augmentation and augmentation.active
default_name = f"{dataset.name}_{spec.name if spec is not None else 'on_' + transfer.backbone}"
follow_default({"train_name": default_name})  # not typed by hand: follow the preset and dataset
name = st.text_input("Model name", key=persist("train_name", default_name), max_chars=limits().max_name_length)


def config_from_inputs() -> TrainConfig:
    return TrainConfig(epochs=int(epochs), batch_size=int(batch_size), learning_rate=float(lr), optimizer=optimizer,
                       validation_split=float(val_split), seed=int(seed), schedule=schedule,
                       label_smoothing=float(smoothing), focus=float(focus), weight_decay=float(decay),
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

running = is_running()
current = current_model()
fits = current.input_shape == dataset.input_shape and len(current.class_names) == dataset.num_classes
c1, c2 = st.columns([1, 3])
too_big = over_limits(spec, dataset) if spec is not None else transfer_problem(transfer, dataset, int(epochs))
train_clicked = c1.button("Train", type="primary", disabled=running or too_big is not None, key="train_start",
                          help="A run is in progress; stop it or wait." if running else
                          too_big or ("Train the architecture above from scratch." if spec is not None else
                                      "Train a new last layer on the backbone's features."))
continue_name = current.name
continue_clicked = c2.button(
    f"Continue training {continue_name} for {int(epochs)} more epochs", disabled=running or not fits, key="train_continue",
    help=("A run is in progress." if running else
          f"{continue_name} does not fit {dataset.title} (input or classes differ)." if not fits else
          "Start from the current model's weights; the current model itself is left as it is."))


if train_clicked and spec is not None:
    start_new_run(spec, dataset, config_from_inputs(), name.strip() or spec.name, owner="train")
elif train_clicked:
    start_transfer_run(transfer, dataset, config_from_inputs(), name.strip() or default_name, owner="train")
if continue_clicked:
    start_continue_run(current, dataset, config_from_inputs(), owner="train")

draw_run_panel(running)

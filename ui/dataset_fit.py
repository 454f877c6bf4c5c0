"""Which test images a model is shown on: the chosen dataset when the model was made for it, else its own.

A model is never scored or explained on a dataset it was not made for: the same image shape and
the same classes (``core.storage.checks.made_for``). Every page that shows a model with data
draws ``context_bar`` at its top, so the user always sees which model and which dataset it shows,
and why, with a button to put model and dataset back in step when they differ.

An ImageNet network was made for no dataset here: most pages show it photos, but Evaluation and
Embedding show it the chosen dataset, resized, through the names of its classes (``network_bar``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st

from core.data import DATASETS, Dataset, DatasetError
from core.storage.checks import made_for

from .dataset_cache import get_dataset
from .model_entry import ModelEntry
from .session import current_dataset, set_current_model, set_dataset
from .text import plain


@dataclass
class Pairing:
    """A model and the dataset a page shows it with."""

    entry: ModelEntry
    dataset: Dataset | None  # the test images shown with the model; None when none fits
    chosen: Dataset | None  # the dataset chosen on the Data page (None when it cannot be loaded)
    problems: list[str] = field(default_factory=list)  # why the chosen dataset is not the one shown

    @property
    def own(self) -> bool:
        """True when the page shows the model's own dataset instead of the chosen one."""
        return self.dataset is not None and self.dataset is not self.chosen


def fits(entry: ModelEntry, dataset: Dataset) -> list[str]:
    """Why ``entry`` was not made for ``dataset`` (empty when it was)."""
    return made_for(entry.card.class_names, len(entry.class_names), entry.input_shape, dataset)


def model_dataset(entry: ModelEntry) -> Dataset | None:
    """The dataset a model was trained on, or None when it cannot be loaded here or no longer matches it."""
    ref = entry.card.dataset
    if ref is None or ref.name not in DATASETS:
        return None
    try:
        ds = get_dataset(ref.name, ref.options)
    except (DatasetError, OSError):
        return None
    return ds if not fits(entry, ds) else None


def pairing(entry: ModelEntry) -> Pairing:
    """The chosen dataset when ``entry`` was made for it, else the model's own dataset, else none (with why)."""
    try:
        chosen = current_dataset()
    except DatasetError:
        chosen = None
    problems = fits(entry, chosen) if chosen is not None else ["The dataset chosen on the Data page cannot be loaded."]
    if not problems:
        return Pairing(entry, chosen, chosen)
    return Pairing(entry, model_dataset(entry), chosen, problems)


def _label(entry: ModelEntry) -> str:
    return f"{plain(entry.name)} ({entry.origin or 'shipped'})" if entry.shipped else plain(entry.name)


def is_imagenet(entry: ModelEntry) -> bool:
    """True for an ImageNet network (``ui.networks``): its card's dataset is ImageNet, which no dataset here is."""
    ref = entry.card.dataset
    return ref is not None and ref.name == "imagenet"


NETWORK_USE = "scored through the mapping of their class names to ImageNet's classes"


def network_bar(entry: ModelEntry, *, use: str = NETWORK_USE) -> Dataset | None:
    """Evaluation and Embedding with an ImageNet network: the dataset chosen on the Data page, whatever its images.

    The caption says how the network sees them: resized to 224×224 (grey ones made colour) and ``use``,
    what the page does with their labels. None, with a warning, when the dataset cannot be loaded.
    """
    try:
        chosen = current_dataset()
    except DatasetError as exc:
        st.warning(f":material/neurology: Model **{_label(entry)}**: the dataset chosen on the Data page cannot be "
                   f"loaded ({plain(str(exc), 300)}).")
        return None
    height, width, channels = chosen.input_shape
    colour = ", grey made colour" if channels == 1 else ""
    sharper = (" (a larger input size on the Data page keeps more detail)"
               if max(height, width) < entry.input_shape[0] else "")
    st.caption(f":material/neurology: Model **{_label(entry)}**, trained on ImageNet · :material/photo_library: Test "
               f"images **{plain(chosen.title)}**, resized from {height}×{width} to "
               f"{entry.input_shape[0]}×{entry.input_shape[1]}{colour}{sharper}, {use}.")
    return chosen


def context_bar(entry: ModelEntry, *, key: str, network_use: str | None = None) -> Dataset | None:
    """One line at the top of a page: which model, which test images, and what to do when they differ.

    Returns the test images to show ``entry`` with (``pairing``), or None when none fit. An ImageNet
    network gets None too, unless the page can show it any dataset (``network_use``: what it does with
    the labels, for ``network_bar``'s caption).
    """
    ref = entry.card.dataset
    if is_imagenet(entry):
        if network_use is not None:
            return network_bar(entry, use=network_use)
        # No dataset of the app's is ImageNet's: a network is shown sample photos, the user's own, or the webcam's.
        st.caption(f":material/neurology: Model **{_label(entry)}**, trained on {plain(ref.title)}: it knows 1,000 "
                   "kinds of things. Try it on the sample photos, a photo of yours or the webcam; Evaluation and "
                   "Embedding show it the dataset chosen on the Data page, its class names matched to ImageNet's.")
        return None
    p = pairing(entry)
    chosen_title = p.chosen.title if p.chosen is not None else "the chosen dataset"
    if p.dataset is not None and not p.own:
        st.caption(f":material/neurology: Model **{_label(p.entry)}** · :material/photo_library: Test images "
                   f"**{plain(p.dataset.title)}**")
        return p.dataset
    if p.dataset is not None:
        st.info(f":material/neurology: Model **{_label(p.entry)}** · :material/photo_library: Test images "
                f"**{plain(p.dataset.title)}**, the dataset it was trained on, not {plain(chosen_title)} chosen on the Data "
                f"page: {plain(' '.join(p.problems), 600)}")
        st.button(f"Choose {p.dataset.title} on every page", key=f"{key}_use_own", on_click=set_dataset,
                  args=(p.dataset.name, p.dataset.options), icon=":material/sync:")
        return p.dataset
    ref = p.entry.card.dataset
    why = (" It was trained on the faces enrolled on Who am I?: try it there, or on Predict with a photo."
           if p.entry.card.is_face_model or (ref is not None and ref.name == "faces") else
           f" The dataset it was trained on, {plain(ref.title)}, cannot be loaded here." if ref is not None else "")
    st.warning(f":material/neurology: Model **{_label(p.entry)}** was not made for {plain(chosen_title)}: "
               f"{plain(' '.join(p.problems), 600)}{why} Its test images are not shown, so nothing here is scored on "
               "images it does not know.")
    others = [e for e in st.session_state["models"].values() if p.chosen is not None and not fits(e, p.chosen)]
    for e, col in zip(others[:3], st.columns(3)):
        col.button(f"Use {_label(e)}", key=f"{key}_use_{e.id}", on_click=set_current_model, args=(e.id,),
                   help=f"A model made for {chosen_title}.")
    return None


def require_dataset(entry: ModelEntry, key: str, network_use: str | None = None) -> Dataset:
    """The test images to show ``entry`` with, after the context bar; the page run ends when there are none."""
    dataset = context_bar(entry, key=key, network_use=network_use)
    if dataset is None:
        st.stop()
    return dataset

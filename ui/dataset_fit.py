"""Which dataset a model can be shown on: its own, else the chosen one when it fits."""

from __future__ import annotations

import streamlit as st

from core.data import DATASETS, Dataset, DatasetError

from .dataset_cache import get_dataset
from .model_entry import ModelEntry
from .session import current_dataset


def model_dataset(entry: ModelEntry) -> Dataset | None:
    """The dataset a model was trained on, or None when it cannot be loaded here."""
    ref = entry.card.dataset
    if ref is None or ref.name not in DATASETS:
        return None
    try:
        ds = get_dataset(ref.name, ref.options)
    except DatasetError:
        return None
    return ds if ds.input_shape == entry.input_shape else None


def dataset_for(entry: ModelEntry) -> Dataset | None:
    """The model's own dataset, else the chosen dataset when the model fits it, else None."""
    own = model_dataset(entry)
    if own is not None:
        return own
    try:
        chosen = current_dataset()
    except DatasetError:
        return None
    fits = chosen.input_shape == entry.input_shape and chosen.num_classes == len(entry.class_names)
    return chosen if fits else None


def require_dataset(entry: ModelEntry) -> Dataset:
    """``dataset_for(entry)``, or a message and the end of the page run when no dataset fits."""
    dataset = dataset_for(entry)
    if dataset is None:
        st.info(f"No test images fit {entry.name} (input {entry.input_shape}, "
                f"{len(entry.class_names)} classes). Choose a dataset it fits on the Data page.")
        st.stop()
    return dataset

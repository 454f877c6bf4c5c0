"""A browser session's own state: its models, the current model and dataset, its training run.

Every page calls ``init_state`` first (directly or through ``current_model``), so the session's
keys exist and kept widget values are back even when a page runs without the router (AppTest
after ``switch_page``).
"""

from __future__ import annotations

import json

import streamlit as st

from core.data import DEFAULT_DATASET, Dataset
from core.storage.card import ModelCard

from .dataset_cache import get_dataset
from .model_entry import ModelEntry
from .shipped import SHIPPED_ID, loaded_shipped_model, shipped_card, shipped_model
from .widget_memory import restore_widgets


def init_state() -> None:
    """Create every session key this app uses, once per session, and restore kept widget values."""
    restore_widgets()
    ss = st.session_state
    ss.setdefault("models", {})
    ss.setdefault("current_model", None)
    ss.setdefault("dataset", {"name": DEFAULT_DATASET, "options": {}})
    ss.setdefault("job", None)
    ss.setdefault("job_owner", None)  # the page that started the job: "train", "classes" or "faces"
    ss.setdefault("job_consumed", None)  # id of the last job whose end this session has handled
    if SHIPPED_ID not in ss["models"]:
        ss["models"][SHIPPED_ID] = ModelEntry(SHIPPED_ID, loaded_shipped_model(), shipped_card(), shipped=True,
                                              loader=shipped_model)
    if ss["current_model"] not in ss["models"]:
        ss["current_model"] = SHIPPED_ID
    collect_finished_job()


def current_model() -> ModelEntry:
    init_state()
    return st.session_state["models"][st.session_state["current_model"]]


def current_dataset() -> Dataset:
    """The dataset chosen on the Data page (raises DatasetError if it cannot be loaded)."""
    init_state()
    choice = st.session_state["dataset"]
    return get_dataset(choice["name"], choice["options"])


def add_model(model, card: ModelCard, make_current: bool = True, evolution: list | None = None,
              probe=None) -> ModelEntry:
    """Register a model trained or loaded in this session (visible to this session only)."""
    models = st.session_state["models"]
    base = card.name or "model"
    model_id, n = f"session:{base}", 1
    while model_id in models:
        n += 1
        model_id = f"session:{base}-{n}"
    entry = ModelEntry(model_id, model, card, evolution=evolution, probe=probe)
    models[model_id] = entry
    if make_current:
        st.session_state["current_model"] = model_id
    return entry


def awaits_collection(job) -> bool:
    """True once ``job`` has ended and its model has not yet joined the session's models (or been discarded)."""
    return job is not None and job.finished and st.session_state.get("job_consumed") != job.id


def discard_job(job) -> None:
    """Make sure ``job``'s model never joins the session's models (its faces were deleted meanwhile)."""
    st.session_state["job_consumed"] = job.id


def collect_finished_job() -> None:
    """Once a training job ends (done or stopped), its model joins the session's models.

    The job then records the id of that entry (``job.model_id``). The model is also kept in the
    models folder, unless its card says ``private`` (a model of faces enrolled in this session
    is written to disk only when the user saves it).
    """
    ss = st.session_state
    job = ss.get("job")
    if not awaits_collection(job):
        return
    discard_job(job)  # handled now: whatever follows, not twice
    if job.card is not None:
        entry = add_model(job.model, job.card, evolution=list(job.snapshots), probe=job.probe)
        job.model_id = entry.id
        if not job.card.private:
            save_to_registry(entry, replay=(list(job.snapshots), job.probe))


def save_to_registry(entry: ModelEntry, replay: tuple | None = None) -> None:
    """Keep a model in the models folder; the entry records its id there, or why it failed (never raised)."""
    from core.storage.registry import ModelRegistry

    try:
        entry.saved_id = ModelRegistry().save(entry.model, entry.card, replay=replay).id
        entry.save_error = None
    except OSError as exc:
        entry.save_error = f"Could not save it to the models folder: {exc}"


def model_key(entry: ModelEntry) -> str:
    """A hashable key that changes whenever the entry's model object does (for st.cache_data)."""
    return f"{entry.id}:{id(entry.model)}"


def dataset_key(dataset: Dataset) -> str:
    """A key naming the dataset's arrays, for ``st.cache_data`` (whose ``_dataset`` arguments are not hashed)."""
    return json.dumps([dataset.name, dataset.options, len(dataset.x_train), len(dataset.x_test)], sort_keys=True)


def produced_model(job) -> ModelEntry | None:
    """The session's entry for the model a finished job produced, if it joined the session's models."""
    return st.session_state["models"].get(job.model_id) if job is not None and job.model_id else None

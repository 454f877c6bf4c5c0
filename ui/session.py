"""A browser session's view of its user's workspace: the models, the current model and dataset, the run.

Every page calls ``init_state`` first (directly or through ``current_model``), so the session's
keys exist and kept widget values are back even when a page runs without the router (AppTest
after ``switch_page``).
"""

from __future__ import annotations

import json
import time

import streamlit as st

from core.data import DATASETS, Dataset
from core.data.folder import folder_title
from core.storage.card import ModelCard

from .dataset_cache import get_dataset
from .model_entry import ModelEntry
from .widget_memory import reset_widgets, restore_widgets
from .workspace import workspace


# The Data page's choices, which start from the dataset in use (pages/data.py)
DATA_WIDGETS = ("data_name", "data_source", "data_folder", "data_where", "data_path", "data_zip_pick", "data_size",
                "data_channels", "data_split", "data_k", "data_shared", "data_shared_official")
NOTICE_SECONDS = 300  # a tab opened later than this after a run ended is not told of it (the sidebar shows the model)


def init_state() -> None:
    """Bind this session to its user's workspace, once per run, and restore kept widget values.

    The session's keys mirror the workspace (``ui.workspace``): ``models``, ``current_model``,
    ``dataset``, ``job`` and ``job_owner`` are read from it at the start of every run, so a
    refreshed tab, a second tab or another page sees the same work. Change them through
    ``set_current_model``, ``set_dataset`` and ``add_model``, which write the workspace.
    """
    restore_widgets()
    ss = st.session_state
    ws = workspace()
    if ws.private_models:  # classroom mode: a workspace nobody opens any more is deleted after a while
        ws.store.mark_visit()
    ws.restore()
    ss["models"] = ws.models
    ss["current_model"] = ws.current
    ss["dataset"] = dict(ws.state.dataset)
    if ss.get("_dataset_seen") not in (None, ss["dataset"]):
        # chosen in another tab: the Data page's widgets start again from the dataset in use, so that
        # this tab's old choice is not loaded back by its next visit there
        reset_widgets(DATA_WIDGETS)
    ss["_dataset_seen"] = ss["dataset"]
    ss["job"], ss["job_owner"] = ws.job, ws.job_owner
    if ws.job is not None:
        ws.job.touch()  # a tab of its user is open: the run is not orphaned (core.training.run_limits)


def current_model() -> ModelEntry:
    init_state()
    return st.session_state["models"][st.session_state["current_model"]]


def current_dataset() -> Dataset:
    """The dataset chosen on the Data page (raises DatasetError if it cannot be loaded)."""
    init_state()
    choice = st.session_state["dataset"]
    return get_dataset(choice["name"], choice["options"])


def chosen_dataset_title() -> str:
    """The chosen dataset's title without loading it (a folder is named as its loader names it)."""
    choice = st.session_state["dataset"]
    if choice["name"] == "folder":
        return folder_title(choice["options"].get("path") or "?")
    info = DATASETS.get(choice["name"])
    return info.title if info else choice["name"]


def set_current_model(model_id: str) -> None:
    """Make ``model_id`` the current model of every page (and every tab of this user)."""
    ws = workspace()
    ws.set_current(model_id)
    st.session_state["current_model"] = ws.current


def set_dataset(name: str, options: dict | None = None) -> None:
    """Choose the dataset every page shows (and every tab of this user, after a refresh too)."""
    ws = workspace()
    ws.set_dataset({"name": name, "options": dict(options or {})})
    st.session_state["dataset"] = st.session_state["_dataset_seen"] = dict(ws.state.dataset)


def add_model(model, card: ModelCard, make_current: bool = True, evolution: list | None = None,
              probe=None, saved_id: str | None = None) -> ModelEntry:
    """Add a model trained or loaded by this user to their workspace's models."""
    ws = workspace()
    entry = ws.add_model(model, card, evolution=evolution, probe=probe, saved_id=saved_id)
    st.session_state["models"] = ws.models
    if make_current:
        set_current_model(entry.id)
    return entry


def remove_model(model_id: str) -> None:
    """Drop a model of this user's workspace (the shipped model stays); the shipped one becomes current if it was."""
    ws = workspace()
    ws.remove_model(model_id)
    st.session_state["models"], st.session_state["current_model"] = ws.models, ws.current


def end_unseen(job) -> bool:
    """True once ``job`` has ended and this session has not redrawn its pages since (the model list changed)."""
    return job is not None and job.finished and st.session_state.get("job_end_seen") != job.id


def mark_end_seen(job) -> None:
    st.session_state["job_end_seen"] = job.id


def show_notices() -> None:
    """Tell this session, once each, what happened in the workspace outside it (a run ended, a model vanished)."""
    seen = st.session_state.setdefault("notices_seen", set())
    for notice in list(workspace().notices):
        if notice.id not in seen and time.time() - notice.time < NOTICE_SECONDS:
            seen.add(notice.id)
            st.toast(notice.text, icon=":material/info:" if notice.kind != "success" else ":material/check_circle:")


def model_key(entry: ModelEntry) -> str:
    """A hashable key that changes whenever the entry's model object does (for st.cache_data)."""
    return f"{entry.id}:{id(entry.model)}"


def dataset_key(dataset: Dataset) -> str:
    """A key naming the dataset's arrays, for ``st.cache_data`` (whose ``_dataset`` arguments are not hashed)."""
    return json.dumps([dataset.name, dataset.options, len(dataset.x_train), len(dataset.x_test)], sort_keys=True)


def produced_model(job) -> ModelEntry | None:
    """The session's entry for the model a finished job produced, if it joined the session's models."""
    return st.session_state["models"].get(job.model_id) if job is not None and job.model_id else None

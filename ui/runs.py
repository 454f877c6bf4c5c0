"""Starting a training run from a page: the one way the Train, My classes and Who am I? pages do it.

A user has one run at a time, kept in their workspace (``ui.workspace``) so a refreshed or second
tab finds it; the page that started it is its owner, so that page shows its progress panel and the
others say where it was started. The run saves its model itself when it ends.
"""

from __future__ import annotations

import streamlit as st

from core.training.config import TrainConfig
from core.training.jobs import TrainingJob, continue_run, new_run

from .model_entry import ModelEntry
from .workspace import workspace


def start_new_run(spec, dataset, config: TrainConfig, name: str, owner: str, **job_options) -> TrainingJob:
    """Train ``spec``'s network from random weights on ``dataset``; the page reruns with its panel."""
    ws = workspace()
    return _adopt(ws, new_run(spec, dataset, config, name, on_end=ws.run_hook(owner), **job_options), owner)


def start_continue_run(entry: ModelEntry, dataset, config: TrainConfig, owner: str) -> TrainingJob:
    """Train a copy of ``entry``'s model further on ``dataset``; the entry itself is left as it is."""
    ws = workspace()
    return _adopt(ws, continue_run(entry.model, entry.card, entry.id, dataset, config, on_end=ws.run_hook(owner)),
                  owner)


def _adopt(ws, job: TrainingJob, owner: str) -> TrainingJob:
    ws.adopt(job, owner)
    st.session_state["job"], st.session_state["job_owner"] = job, owner
    st.rerun()
    return job  # not reached: st.rerun ends the run


def session_job() -> TrainingJob | None:
    """The workspace's run, finished or not (None before the first): every tab of the user sees it."""
    return st.session_state.get("job")


def owned_job(owner: str) -> TrainingJob | None:
    """This session's run when ``owner`` started it, else None."""
    job = session_job()
    return job if job is not None and st.session_state.get("job_owner") == owner else None


def is_running() -> bool:
    job = session_job()
    return job is not None and not job.finished

"""Starting a training run from a page: the one way the Train, My classes and Who am I? pages do it.

A user has one run at a time, kept in their workspace (``ui.workspace``) so a refreshed or second
tab finds it; the page that started it is its owner, so that page shows its progress panel and the
others say where it was started. The run saves its model itself when it ends.

The pages grey out Train while a run goes on; in classroom mode the job itself refuses a second
run of the same user (``core.training.user_jobs``), which a page drawn before the first one
started could still ask for: the page then says which run is in the way and how to stop it.
"""

from __future__ import annotations

import streamlit as st

from core.models.architecture import ModelSpecError

from core.training.config import TrainConfig
from core.training.jobs import TrainingJob
from core.training.launch import continue_run, new_run, transfer_run
from core.training.user_jobs import JobLimitError

from .model_entry import ModelEntry
from .workspace import workspace
from .text import plain


# The pages that start runs, as their titles say
RUN_PAGES = {"train": "Train", "classes": "My classes", "faces": "Who am I?"}
STATUS_EVERY_S = 4.0  # the sidebar's training status while a run goes on
IDLE_STATUS_EVERY_S = 60.0  # and otherwise: a tab open on any page still tells its user's run it is there


def start_new_run(spec, dataset, config: TrainConfig, name: str, owner: str, **job_options) -> TrainingJob | None:
    """Train ``spec``'s network from random weights on ``dataset``; the page reruns with its panel.

    Returns None, with an error on the page, when the user may not start another run now.
    """
    ws = workspace()
    try:
        job = new_run(spec, dataset, config, name, on_end=ws.run_hook(owner), user=ws.store.user, **job_options)
    except JobLimitError as exc:
        st.error(refusal_text(exc, ws.job, ws.job_owner), icon=":material/block:")
        return None
    except ModelSpecError as exc:  # over a size limit of the server (a teacher may have lowered one)
        st.error(f"Not started: {exc}", icon=":material/block:")
        return None
    return _adopt(ws, job, owner)


def start_transfer_run(choice, dataset, config: TrainConfig, name: str, owner: str,
                       **job_options) -> TrainingJob | None:
    """Train a new head on a backbone's frozen features (``ui.transfer_view.TransferChoice``), fine-tuning later
    when the choice says so; ``job_options`` as for ``start_new_run`` (``private``, ``face_margin``)."""
    from dataclasses import replace

    from core.models.backbones import BackboneError

    ws = workspace()
    config = replace(config, fine_tune_blocks=choice.fine_tune_blocks,
                     fine_tune_from=choice.fine_tune_from if choice.fine_tune_blocks else 0)
    try:
        job = transfer_run(choice.backbone, dataset, config, name, grey_to_colour=choice.grey_to_colour,
                           on_end=ws.run_hook(owner), user=ws.store.user, **job_options)
    except JobLimitError as exc:
        st.error(refusal_text(exc, ws.job, ws.job_owner), icon=":material/block:")
        return None
    except (BackboneError, ValueError) as exc:
        st.error(f"Not started: {plain(exc, 600)}", icon=":material/block:")
        return None
    return _adopt(ws, job, owner)


def start_continue_run(entry: ModelEntry, dataset, config: TrainConfig, owner: str) -> TrainingJob | None:
    """Train a copy of ``entry``'s model further on ``dataset``; the entry itself is left as it is."""
    ws = workspace()
    try:
        job = continue_run(entry.model, entry.card, entry.id, dataset, config, on_end=ws.run_hook(owner),
                           user=ws.store.user)
    except JobLimitError as exc:
        st.error(refusal_text(exc, ws.job, ws.job_owner), icon=":material/block:")
        return None
    return _adopt(ws, job, owner)


def refusal_text(exc: JobLimitError, workspace_job=None, workspace_owner: str | None = None) -> str:
    """Why a run was not started, naming the run in the way, where it was started and how to stop it."""
    job = exc.running[-1]
    page = RUN_PAGES.get(workspace_owner or "") if job is workspace_job else None
    where = f"on the {page} page" if page else "in another tab"
    share = "one training run at a time" if exc.limit == 1 else f"{exc.limit} training runs at a time"
    return (f"Not started: on this server each person has {share}, and **{plain(job.name)}** is {_doing(job)} "
            f"(started {where}). Stop it with its **Stop** button {f'on the {page} page' if page else 'there'} "
            "(the model it has learned so far is kept), or wait for it to end, then start this one.")


def _doing(job) -> str:
    return {"queued": "waiting for a training slot", "paused": "paused"}.get(job.state, "training")


def touch_job() -> None:
    """Tell the workspace's run that a tab of its user is open (``TrainingJob.touch``), from any page."""
    job = workspace().job
    if job is not None:
        job.touch()


def status_every() -> float:
    """How often the sidebar's training status (``ui.sidebar``) is redrawn, and so tells the run its user is here."""
    return STATUS_EVERY_S if is_running() else IDLE_STATUS_EVERY_S


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

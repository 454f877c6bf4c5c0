"""The progress panel of a training run a page started itself (My classes, Who am I?).

The page keeps the ``st.fragment`` that polls it; this draws one poll: progress bar,
training accuracy, training time, Stop, the live curve, and once the run ends its
result (the run has saved its model itself by then) and why it ended early if it did
(``draw_stop_reason``, which the Train page's panel shows too).
"""

from __future__ import annotations

from typing import Callable

import streamlit as st

from core.training.run_limits import OUT_OF_MEMORY, USER
from core.visuals.figures import training_curves

from .runs import owned_job, session_job
from .session import end_unseen, mark_end_seen, produced_model
from .text import plain


def draw_job_progress(owner: str, prefix: str, elsewhere: str, done_message: Callable[[object], str]) -> None:
    """One poll of the run the page ``owner`` started.

    Args:
        owner: the page's name as given to ``ui.runs.start_new_run``.
        prefix: prefix of the panel's widget keys (``{prefix}_stop``, ``{prefix}_curve``).
        elsewhere: where another running job was started, for the note shown instead.
        done_message: the success text for a finished job.
    """
    job = owned_job(owner)
    if job is None:
        other = session_job()
        if other is not None and not other.finished:
            st.info(f"{plain(other.name)} is training (started {elsewhere}); wait for it or stop it there.")
        return
    snap = job.snapshot()
    text = (f"waiting for a free training slot, position {snap.queue_position or 1}" if snap.state == "queued" else
            f"{snap.state} · epoch {min(snap.epoch + 1, snap.epochs)}/{snap.epochs}")
    st.progress(snap.fraction, text=f"{job.name}: {text}")
    draw_stop_reason(job)
    c = st.columns([1, 1, 1, 3])
    last = snap.batch_log[-1] if snap.batch_log else {}
    c[0].metric("Training accuracy", f"{last['accuracy']:.0%}" if "accuracy" in last else "—")
    c[1].metric("Training time", f"{snap.elapsed:.0f} s")
    c[2].button("Stop", key=f"{prefix}_stop", on_click=job.stop, disabled=job.finished,
                help="Stop after this batch; the model keeps what it learned so far.")
    c[3].plotly_chart(training_curves(snap.batch_log, snap.epoch_log, "accuracy"), key=f"{prefix}_curve")
    if snap.state == "failed":
        st.error(f"Training failed: {snap.error}")
    elif job.finished and job.result:
        st.success(done_message(job))
        entry = produced_model(job)
        if entry is not None and entry.save_error:
            st.warning(entry.save_error)
        if end_unseen(job):
            mark_end_seen(job)
            st.rerun(scope="app")


def draw_stop_reason(job) -> None:
    """Why ``job`` ended before its last epoch, in plain words, once it has ended (nothing otherwise).

    A run that failed says so in its own error; this is for the runs that ended with a model, or
    none, because of the Stop button, a limit of the server or a lack of memory.
    """
    reason = job.stop_reason
    if reason is None or job.state != "stopped":
        return
    kind = job.stop_kind
    if kind == OUT_OF_MEMORY:
        st.error(reason, icon=":material/memory:")
    elif kind == USER:
        st.info(reason, icon=":material/stop_circle:")
    else:
        st.warning(reason, icon=":material/timer_off:")

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
    other = comparison(job)
    c[3].plotly_chart(training_curves(snap.batch_log, snap.epoch_log, "accuracy", compare=other), key=f"{prefix}_curve")
    if other is not None:
        c[3].caption(f"Dotted: **{other[0]}**, trained on the same images, for comparison.")
    if snap.state == "failed":
        st.error(f"Training failed: {snap.error}")
    elif job.finished and job.result:
        st.success(done_message(job))
        line = comparison_line(job)
        if line is not None:
            st.markdown(line)
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


def compared_model(job):
    """The latest model of the other kind on the job's data, ``(label, entry)``: trained from random weights for
    a run that starts from a backbone, and the other way round. None when there is none."""
    from core.storage.card import DatasetRef

    ref = DatasetRef.from_json_value(job.dataset.reference())
    transfer = "transfer" in job.card_extra
    mine = produced_model(job)
    for entry in reversed(list(st.session_state["models"].values())):
        card = entry.card
        if entry.shipped or entry is mine or card.dataset is None or not card.history.get("loss"):
            continue
        if (card.dataset.name, card.dataset.options) != (ref.name, ref.options):
            continue
        other = card.extra.get("transfer") if isinstance(card.extra, dict) else None
        if (other is not None) != transfer:
            label = (f"{plain(entry.name)}, from {other.get('title', 'a backbone')}" if other is not None
                     else f"{plain(entry.name)}, from random weights")
            return label, entry
    return None


def comparison(job) -> tuple[str, dict] | None:
    """``compared_model``'s label and per-epoch history, as ``training_curves`` draws them dotted."""
    found = compared_model(job)
    return None if found is None else (found[0], found[1].card.history)


def comparison_line(job) -> str | None:
    """A finished run's held-out accuracy beside the compared model's, in Markdown; None without both."""
    found = compared_model(job)
    if found is None or not job.result or job.result.get("test_accuracy") is None:
        return None
    label, entry = found
    theirs = entry.card.metrics.test_accuracy
    if theirs is None:
        return None
    start = ("from " + job.card_extra["transfer"]["title"] if "transfer" in job.card_extra
             else "from random weights")
    return (f"Held-out images right: **{job.result['test_accuracy']:.0%}** for this run, {start}; "
            f"**{theirs:.0%}** for {label}.")

"""The Train page's run panel: progress, controls (pause, stop, learning rate), live curves and the replay."""

from __future__ import annotations

import streamlit as st

from core.settings import human_time, limits
from core.training.config import LEARNING_RATES
from core.training.queue import QUEUE
from core.visuals.figures import training_curves

from .evolution import show_evolution
from .job_progress import comparison, draw_stop_reason
from .runs import RUN_PAGES, owned_job, session_job
from .session import end_unseen, mark_end_seen, produced_model
from .widget_memory import ephemeral
from .text import plain

# How often the run's panel is redrawn while it trains. Each redraw costs the browser more than the
# server: on a 2-core machine with the browser on it too, a small run that trains in 10 s unwatched
# took 33 to 66 s with the panel redrawn every second, 14 s with it every 2 s and the curves every 4 s.
PROGRESS_EVERY_S = 2.0
CURVES_EVERY_S = 4.0


def draw_run_panel(running: bool) -> None:
    """The panel of this session's run; polled while ``running``."""
    st.fragment(_progress, run_every=PROGRESS_EVERY_S if running else None)()
    st.fragment(_curves, run_every=CURVES_EVERY_S if running else None)()


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "—"
    return f"{int(s // 60)}:{int(s % 60):02d}"


def run_time(result: dict) -> str:
    """A finished run's training time as the panel's metric shows it, and its pauses if it had any."""
    text = f"{fmt_seconds(result['train_seconds'])} of training"
    paused = result.get("paused_seconds") or 0.0
    return text + (f", paused for {fmt_seconds(paused)}" if paused >= 1 else "")


def _nearest(value: float) -> float:
    return min(LEARNING_RATES, key=lambda v: abs(v - value))


def _progress() -> None:
    job = owned_job("train")  # the Train page's own run; another page's is only named
    if job is None:
        other = session_job()
        if other is not None and not other.finished:
            page = RUN_PAGES.get(st.session_state.get("job_owner"), "another")
            st.info(f"**{plain(other.name)}** is training, started on the {page} page; one run at a time. "
                    "Wait for it or stop it there.")
        else:
            st.info("Press **Train** to start. Progress and live curves appear here.")
        return
    snap = job.snapshot()
    st.subheader(f"Run: {plain(job.name)}")
    if snap.state == "queued":
        st.info(f"Waiting for a free training slot: position {snap.queue_position or 1} in the queue "
                f"({QUEUE.running} of {QUEUE.limit} slots busy).")
    batch_text = f", batch {snap.batch}/{snap.steps}" if snap.steps else ""
    sizes, epoch = job.epoch_images, min(snap.epoch, snap.epochs - 1)
    if sizes and sizes[epoch] < max(sizes):
        batch_text += f" · hard-image focus: {sizes[epoch]:,} of {max(sizes):,} images this epoch"
    st.progress(snap.fraction, text=f"{snap.state} · epoch {min(snap.epoch + 1, snap.epochs)}/{snap.epochs}{batch_text}")
    remaining = job.paused_remaining
    if snap.state == "paused" and remaining is not None:
        st.info(f"Paused: the training slot goes to the next run meanwhile. Resume within {human_time(remaining)}, "
                "or the run stops by itself (the model it has learned so far is kept).", icon=":material/pause_circle:")
    draw_stop_reason(job)
    m = st.columns(5)
    m[0].metric("Training time", fmt_seconds(snap.elapsed),
                help=f"Time spent training; pauses are not counted. On this server a run stops by itself after "
                     f"{human_time(limits().job_max_time)}, pauses included.")
    m[1].metric("ETA", fmt_seconds(snap.eta))
    m[2].metric("Images/s", f"{snap.images_per_second:,.0f}")
    last = snap.epoch_log[-1] if snap.epoch_log else {}
    m[3].metric("Val. accuracy", f"{last['val_accuracy']:.1%}" if "val_accuracy" in last else "—")
    m[4].metric("Learning rate", f"{snap.learning_rate:.2g}")
    if snap.paused_seconds >= 1:
        st.caption(f"Paused for {fmt_seconds(snap.paused_seconds)} in all: not counted in the training time.")

    live = not job.finished
    c = st.columns([1, 1, 2, 1])
    if snap.state == "paused":
        c[0].button("Resume", key="train_resume", on_click=job.resume, type="primary")
    else:
        c[0].button("Pause", key="train_pause", on_click=job.pause, disabled=snap.state != "running",
                    help="Hold training after this batch; the model stays in memory.")
    c[1].button("Stop", key="train_stop", on_click=job.stop, disabled=not live,
                help="Stop after this batch; the model keeps its weights and becomes usable at once.")
    # starts on the rate in use (or the one applied and waiting for its batch) at every redraw:
    # a choice not applied is not kept
    chosen = snap.pending_learning_rate or snap.learning_rate
    new_lr = c[2].select_slider("New learning rate", LEARNING_RATES, value=_nearest(chosen),
                                key=ephemeral("train_new_lr"), disabled=not live)
    c[3].button("Apply", key="train_apply_lr", disabled=not live or new_lr == chosen,
                on_click=job.set_learning_rate, args=(new_lr,), help="Use this learning rate from the next batch on.")
    if live and snap.pending_learning_rate is not None:
        when = "when training resumes" if snap.state == "paused" else "from the next batch"
        st.info(f"New learning rate {snap.pending_learning_rate:g} takes effect {when}: "
                "the curves then mark the change with a dashed line.", icon=":material/schedule:")
    if end_unseen(job):
        mark_end_seen(job)
        st.rerun(scope="app")  # the curves, the result and the sidebar with the finished model


def _curves() -> None:
    job = owned_job("train")
    if job is None:
        return
    snap = job.snapshot()
    other = comparison(job)
    cols = st.columns(2)
    cols[0].plotly_chart(training_curves(snap.batch_log, snap.epoch_log, "loss", lr_log=snap.lr_log, compare=other),
                         key="train_loss_chart")
    cols[1].plotly_chart(training_curves(snap.batch_log, snap.epoch_log, "accuracy", lr_log=snap.lr_log,
                                         compare=other), key="train_acc_chart")
    transfer = "transfer" in job.card_extra
    if other is not None:
        st.caption(f"Dotted: **{other[0]}**, trained on the same images, for comparison.")
    elif transfer:
        st.caption("Train the same images from random weights too (Start from: random weights) to see both runs "
                   "in these charts.")
    if snap.state == "failed":
        st.error(f"Training failed: {snap.error}")
    elif job.finished and job.result:
        entry = produced_model(job)
        saved = " It is also saved on the Models page." if entry is not None and entry.saved_id else ""
        st.success(f"{plain(job.name)}: test accuracy {job.result['test_accuracy']:.1%} after "
                   f"{job.result['epochs_done']} epochs ({run_time(job.result)}). "
                   "It is now the current model: look at its Filters and Activations." + saved)
        if entry is not None and entry.save_error:
            st.warning(entry.save_error)
    if job.snapshots:
        st.markdown("**How the first layer learned**: drag the slider to replay the filters and the feature maps "
                    "of one test image, from the random start to the last epoch.")
        show_evolution(list(job.snapshots), key="train_evo", probe=job.probe)

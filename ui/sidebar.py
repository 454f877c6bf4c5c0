"""The sidebar every page shares: dataset, model and training status."""

from __future__ import annotations

import streamlit as st

from .identity import identify, share_link
from .runs import session_job, status_every, touch_job
from .session import chosen_dataset_title, end_unseen, init_state, mark_end_seen, set_current_model, show_notices
from .widget_memory import ephemeral
from .text import plain


def draw_sidebar() -> None:
    init_state()
    ss = st.session_state
    with st.sidebar:
        st.markdown(f"**Dataset** · {chosen_dataset_title()}")

        models = ss["models"]
        ids = list(models)
        # The current model can change elsewhere (a finished training job): show it.
        ss["sidebar_model"] = ss["current_model"]
        st.selectbox("Model", ids, key=ephemeral("sidebar_model"), format_func=lambda i: models[i].label,
                     on_change=_on_model_change)
        entry = models[ss["current_model"]]
        acc = entry.card.test_accuracy
        ds_title = entry.card.dataset_title or "unknown dataset"
        st.caption(f"Trained on {ds_title} · input {entry.input_shape[0]}×{entry.input_shape[1]}×{entry.input_shape[2]} · "
                   f"{entry.params:,} parameters")
        if acc is not None:
            st.metric("Test accuracy", f"{acc:.1%}")

        training_status()
        your_link()
    show_notices()


def your_link() -> None:
    """Classroom mode with private links: the address that brings the user back to their work."""
    who = identify()
    link = share_link(who)
    if link is None:
        return
    if who.new and not st.session_state.get("identity_link_told"):
        st.session_state["identity_link_told"] = True
        st.toast("A private workspace was made for you: bookmark this page to come back to your work.",
                 icon=":material/bookmark:")
    with st.expander("Your private link", icon=":material/key:", expanded=who.new):
        st.caption("Bookmark it: it is the only way back to your models and photos on this server. Anyone who has "
                   "it can open them, so keep it to yourself." + (" You are the teacher." if who.teacher else ""))
        st.code(link, language=None)


def training_status() -> None:
    """The job's status, refreshed every four seconds while it runs, on whatever page is open."""

    @st.fragment(run_every=status_every())
    def status():
        touch_job()  # every tab open on any page keeps its user's run from being stopped as orphaned
        job = session_job()
        if job is None:
            st.caption("Training: idle")
            return
        snap = job.snapshot()
        if snap.state == "queued":
            st.caption(f"Training **{plain(job.name)}**: waiting, position {snap.queue_position or 1} in the queue")
        elif snap.state in ("running", "paused"):
            st.caption(f"Training **{plain(job.name)}**: {snap.state}, epoch {snap.epoch + 1}/{snap.epochs}")
            st.progress(snap.fraction)
        elif snap.state == "failed":
            st.caption(f"Training {plain(job.name)} failed: {plain(snap.error, 300)}")
        else:
            st.caption(f"Training {plain(job.name)}: {snap.state}")
            if end_unseen(job):
                mark_end_seen(job)
                st.rerun(scope="app")  # the finished model is in the model list: draw the pages again

    status()


def _on_model_change() -> None:
    set_current_model(st.session_state["sidebar_model"])

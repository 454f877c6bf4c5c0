"""The router guard: every page runs behind ``app.py`` (router and sidebar), never alone."""

from __future__ import annotations

from pathlib import Path

import streamlit as st


def require_router(page_file: str) -> None:
    """Make sure ``app.py`` (router and sidebar) runs before this page.

    Streamlit treats a folder named ``pages/`` beside the main script as a
    legacy multipage app until ``st.navigation`` has run once in the process.
    So on a freshly started server, a first request straight to ``/train``
    runs ``pages/train.py`` alone, without the router. That request is sent
    through ``app.py``, which then switches to the page asked for.
    """
    if "_routed" not in st.session_state:
        st.session_state["_pending_page"] = f"pages/{Path(page_file).name}"
        st.switch_page("app.py")


def mark_routed() -> None:
    """Called by ``app.py`` on every run: pages checked by ``require_router`` may run."""
    st.session_state["_routed"] = True


def take_pending_page() -> str | None:
    """The page a first request asked for before it was sent through ``app.py`` (once), else None."""
    return st.session_state.pop("_pending_page", None)

"""Messages that must survive a rerun: said in a widget callback, shown once where the page draws them.

A callback runs before the page is drawn again, so what it has to say (a model loaded, a photo
refused, a zip imported) is queued under a slot name and shown by the page, in its place:

    flash("success", "Loaded shapes_cnn.", slot="models")      # in the callback
    show_flashes("models")                                       # where the page wants it

Each message is shown once. Slots keep different panels apart (``"classes:3f2a"`` is one class's panel).
"""

from __future__ import annotations

import streamlit as st

_QUEUE = "_flashes"  # slot -> [(kind, text), ...]
KINDS = ("success", "info", "warning", "error")


def flash(kind: str, text: str, slot: str) -> None:
    """Queue ``text`` for ``slot``; ``kind`` is one of ``KINDS`` (how ``st`` draws it)."""
    if kind not in KINDS:
        raise ValueError(f"Expected a message kind in {KINDS}. Received: {kind!r}")
    st.session_state.setdefault(_QUEUE, {}).setdefault(slot, []).append((kind, text))


def drop_flashes(slot: str, kind: str) -> None:
    """Forget the slot's queued messages of one kind (a batch then says it in one line)."""
    queue = st.session_state.setdefault(_QUEUE, {})
    queue[slot] = [m for m in queue.get(slot, []) if m[0] != kind]


def show_flashes(slot: str) -> None:
    """Draw the slot's queued messages, oldest first, and forget them."""
    for kind, text in st.session_state.get(_QUEUE, {}).pop(slot, []):
        getattr(st, kind)(text)

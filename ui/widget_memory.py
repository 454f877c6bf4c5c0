"""Widget memory: a widget's value survives moving to another page and back.

Streamlit forgets a widget's value when a run does not draw it, so every choice would be
reset by a visit to another page. A widget declares at its creation which it is:

    st.slider("Epochs", 1, 200, key=persist("train_epochs", 5))   # kept, starting at 5
    st.checkbox("Yes, delete it", key=ephemeral("models_confirm_delete"))  # starts afresh

``persist`` registers the key with its default in a plain session dict; ``restore_widgets``
(called at the start of every run, by ``ui.session.init_state``) copies each registered
widget's value into that dict while the widget exists, and puts it back when Streamlit has
dropped it. There is no list of keys to keep in step: a widget that is drawn once is
remembered from then on. ``tests/app/test_widget_memory.py`` walks every page and checks
that every widget is declared one way or the other, and that each persistent one survives.

Pass no ``value=`` to a declared widget (its value comes from the session state), except
``value=None`` where a number input may be left empty.
"""

from __future__ import annotations

from typing import Any, Iterable

import streamlit as st

_MEMORY = "_widget_memory"  # key -> last value of every persistent widget of this session
_EPHEMERAL = "_widget_ephemeral"  # keys of widgets declared not to persist (read by the page-walk test)


def _memory() -> dict:
    return st.session_state.setdefault(_MEMORY, {})


def persist(key: str, default: Any = None) -> str:
    """Declare the widget ``key`` as one whose value survives page changes, starting at ``default``.

    Returns ``key``, for the widget's ``key=`` argument.
    """
    ss, memory = st.session_state, _memory()
    # Assigned even when unchanged: a value set through the session state is sent to the browser with the
    # widget. Otherwise the browser keeps its own copy, and a copy it lost (leaving the page just after a
    # run's end redrew the app) came back as the widget's first option: the Data page showed Shapes, and
    # the next click loaded it.
    ss[key] = ss[key] if key in ss else memory.get(key, default)
    memory[key] = ss[key]
    return key


def ephemeral(key: str) -> str:
    """Declare the widget ``key`` as one that starts afresh on every visit (a confirmation, a value
    the page sets itself from other state). Returns ``key``."""
    st.session_state.setdefault(_EPHEMERAL, set()).add(key)
    return key


def restore_widgets() -> None:
    """Keep the values of the persistent widgets drawn so far, and put back those Streamlit dropped."""
    ss, memory = st.session_state, _memory()
    for key in memory:
        if key in ss:
            memory[key] = ss[key]
        else:
            ss[key] = memory[key]


def set_widget_values(values: dict) -> None:
    """Set widgets' values as if chosen by hand (call from a widget callback); kept across pages too."""
    ss, memory = st.session_state, _memory()
    for key, value in values.items():
        ss[key] = memory[key] = value


def reset_widgets(keys: Iterable[str]) -> None:
    """Put widgets back to the defaults they declare (call from a widget callback)."""
    ss, memory = st.session_state, _memory()
    for key in keys:
        ss.pop(key, None)
        memory.pop(key, None)


def follow_default(values: dict) -> None:
    """Widgets whose defaults depend on other choices (the dataset): each takes its new default
    while its value is still the default it was last given, i.e. not chosen by hand. Call before
    the widgets are drawn."""
    ss, memory = st.session_state, _memory()
    for key, value in values.items():
        if ss.get(key, memory.get(key)) in (None, ss.get(f"_default_{key}")):
            ss[key] = memory[key] = value
        ss[f"_default_{key}"] = value


def is_persistent(key: str) -> bool:
    return key in _memory()


def is_ephemeral(key: str) -> bool:
    return key in st.session_state.get(_EPHEMERAL, set())

"""Every widget of every page survives a visit to another page: the page walk of ``ui.widget_memory``.

Generic on purpose: the pages are the files of ``pages/`` and the widgets are whatever AppTest finds
on them, so a new page or widget is covered without editing this test. Each widget must declare
itself (``persist`` or ``ephemeral``); each persistent one is set to a value other than the one it
opened with, the app goes to another page and back, and the value must be the same.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.proto.WidgetStates_pb2 import WidgetState

from apptest_helpers import APP, open_page, open_view

PAGES = sorted(f"pages/{p.name}" for p in (Path(APP).parent / "pages").glob("*.py"))
VALUE_WIDGETS = ("checkbox", "toggle", "radio", "selectbox", "select_slider", "slider", "number_input",
                 "text_input", "text_area", "multiselect")


def value_widgets(at) -> list:
    return [w for kind in VALUE_WIDGETS for w in getattr(at, kind)]


def choose_label(widget, index: int) -> None:
    """Pick option ``index`` as the browser does, by its label (AppTest's own setters need the raw value)."""
    state = WidgetState()
    state.id = widget.id
    if widget.type == "select_slider":
        state.string_array_value.data[:] = [widget.options[index]]
    else:
        state.string_value = widget.options[index]
    widget.__class__ = type(f"Chosen{type(widget).__name__}", (type(widget),),
                            {"_widget_state": property(lambda self: state)})


def change(widget) -> bool:
    """Set ``widget`` to a value other than its current one; False when it has no other value to take."""
    kind, value = widget.type, widget.value
    if kind in ("checkbox", "toggle"):
        widget.set_value(not value)
    elif kind in ("radio", "selectbox", "select_slider"):
        if len(widget.options) < 2:
            return False
        choose_label(widget, (option_index(widget) + 1) % len(widget.options))
    elif kind == "multiselect":
        if not widget.options:
            return False
        first = widget.options[0]
        widget.set_value([v for v in value if v != first] if first in value else [*value, first])
    elif kind in ("slider", "number_input"):
        low, high = widget.min, widget.max
        step = widget.step or 1
        if value is None:
            widget.set_value(low if low is not None else 1)
        elif high is None or value + step <= high:
            widget.set_value(value + step)
        elif low is None or value - step >= low:
            widget.set_value(value - step)
        else:
            return False
    elif kind in ("text_input", "text_area"):
        widget.set_value((value or "") + "changed")
    else:
        return False
    return True


def option_index(widget) -> int:
    if widget.type == "select_slider":
        return widget.options.index(widget.format_func(widget.value))
    return widget.index or 0


CHOICES = ("radio", "selectbox", "select_slider")


def restore(widget, original) -> None:
    """Put a widget back to what it was (``original``: an option index for a choice, else the value)."""
    if widget.type in CHOICES:
        choose_label(widget, original)
    else:
        widget.set_value(original)


def by_key(at) -> dict:
    return {w.key: w for w in value_widgets(at)}


def test_every_page_is_walked():
    assert {"pages/home.py", "pages/train.py", "pages/data.py", "pages/activations.py"} <= set(PAGES)


@pytest.mark.parametrize("page", PAGES)
def test_every_widget_keeps_its_value_across_pages(page):
    at = open_page(page)
    walk_widgets(at, page)
    # the panels of lazy tabs (ui.views) run only when open: each is opened and walked in turn
    views = at.session_state["_views_drawn"] if "_views_drawn" in at.session_state else {}
    for key, labels in views.items():
        for label in labels[1:]:
            walk_widgets(open_view(open_page(page), key, label), page)


def walk_widgets(at, page: str) -> None:
    """Every widget on ``at``'s page is declared; each persistent one, changed, survives a visit to another page."""
    memory = at.session_state["_widget_memory"]
    ephemeral = at.session_state["_widget_ephemeral"] if "_widget_ephemeral" in at.session_state else set()
    undeclared = [w.key or w.label for w in value_widgets(at) if w.key not in memory and w.key not in ephemeral]
    assert not undeclared, f"{page}: widgets that declare neither persist() nor ephemeral(): {undeclared}"

    def changeable(widget) -> bool:
        return widget.key in memory and not widget.disabled

    # One widget at a time: a change that hides other widgets (another image source hides the image's
    # settings, a text the page cannot use stops it) is taken back, so that those widgets are walked too.
    changed = []
    for key in [w.key for w in value_widgets(at) if changeable(w)]:
        widget = by_key(at).get(key)
        if widget is None or not changeable(widget):
            continue
        before, original = set(by_key(at)), widget.value
        index = option_index(widget) if widget.type in CHOICES else None
        if not change(widget):
            continue
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        if before - set(by_key(at)):
            restore(by_key(at)[key], index if index is not None else original)
            at.run()
        else:
            changed.append(key)
    if not changed:
        return  # nothing on this page to keep (the Overview has no widgets of its own)
    present = by_key(at)
    after = {key: present[key].value for key in changed if key in present}

    other = "pages/data.py" if page == "pages/home.py" else "pages/home.py"
    open_page(other, at)
    open_page(page, at)
    back = {key: w.value for key, w in by_key(at).items()}
    lost = {key: (value, back.get(key, "missing")) for key, value in after.items() if back.get(key, object()) != value}
    assert not lost, f"{page}: values lost on the way to {other} and back (set, found): {lost}"


def test_the_train_page_keeps_focus_and_smoothing():
    # The bug this walk was written for: both went back to 0.0 after a visit to the Data page.
    at = open_page("pages/train.py")
    at.select_slider(key="train_focus").set_value(0.5)
    at.select_slider(key="train_smoothing").set_value(0.2)
    at.select_slider(key="train_lr").set_value(3e-3)
    at.run()
    open_page("pages/data.py", at)
    open_page("pages/train.py", at)
    assert at.select_slider(key="train_focus").value == 0.5
    assert at.select_slider(key="train_smoothing").value == 0.2
    assert at.select_slider(key="train_lr").value == 3e-3

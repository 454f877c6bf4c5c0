"""Tabs whose hidden panels do not run: a page's secondary sections cost nothing until they are opened.

    label, panel = lazy_tabs("data_view", ["Samples", "Class counts", "Pixel values"])
    with panel:
        if label == "Samples": ...

Plain ``st.tabs`` runs and sends every panel, hidden or not, so the browser builds them all on the
page's first visit: on the Data page two charts (the first chart in a browser tab loads Plotly's
code, about 0.6 s of a laptop core) and the augmentation preview's sliders and pictures, where the
user came for the samples. Here only the open panel runs; a click on another tab reruns the page.

The open tab is kept across pages (``ui.widget_memory``), and each page's tab sets are listed in the
session (``_views_drawn``) so that the widget page walk (``tests/app/test_widget_memory.py``) can
open every panel in turn.
"""

from __future__ import annotations

from typing import Sequence

import streamlit as st

from .widget_memory import persist, set_widget_values

_VIEWS = "_views_drawn"  # tabs key -> its labels, for every lazy tab set drawn in this session


def lazy_tabs(key: str, labels: Sequence[str]):
    """Tabs ``labels`` with only the open one run: returns its label and its container.

    The first label is open on a first visit; after that, the one last opened.
    """
    labels = list(labels)
    ss = st.session_state
    persist(key, labels[0])
    if ss[key] not in labels:  # a label no longer offered (renamed in a new version): start on the first
        set_widget_values({key: labels[0]})
    tabs = st.tabs(labels, key=key, on_change="rerun")
    ss.setdefault(_VIEWS, {})[key] = labels
    for label, tab in zip(labels, tabs):
        if tab.open:
            return label, tab
    return labels[0], tabs[0]  # (tabs without state: not reached with on_change="rerun")

"""The shipped model: one object shared by every session, so it is only ever read.

The first page (the Overview and the sidebar) needs only its card; the model, and TensorFlow
with it (2 to 6 s to import), load in a thread of their own as the server starts (``ui.serve``,
what ``make run`` runs), or under a bare ``streamlit run app.py`` once a first page is drawn, or at
once where a page needs it.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

from core.storage.card import ModelCard

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_MODEL = ROOT / "assets" / "models" / "shapes_default"
SHIPPED_ID = "shipped:shapes_default"

_SHIPPED: dict = {}
_LOCK = threading.Lock()
_PRELOAD_STARTED = threading.Event()


def shipped_card() -> ModelCard:
    """The shipped model's card, read once per process (without TensorFlow)."""
    if "card" not in _SHIPPED:
        from core.storage.files import load_card

        _SHIPPED["card"] = load_card(SHIPPED_MODEL) or ModelCard(name=SHIPPED_MODEL.name)
    return _SHIPPED["card"]


def shipped_model():
    """The default model, loaded on the first call in this process (the others wait for it)."""
    with _LOCK:
        if "model" not in _SHIPPED:
            from core.storage.files import load_model

            _SHIPPED["model"], _ = load_model(SHIPPED_MODEL)
        return _SHIPPED["model"]


def warm_shipped_model() -> None:
    """Trace the shipped model's inspection functions (``core.inspection.warm``), as a finished run does for its
    model: 0.5 s of a quiet machine, paid otherwise by the first visit of Activations or Filters (in the classroom
    benchmark, 1.6 to 4.8 s of the server's time for the first student there)."""
    try:
        from core.inspection.warm import warm_up

        warm_up(shipped_model())
    except Exception:  # noqa: BLE001  (a head start only: each page traces what it needs anyway)
        pass


def loaded_shipped_model():
    """The shipped model if it has been loaded already, else None (never waits)."""
    return _SHIPPED.get("model")


def preload_shipped_model(report: Callable[[float, Exception | None], None] | None = None) -> None:
    """Start loading the shipped model in the background, once per process (``ui.serve`` starts it sooner).

    ``report``, if given, is told how long the load took, and the error if it failed.
    """
    if _PRELOAD_STARTED.is_set():
        return
    _PRELOAD_STARTED.set()

    def load() -> None:
        began, error = time.perf_counter(), None
        try:
            shipped_model()
        except Exception as exc:  # noqa: BLE001  (the page that needs the model loads it again and shows the error)
            error = exc
        if report is not None:
            report(time.perf_counter() - began, error)
        if error is None:
            warm_shipped_model()

    # Not a daemon: a process that ends while the thread still traces (the warm-up, a second after the model is
    # loaded) waits the moment it takes, instead of aborting inside TensorFlow at exit ("terminate called ...").
    threading.Thread(target=load, name="cnnlab-shipped-model", daemon=False).start()

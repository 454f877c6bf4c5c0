"""The shipped models: one object each, shared by every session, so they are only ever read.

Two ship with the app: the shapes model (the default, four drawn shapes) and the photo model
(ten kinds of CIFAR-10 photos). The first page (the Overview and the sidebar) needs only their
cards; the models, and TensorFlow with them (2 to 6 s to import), load in a thread of their own
as the server starts (``ui.serve``, what ``make run`` runs), or under a bare ``streamlit run
app.py`` once a first page is drawn, or at once where a page needs one.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from core.models.backbones import BACKBONES
from core.storage.card import ModelCard

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Shipped:
    id: str  # "shipped:<file stem>"
    path: Path  # without the extension: PATH.keras and PATH.json
    knows: str  # what the sidebar and the Overview say it knows


SHIPPED = {s.id: s for s in (
    Shipped("shipped:shapes_default", ROOT / "assets" / "models" / "shapes_default", "knows 4 drawn shapes"),
    # the same file the Train page offers as a backbone
    Shipped("shipped:photo_cifar10", BACKBONES["photo_cifar10"].path, "knows 10 kinds of photos"),
)}
SHIPPED_ID = "shipped:shapes_default"  # the default model: current until a user picks another
SHIPPED_MODEL = SHIPPED[SHIPPED_ID].path

_SHIPPED: dict[tuple[str, str], object] = {}  # (id, "card" or "model") -> it
_LOCK = threading.Lock()
_PRELOAD_STARTED = threading.Event()


def shipped_ids() -> list[str]:
    """The shipped models whose files are there, the default first."""
    return [i for i, s in SHIPPED.items() if s.path.with_suffix(".keras").is_file()]


def shipped_at(path: Path) -> str | None:
    """The id of the shipped model saved at ``path`` (without the extension), or None."""
    return next((i for i, s in SHIPPED.items() if s.path == Path(path)), None)


def is_shipped(model_id: str | None) -> bool:
    return model_id in SHIPPED


def shipped_card(model_id: str = SHIPPED_ID) -> ModelCard:
    """A shipped model's card, read once per process (without TensorFlow)."""
    key = (model_id, "card")
    if key not in _SHIPPED:
        from core.storage.files import load_card

        path = SHIPPED[model_id].path
        _SHIPPED[key] = load_card(path) or ModelCard(name=path.name)
    return _SHIPPED[key]


def shipped_model(model_id: str = SHIPPED_ID):
    """A shipped model, loaded on the first call in this process (the others wait for it)."""
    with _LOCK:
        key = (model_id, "model")
        if key not in _SHIPPED:
            from core.storage.files import load_model

            _SHIPPED[key], _ = load_model(SHIPPED[model_id].path)
        return _SHIPPED[key]


def shipped_loader(model_id: str) -> Callable[[], object]:
    return lambda: shipped_model(model_id)


def warm_shipped_model(model_id: str = SHIPPED_ID) -> None:
    """Trace a shipped model's inspection functions (``core.inspection.warm``), as a finished run does for its
    model: 0.5 s of a quiet machine, paid otherwise by the first visit of Activations or Filters (in the classroom
    benchmark, 1.6 to 4.8 s of the server's time for the first student there)."""
    try:
        from core.inspection.warm import warm_up

        warm_up(shipped_model(model_id))
    except Exception:  # noqa: BLE001  (a head start only: each page traces what it needs anyway)
        pass


def loaded_shipped_model(model_id: str = SHIPPED_ID):
    """A shipped model if it has been loaded already, else None (never waits)."""
    return _SHIPPED.get((model_id, "model"))


def preload_shipped_model(report: Callable[[float, Exception | None], None] | None = None) -> None:
    """Start loading the shipped models in the background, once per process (``ui.serve`` starts it sooner).

    ``report``, if given, is told how long the default model's load took, and the error if it failed; the
    others load after it.
    """
    if _PRELOAD_STARTED.is_set():
        return
    _PRELOAD_STARTED.set()

    def load() -> None:
        began, error = time.perf_counter(), None
        try:
            shipped_model(SHIPPED_ID)
        except Exception as exc:  # noqa: BLE001  (the page that needs the model loads it again and shows the error)
            error = exc
        if report is not None:
            report(time.perf_counter() - began, error)
        if error is None:
            warm_shipped_model(SHIPPED_ID)
        for model_id in shipped_ids():
            if model_id != SHIPPED_ID:
                try:
                    shipped_model(model_id)
                except Exception:  # noqa: BLE001  (as above: its page shows the error)
                    continue
                warm_shipped_model(model_id)

    # Not a daemon: a process that ends while the thread still traces (the warm-up, a second after the model is
    # loaded) waits the moment it takes, instead of aborting inside TensorFlow at exit ("terminate called ...").
    threading.Thread(target=load, name="cnnlab-shipped-model", daemon=False).start()

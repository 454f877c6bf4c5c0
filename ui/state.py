"""Session state in one place: the user's models, current model, dataset and job."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable
from pathlib import Path

import streamlit as st

from core.datasets import DATASETS, DEFAULT_DATASET, Dataset, load_dataset

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_MODEL = ROOT / "assets" / "models" / "shapes_default"
SHIPPED_ID = "shipped:shapes_default"


@dataclass
class ModelEntry:
    """A model the user can pick: the shipped default (shared, read-only) or one they trained."""

    id: str
    _model: object  # the Keras model; None until ``loader`` has loaded it
    metadata: dict
    shipped: bool = False
    evolution: list | None = None  # core.jobs.Snapshot records of the run that trained it
    probe: object = None  # the image those snapshots' feature maps are of
    loader: Callable[[], object] | None = None  # loads the model on first use (the shipped model)

    @property
    def model(self):
        if self._model is None and self.loader is not None:
            self._model = self.loader()
        return self._model

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def label(self) -> str:
        acc = self.metadata.get("metrics", {}).get("test_accuracy")
        acc_text = f" · {acc:.1%}" if acc is not None else ""
        tag = " (shipped)" if self.shipped else ""
        return f"{self.metadata.get('name', self.id)}{tag}{acc_text}"

    # The sidebar and the Overview read these before the model is loaded: from the metadata saved
    # with it until then (tests/test_shipped_model.py checks that the shipped model's agree with the model).
    @property
    def params(self) -> int:
        if not self.loaded and self.metadata.get("params") is not None:
            return int(self.metadata["params"])
        return int(self.model.count_params())

    @property
    def input_shape(self) -> tuple[int, int, int]:
        if not self.loaded and len(self.metadata.get("input_shape") or ()) == 3:
            return tuple(int(v) for v in self.metadata["input_shape"])
        return tuple(int(v) for v in self.model.input_shape[1:])

    @property
    def class_names(self) -> list[str]:
        names = self.metadata.get("class_names")
        if not self.loaded and names:
            return list(names)
        n = int(self.model.output_shape[-1])
        return list(names) if names and len(names) == n else [str(i) for i in range(n)]


# The shipped model: one object shared by every session, so it is only ever read. The first page
# (the Overview and the sidebar) needs only its metadata; the model, and TensorFlow with it (2 to 6 s
# to import), load in a thread of their own once that page is drawn, or at once where a page needs it.
_SHIPPED: dict = {}
_SHIPPED_LOCK = threading.Lock()
_PRELOAD_STARTED = threading.Event()


def shipped_metadata() -> dict:
    if "metadata" not in _SHIPPED:
        from core.storage import load_metadata

        _SHIPPED["metadata"] = load_metadata(SHIPPED_MODEL)
    return _SHIPPED["metadata"]


def shipped_model():
    """The default model, loaded on the first call in this process (the others wait for it)."""
    with _SHIPPED_LOCK:
        if "model" not in _SHIPPED:
            from core.storage import load_model

            _SHIPPED["model"], _ = load_model(SHIPPED_MODEL)
        return _SHIPPED["model"]


def preload_shipped_model() -> None:
    """Start loading the shipped model in the background, once per process."""
    if _PRELOAD_STARTED.is_set():
        return
    _PRELOAD_STARTED.set()

    def load() -> None:
        try:
            shipped_model()
        except Exception:  # noqa: BLE001  (the page that needs the model loads it again and shows the error)
            pass

    threading.Thread(target=load, name="cnnlab-shipped-model", daemon=True).start()


# Datasets are shared, read-only arrays (MNIST is 200 MB as float32), loaded
# once per process for every session. A plain dict rather than
# st.cache_resource: a cached function may not draw the progress bar of its
# own first load.
_DATASETS: "OrderedDict[tuple[str, str], Dataset]" = OrderedDict()
_DATASETS_LOCK = threading.Lock()
_MAX_DATASETS = 6


class _Load:
    """One dataset load running in a thread of its own, watched by every session that asked for it."""

    def __init__(self) -> None:
        self.fraction, self.message = 0.0, "loading"
        self.result: Dataset | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()

    def report(self, fraction: float, message: str) -> None:
        self.fraction, self.message = max(self.fraction, min(max(fraction, 0.0), 1.0)), message


_LOADS: dict[tuple[str, str], _Load] = {}


def _run_load(key: tuple[str, str], load: _Load) -> None:
    try:
        dataset = load_dataset(key[0], json.loads(key[1]), progress=load.report)
        with _DATASETS_LOCK:
            _DATASETS[key] = dataset
            while len(_DATASETS) > _MAX_DATASETS:
                _DATASETS.popitem(last=False)
        load.result = dataset
    except BaseException as exc:  # handed to every session waiting for it
        load.error = exc
    finally:
        with _DATASETS_LOCK:
            _LOADS.pop(key, None)
        load.done.set()


def get_dataset(name: str, options: dict | None = None) -> Dataset:
    """Load (once per process) and return a dataset; raises DatasetError with a user message.

    A slow first load (a download) shows a progress bar fed by the loader's reports.
    The load runs in a thread of its own: a rerun of the page (any click) does not
    abort it, and another session asking for the same dataset meanwhile watches the
    same load instead of starting a second one. Loads of other datasets never wait.
    """
    key = (name, json.dumps(options or {}, sort_keys=True))
    with _DATASETS_LOCK:
        if key in _DATASETS:
            _DATASETS.move_to_end(key)
            return _DATASETS[key]
        load = _LOADS.get(key)
        if load is None:
            load = _LOADS[key] = _Load()
            threading.Thread(target=_run_load, args=(key, load), name=f"load-{name}", daemon=True).start()
    title = DATASETS[name].title if name in DATASETS else name
    slot = st.empty()
    try:
        while True:
            slot.progress(load.fraction, text=f"{title}: {load.message}")
            if load.done.wait(0.2):
                break
    finally:
        slot.empty()
    if load.error is not None:
        raise load.error
    return load.result


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


# Streamlit forgets a widget's value when a run does not draw it, so moving to
# another page and back would reset every choice. Their values are copied into
# a plain session dict at the start of every run and put back when missing.
PERSISTENT_KEYS = (
    "data_name", "data_source", "data_folder", "data_path", "data_size", "data_channels", "data_per_class", "data_split", "data_k",
    "train_preset", "train_custom", "train_epochs", "train_batch", "train_lr", "train_optimizer", "train_val",
    "train_seed", "train_name", "filters_layer", "filters_norm", "act_source", "act_index", "act_cmap", "act_norm",
    "act_max", "act_fit", "act_invert", "act_preact", "act_inspect_layer", "act_inspect_channel", "pred_source", "pred_index", "pred_fit", "pred_invert",
    "aug_flip", "aug_rotation", "aug_zoom", "aug_translation", "aug_brightness", "aug_contrast", "train_augment",
    "train_schedule", "cls_size", "cls_epochs", "cls_lr", "cls_augment", "cls_model_name",
)


def keep_widget_values() -> None:
    ss = st.session_state
    saved = ss.setdefault("_widget_values", {})
    for key in PERSISTENT_KEYS:
        if key in ss:
            saved[key] = ss[key]
        elif key in saved:
            ss[key] = saved[key]


def set_widget_values(values: dict) -> None:
    """Set widgets' values as if chosen by hand (call from a widget callback); kept across pages too."""
    ss = st.session_state
    saved = ss.setdefault("_widget_values", {})
    for key, value in values.items():
        ss[key] = saved[key] = value


def init_state() -> None:
    """Create every session key this app uses, once per session, and restore kept widget values.

    Every page calls it first, so choices survive page switches even when a page
    runs without the router (AppTest after ``switch_page``).
    """
    keep_widget_values()
    ss = st.session_state
    ss.setdefault("models", {})
    ss.setdefault("current_model", None)
    ss.setdefault("dataset", {"name": DEFAULT_DATASET, "options": {}})
    ss.setdefault("job", None)
    ss.setdefault("job_consumed", None)
    if SHIPPED_ID not in ss["models"]:
        ss["models"][SHIPPED_ID] = ModelEntry(SHIPPED_ID, _SHIPPED.get("model"), shipped_metadata(), shipped=True,
                                              loader=shipped_model)
    if ss["current_model"] not in ss["models"]:
        ss["current_model"] = SHIPPED_ID
    collect_finished_job()


def current_model() -> ModelEntry:
    init_state()
    return st.session_state["models"][st.session_state["current_model"]]


def add_model(model, metadata: dict, make_current: bool = True, evolution: list | None = None,
              probe=None) -> ModelEntry:
    """Register a model trained in this session (visible to this session only)."""
    models = st.session_state["models"]
    base = metadata.get("name", "model")
    model_id, n = f"session:{base}", 1
    while model_id in models:
        n += 1
        model_id = f"session:{base}-{n}"
    entry = ModelEntry(model_id, model, metadata, evolution=evolution, probe=probe)
    models[model_id] = entry
    if make_current:
        st.session_state["current_model"] = model_id
    return entry


def collect_finished_job() -> None:
    """Once a training job ends (done or stopped), its model joins the session's models.

    It is also kept in the models folder, unless its metadata says ``private`` (a model of
    faces enrolled in this session is written to disk only when the user saves it).
    """
    job = st.session_state.get("job")
    if job is None or not job.finished or st.session_state.get("job_consumed") == job.id:
        return
    st.session_state["job_consumed"] = job.id
    if job.metadata is not None:
        if not job.metadata.get("private"):
            save_to_registry(job.model, job.metadata, replay=(list(job.snapshots), job.probe))
        add_model(job.model, job.metadata, evolution=list(job.snapshots), probe=job.probe)


def save_to_registry(model, metadata: dict, replay: tuple | None = None) -> None:
    """Keep a trained model in the models folder; a failure is noted in its metadata, never raised."""
    from core.registry import ModelRegistry

    try:
        entry = ModelRegistry().save(model, metadata, replay=replay)
        metadata["registry_id"] = entry.id
    except OSError as exc:
        metadata["registry_error"] = f"Could not save it to the models folder: {exc}"


def current_dataset() -> Dataset:
    """The dataset chosen on the Data page (raises DatasetError if it cannot be loaded)."""
    init_state()
    choice = st.session_state["dataset"]
    return get_dataset(choice["name"], choice["options"])


def model_dataset(entry: ModelEntry) -> Dataset | None:
    """The dataset a model was trained on, or None when it cannot be loaded here."""
    from core.datasets import DatasetError

    ref = entry.metadata.get("dataset") or {}
    if ref.get("name") not in DATASETS:
        return None
    try:
        ds = get_dataset(ref["name"], ref.get("options") or {})
    except DatasetError:
        return None
    return ds if ds.input_shape == entry.input_shape else None


def dataset_for(entry: ModelEntry) -> Dataset | None:
    """The model's own dataset, else the chosen dataset when the model fits it, else None."""
    from core.datasets import DatasetError

    own = model_dataset(entry)
    if own is not None:
        return own
    try:
        chosen = current_dataset()
    except DatasetError:
        return None
    fits = chosen.input_shape == entry.input_shape and chosen.num_classes == len(entry.class_names)
    return chosen if fits else None


def model_key(entry: ModelEntry) -> str:
    """A hashable key that changes whenever the entry's model object does (for st.cache_data)."""
    return f"{entry.id}:{id(entry.model)}"


def require_dataset(entry: ModelEntry) -> Dataset:
    """``dataset_for(entry)``, or a message and the end of the page run when no dataset fits."""
    dataset = dataset_for(entry)
    if dataset is None:
        st.info(f"No test images fit {entry.metadata.get('name', entry.id)} (input {entry.input_shape}, "
                f"{len(entry.class_names)} classes). Choose a dataset it fits on the Data page.")
        st.stop()
    return dataset


def reset_widgets(keys: list[str]) -> None:
    """Put widgets back to their defaults (call from a widget callback), here and in the kept values."""
    ss = st.session_state
    saved = ss.get("_widget_values", {})
    for key in keys:
        ss.pop(key, None)
        saved.pop(key, None)

"""The dataset cache: datasets loaded once per process, in threads of their own, shared by every session."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict

import streamlit as st

from core.data import DATASETS, Dataset, load_dataset

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
    from .access import check_dataset

    check_dataset(name, options)  # before the cache: another user's loaded folder is not one's own
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

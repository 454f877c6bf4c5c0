"""The server's limits in Chromium: hostile files through the real uploaders, with the server's memory watched.

A 2 KB ``.keras`` whose config.json declares ``Dense(units=100000000)`` once spent 31 s and 4 GB
inside Keras before any check; now its config is read and refused before a layer is built. The
server's resident memory is sampled every 20 ms while it is uploaded: the peak must stay under
1.5 times the figure of the idle server with the page open. A 100000x12 strip on Who am I? and a
Markdown model name get their plain messages too.
"""

from __future__ import annotations

import threading
import time

import pytest

from browser import MAIN, act, exceptions, fill, go, main_text, open_app, upload, wait_text

pytestmark = pytest.mark.e2e


def rss_bytes(pid: int) -> int:
    """The resident memory of process ``pid`` (Linux /proc)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


class PeakSampler:
    """The highest resident memory of a process while the ``with`` block runs (sampled every 20 ms)."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()

    def __enter__(self):
        self.peak = rss_bytes(self.pid)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            self._stop.wait(0.02)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes(self.pid))


def test_hostile_models_are_refused_without_the_servers_memory_growing(app_server, browser_page, tmp_path, artifacts):
    import hostile_models

    page = browser_page
    open_app(page, app_server["url"])
    go(page, "Activations", "Activations")  # the shipped model drawn: TensorFlow and Keras are loaded
    go(page, "Models", "Models")
    pid = app_server["proc"].pid
    idle = rss_bytes(pid)  # the server idle, with the app open
    figures = {"idle_mb": round(idle / 2**20)}
    for made, expect in ((hostile_models.giant_dense(tmp_path), "100,000,000 units"),
                         (hostile_models.zero_weights(tmp_path), "unpacks to 318 MB or more"),
                         (hostile_models.huge_input(tmp_path), "20000×20000 pixels")):
        started = time.perf_counter()
        with PeakSampler(pid) as sampler:
            upload(page, "Model file (.keras)", str(made))
            wait_text(page, expect)
        figures[made.stem] = {"peak_mb": round(sampler.peak / 2**20), "seconds": round(time.perf_counter() - started, 2),
                              "file_bytes": made.stat().st_size}
        assert sampler.peak < 1.5 * idle, (made.name, sampler.peak / 2**20, idle / 2**20)
        assert not exceptions(page), exceptions(page)
        assert made.name in main_text(page)
    (artifacts / "limits_memory.json").write_text(__import__("json").dumps(figures, indent=1))
    assert "Traceback" not in app_server["log"].read_text()


def test_a_long_strip_on_who_am_i_gets_a_message(app_server, browser_page, tmp_path):
    import bad_files

    strip = tmp_path / "panorama_strip.png"
    strip.write_bytes(bad_files.strip_png())
    page = browser_page
    open_app(page, app_server["url"])
    go(page, "Who am I?", "Who am I?")
    fill(page, "Add a person", "Ada")
    act(page, page.locator(MAIN).get_by_role("button", name="Add", exact=True).click)
    wait_text(page, "Photos of Ada")
    upload(page, "Photos of Ada", str(strip))
    wait_text(page, "Crop it around the faces first")
    assert not exceptions(page), exceptions(page)
    assert "Traceback" not in app_server["log"].read_text()


def test_a_markdown_model_name_is_shown_as_typed_and_fetches_nothing(app_server, browser_page):
    import keras

    from core.storage.card import DatasetRef, ModelCard
    from core.storage.registry import ModelRegistry

    inputs = keras.Input((32, 32, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(2, 3)(inputs))
    entry = ModelRegistry(app_server["models"]).save(keras.Model(inputs, keras.layers.Dense(4, activation="softmax")(x)),
                                                     ModelCard(name="plain_model", dataset=DatasetRef("shapes"),
                                                               class_names=["circle", "square", "triangle", "star"],
                                                               input_shape=(32, 32, 3)))
    page = browser_page
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    open_app(page, app_server["url"])
    go(page, "Models", "Models")
    from browser import select

    select(page, "Saved model", "plain_model")
    # the box takes at most 60 characters (Streamlit's max_chars); the registry refuses longer names (unit tests)
    fill(page, "New name", "![x](http://127.0.0.9/t.png) **bold** :red[alert]")
    act(page, page.locator(MAIN).get_by_role("button", name="Rename", exact=True).click)
    name = ModelRegistry(app_server["models"]).get(entry.id).name
    assert name == "![x](http://127.0.0.9/t.png) **bold** :red[alert]"
    act(page, page.locator(MAIN).get_by_role("button", name="Load", exact=True).click)
    wait_text(page, "Loaded ![x](http://127.0.0.9/t.png) **bold** :red[alert]")  # as typed: no image, no colour
    assert page.locator(f"{MAIN} img[src*='127.0.0.9']").count() == 0
    assert not [u for u in requests if "127.0.0.9" in u]
    assert not exceptions(page)

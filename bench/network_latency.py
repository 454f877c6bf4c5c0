"""The ImageNet networks in Chromium: picking a photo to the first feature maps drawn, and the server's memory.

Part of ``bench.browser_latency`` (``--networks``). For each network, a user's tab makes it the current
model on the Models page ("Use it"), opens Activations on the sample photos, and picks one photo after
another; each time, from the click on the photo's name to the first feature-map picture that changes
(the photo's own tile left out), and to the page settled (``bench.page_settle``). Then a tab visits
Filters, Step by step, Predict, Embedding and Evaluation and notes any exception box. After every
network is in use the server's resident memory is read: all five loaded at once, as a class might.

The weights are made here with random values (``core.models.imagenet_weights.write_weights_file``, the
files Keras publishes hold the same layers and shapes, so a pass costs the same) in a Keras cache of the
benchmark's own, and vouched for through ``$CNNLAB_WEIGHTS_CHECKSUMS``: nothing downloads.

Targets (the ImageNet networks' issue): MobileNetV3Small <= 500 ms, ResNet50 <= 2 s, median.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np

from bench import page_settle

TARGETS_MS = {"mobilenet_v3_small": 500, "resnet50": 2000}
PAGES = ("Filters", "Step by step", "Predict", "Embedding", "Evaluation")
PHOTOS = ("Chelsea the cat", "A cup of coffee", "A rocket lifting off", "The astronaut Eileen Collins")

FIRST_MAP = """() => {
  if (window.__maps) return;
  const m = window.__maps = {first: 0};
  const main = document.querySelector('[data-testid="stMain"]');
  const isMap = img => {
    const all = Array.from(main.querySelectorAll('[data-testid="stImage"] img'));
    return all.indexOf(img) > 0;  // the first picture is the photo's own tile
  };
  new MutationObserver(ms => {
    const t0 = window.__settle ? window.__settle.t0 : 0;
    if (!t0 || m.first > t0) return;
    for (const r of ms) {
      const imgs = r.type === 'attributes' ? (r.target.tagName === 'IMG' ? [r.target] : []) :
          Array.from(r.addedNodes).flatMap(n => n.nodeType !== 1 ? [] : n.tagName === 'IMG' ? [n] :
                                           Array.from(n.querySelectorAll('img')));
      if (imgs.some(isMap)) { m.first = performance.now(); return; }
    }
  }).observe(main, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
}"""


def prepare_weights(keras_home: Path, keys) -> Path:
    """Write each network's weights file into ``keras_home/models`` and list their MD5s; returns the listing."""
    from core.models.imagenet import NETWORKS, build_network
    from core.models.imagenet_weights import write_weights_file

    listing = keras_home / "trusted-weights.md5"
    lines = []
    for key in keys:
        net = NETWORKS[key]
        path = write_weights_file(build_network(net, None), keras_home / "models" / net.file_name)
        digest = hashlib.md5()
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
        lines.append(f"{digest.hexdigest()}  {net.file_name}")
    listing.write_text("\n".join(lines) + "\n")
    return listing


def _box(page, label: str):
    return page.locator('[data-testid="stMain"]').locator('[data-testid="stSelectbox"]').filter(has_text=label).first


def _open(page, label: str, option: str):
    """Open the select box ``label``; its ``option`` to click, or None when it shows that one already."""
    box = _box(page, label)
    if box.locator("input").input_value().startswith(option):
        return None
    listbox = page.locator('[role="listbox"]').last
    for attempt in range(3):  # a click that lands as the page draws again may only focus the box
        box.click()
        try:
            listbox.wait_for(timeout=10_000)
            break
        except Exception:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
    page.keyboard.type(option)  # the list keeps only the matching options: nothing to scroll to
    return listbox.get_by_role("option").filter(has_text=option).first


def _choose(page, label: str, option: str) -> None:
    choice = _open(page, label, option)
    if choice is not None:
        choice.click()


def _idle(page, timeout: float = 300) -> None:
    page.wait_for_function("() => " + page_settle.SCRIPT_IDLE + " && !" + page_settle.RUNNING,
                           timeout=timeout * 1000, polling=50)


def _exceptions(page) -> list[str]:
    return [e.inner_text()[:300] for e in page.locator('[data-testid="stException"]').all()]


def use_network(page, title: str) -> float:
    """Make the network current from the Models page; returns the seconds "Use it" took (its loading)."""
    page.locator('[data-testid="stSidebarNav"] a', has_text="Models").first.click()
    page.get_by_text("Famous ImageNet networks").wait_for(timeout=120_000)
    _idle(page)
    _choose(page, "Network", title)
    _idle(page)
    began = time.perf_counter()
    page.get_by_role("button", name="Use it").click()
    page.get_by_text("is now the current model").wait_for(timeout=300_000)
    return time.perf_counter() - began


def photo_to_maps(page, repeats: int) -> tuple[list[float], list[float]]:
    """On Activations with the sample photos: milliseconds from the click on another photo's name to the first
    map drawn, and to the page settled; the first two choices warm the server's caches and are not counted."""
    page.locator('[data-testid="stSidebarNav"] a', has_text="Activations").first.click()
    page.get_by_text("Sample photo").first.wait_for(timeout=120_000)
    _idle(page)
    page.get_by_text("Sample photo").first.click()
    page.locator('[data-testid="stMain"] [data-testid="stImage"] img').nth(2).wait_for(timeout=300_000)
    _idle(page)
    page.evaluate(FIRST_MAP)
    firsts, settled = [], []
    for i in range(repeats + 2):
        option = _open(page, "Photo", PHOTOS[(i + 1) % len(PHOTOS)])
        ms, _ = page_settle.timed(page, option.click, timeout=300)
        first = page.evaluate("() => window.__maps.first - window.__settle.t0")
        if i >= 2:
            firsts.append(float(first))
            settled.append(ms)
    return firsts, settled


def tour(page) -> dict[str, list[str]]:
    """Visit the other views; the exception boxes each shows (none expected)."""
    seen = {}
    for name in PAGES:
        page.locator('[data-testid="stSidebarNav"] a', has_text=name).first.click()
        page.wait_for_function("() => { const h = document.querySelector('[data-testid=\"stMain\"] h1');"
                               f" return h && h.innerText.length > 0; }}", timeout=120_000)
        _idle(page, 600)
        seen[name] = _exceptions(page)
    return seen


def measure(context, url: str, keys, repeats: int, server) -> dict:
    """The figures of every network in ``keys`` (one user's tab each), then the server's memory with all loaded."""
    from core.models.imagenet import NETWORKS

    result, rss_before = {}, server.rss_bytes()
    for key in keys:
        net = NETWORKS[key]
        page = page_settle.open_session(context, url, f"net-{key}")
        load_s = use_network(page, net.title)
        firsts, settled = photo_to_maps(page, repeats)
        views = tour(page)
        page.close()
        median = float(np.median(firsts))
        figures = {"use_it_s": round(load_s, 1), "photo_to_first_maps_ms": {
            "median": round(median), "p90": round(float(np.percentile(firsts, 90))), "n": len(firsts)},
            "photo_to_page_settled_ms": {"median": round(float(np.median(settled)))},
            "views_with_exceptions": {k: v for k, v in views.items() if v}}
        if key in TARGETS_MS:
            figures["target_ms"] = TARGETS_MS[key]
            figures["meets_target"] = median <= TARGETS_MS[key]
        result[key] = figures
        print(f"{net.title}: Use it {load_s:.1f} s; photo to first maps median {median:.0f} ms; "
              f"views with an exception: {sorted(figures['views_with_exceptions']) or 'none'}", flush=True)
    result["server_rss_mb"] = {"before": round(rss_before / 2**20), "with_all_loaded": round(server.rss_bytes() / 2**20)}
    return result

"""Latency a user feels, measured in headless Chromium against a real ``streamlit run app.py``.

    python -m bench.browser_latency [--repeats 20] [--starts 3] [--networks [KEY ...] | --networks-only]

1. **Start to interactive**: from starting the server process to the first page
   drawn and idle in the browser (the sidebar, the page's title, Streamlit no
   longer "Running"). The browser is started first, so only the app's start counts.
   Measured ``--starts`` times, each a new process; the median is reported.
2. **Activations, image to maps**: on the Activations page, from the click that
   picks another test image ("Random") to the last feature map image changing in
   the page, with the page idle after it. ``--repeats`` times; median and p90.
   Also reported, with no target: to the last change anywhere on the page (the
   closer-look heatmap, which the page draws after the maps).

3. **Click to page settled** on Filters, Activations and Step by step (``bench.page_settle``): a
   page's first visit in a fresh browser session and a later visit, both through the sidebar,
   and its layer picker; the run ended and the main area quiet for 400 ms, from the click.
   ``--settle-repeats`` fresh sessions (after one that warms the server, reported as ``cold``),
   then as many while another user's run trains Digits on the same server (``..._training``).

4. **ImageNet networks** (``--networks``, ``bench.network_latency``): picking another sample photo on
   Activations to the first feature maps drawn, for MobileNetV3Small and ResNet50 (or the networks named),
   every other view visited, and the server's memory with them all loaded.

Targets: median image-to-maps <= 300 ms; start to interactive <= 8 s; median click to settled
<= 400 ms, and <= 800 ms while a run trains; photo to first maps <= 500 ms on MobileNetV3Small and
<= 2 s on ResNet50.
Needs Playwright and the system's Chromium (``apt-get install chromium``, or
``$CNNLAB_CHROMIUM``). The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import page_settle
from bench.app_server import CHROMIUM_ARGS, ROOT, AppServer, chromium_path

TARGET_MAPS_MS = 300
TARGET_START_S = 8.0
TARGET_SETTLE_MS = 400
TARGET_SETTLE_TRAINING_MS = 800

RUNNING = "(() => { const w = document.querySelector('[data-testid=\"stStatusWidget\"]');" \
          " return !!w && /Running|Connecting/i.test(w.innerText); })()"
INTERACTIVE = ("() => !!document.querySelector('[data-testid=\"stSidebarNav\"] a') && "
               "!!document.querySelector('[data-testid=\"stMain\"] h1') && !" + RUNNING)
WATCH_IMAGES = """() => {
  window.__last = 0; window.__lastAny = 0;
  const main = document.querySelector('[data-testid="stMain"]');
  const seen = m => m.type === 'attributes' ? m.target.tagName === 'IMG' && m.attributeName === 'src' :
      Array.from(m.addedNodes).some(n => n.nodeType === 1 && (n.tagName === 'IMG' || n.querySelector('img')));
  new MutationObserver(ms => {
    const now = performance.now();
    window.__lastAny = now;
    if (ms.some(seen)) window.__last = now;
  }).observe(main, {subtree: true, childList: true, attributes: true, characterData: true});
}"""
CLICK_RANDOM = """() => {
  const b = Array.from(document.querySelectorAll('[data-testid="stMain"] button')).find(b => b.innerText.trim() === 'Random');
  window.__last = 0; window.__lastAny = 0; window.__t0 = performance.now(); b.click();
}"""
SETTLED = ("() => window.__last > window.__t0 && !" + RUNNING +
           " && performance.now() - Math.max(window.__last, window.__lastAny) > 400")


def start_to_interactive(browser, folder: Path, extra_env: dict | None = None) -> tuple[float, AppServer]:
    """Seconds from starting the server process to its first page interactive in a new browser page."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    server = AppServer(folder, extra_env=extra_env).launch()
    server.wait_healthy(timeout=120)
    page.goto(server.url)
    page.wait_for_function(INTERACTIVE, timeout=120_000, polling=20)
    seconds = time.perf_counter() - server.started_at
    page.close()
    return seconds, server


def activations_latency(browser, server: AppServer, repeats: int) -> tuple[list[float], list[float]]:
    """Milliseconds from clicking Random on the Activations page to the last map image drawn, and to
    the last change anywhere on the page (the closer-look chart, drawn after the maps)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server.url)
    page.wait_for_function(INTERACTIVE, timeout=120_000, polling=50)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Activations").first.click()
    page.wait_for_function("() => { const h = document.querySelector('[data-testid=\"stMain\"] h1');"
                           " return h && h.innerText.includes('Activations'); }", timeout=120_000)
    page.locator('[data-testid="stMain"] [data-testid="stImage"] img').nth(2).wait_for(timeout=120_000)
    page.wait_for_function(INTERACTIVE, timeout=120_000, polling=50)
    page.wait_for_timeout(1000)
    page.evaluate(WATCH_IMAGES)
    times, settled = [], []
    missed = 0
    for i in range(repeats + 2):  # the first two warm the page's caches and are not counted
        page.evaluate(CLICK_RANDOM)
        try:
            page.wait_for_function(SETTLED, timeout=10_000, polling=20)
        except Exception:  # Random drew the image already shown (1 in the test split's size): nothing to redraw
            missed += 1
            if missed > 3:
                raise
            continue
        if i >= 2:
            times.append(page.evaluate("() => window.__last - window.__t0"))
            settled.append(page.evaluate("() => Math.max(window.__last, window.__lastAny) - window.__t0"))
    maps = page.locator('[data-testid="stMain"] [data-testid="stImage"] img').count()
    page.close()
    if maps < 3:
        raise RuntimeError(f"expected the Activations page to draw its feature maps; found {maps} images")
    return times, settled


def settle_latency(browser, server: AppServer, repeats: int, training: bool) -> dict:
    """The settle figures of ``bench.page_settle`` (median, p90, ...), idle then while a run trains."""
    url, figures, cold = server.url, {}, {}
    tabs = browser.new_context(viewport={"width": 1400, "height": 1000})  # one browser's tabs, sharing its cache
    page_settle.settle_round(tabs, url, "settle", cold)  # the server's first visits: TensorFlow traces
    for i in range(repeats):
        page_settle.settle_round(tabs, url, "settle", figures)
        print(f"settle round {i + 1}: " + ", ".join(f"{k} {v[-1][0]:.0f}" for k, v in figures.items()), flush=True)
    result = {name: page_settle.summarise(times, TARGET_SETTLE_MS) for name, times in figures.items()}
    result["settle_cold_ms"] = {name: round(times[0][0]) for name, times in cold.items()}
    if training:
        trainer = page_settle.Trainer(page_settle.start_trainer(tabs, url))
        busy, began = {}, time.perf_counter()
        try:
            for i in range(repeats):
                page_settle.settle_round(tabs, url, "settle", busy, before_each=trainer.keep_training)
                print(f"settle round {i + 1} while training: " + ", ".join(f"{k} {v[-1][0]:.0f}" for k, v in busy.items()),
                      flush=True)
            trainer.keep_training()
        finally:
            trainer.page.close()
        result.update({f"{name.removesuffix('_ms')}_training_ms": page_settle.summarise(times, TARGET_SETTLE_TRAINING_MS)
                       for name, times in busy.items()})
        # the run's pace while the pages were clicked through (Digits, the default architecture)
        result["settle_training_epochs_per_min"] = round(60 * trainer.epochs / (time.perf_counter() - began), 1)
        result["settle_training_restarts"] = trainer.restarts
    tabs.close()
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=20, help="image choices timed on the Activations page")
    parser.add_argument("--starts", type=int, default=3, help="server starts timed")
    parser.add_argument("--settle-repeats", type=int, default=8, help="fresh sessions timed for the settle figures")
    parser.add_argument("--settle-only", action="store_true", help="one server start, no image-to-maps figure")
    parser.add_argument("--no-training", action="store_true", help="no settle figures while a run trains")
    parser.add_argument("--networks", nargs="*", default=None, metavar="KEY",
                        help="also time the ImageNet networks (bench.network_latency): these keys, or with none given "
                             "MobileNetV3Small and ResNet50; 'all' for the five")
    parser.add_argument("--networks-only", action="store_true", help="one server start and the networks' figures only")
    parser.add_argument("--network-repeats", type=int, default=8, help="photos timed per network")
    args = parser.parse_args(argv)
    if args.settle_only:
        args.starts, args.repeats = 1, 0
    if args.networks_only:
        args.starts, args.repeats, args.settle_repeats = 1, 0, 0
        args.networks = args.networks or []
    networks = None
    if args.networks is not None:
        from core.models.imagenet import NETWORKS

        networks = (list(NETWORKS) if args.networks == ["all"] else args.networks or
                    ["mobilenet_v3_small", "resnet50"])
    from playwright.sync_api import sync_playwright

    chromium = chromium_path()
    if chromium is None:
        sys.exit("error: no Chromium found (apt-get install chromium, or set CNNLAB_CHROMIUM)")

    folder = Path(tempfile.mkdtemp(prefix="cnnlab_latency_"))
    starts, server, extra_env, network_figures = [], None, {}, None
    if networks:
        from bench.network_latency import prepare_weights
        from core.models.imagenet_weights import CHECKSUMS_ENV, MIRROR_ENV

        listing = prepare_weights(folder / "keras", networks)
        # the weights made here, vouched for; a download would go to a closed port, never to the internet
        extra_env = {"KERAS_HOME": str(folder / "keras"), CHECKSUMS_ENV: str(listing),
                     MIRROR_ENV: "http://127.0.0.1:9/"}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            for i in range(args.starts):
                seconds, server = start_to_interactive(browser, folder / f"start{i}", extra_env)
                starts.append(seconds)
                print(f"start {i + 1}: interactive after {seconds:.2f} s", flush=True)
                if i < args.starts - 1:
                    server.stop()
            times, settled = activations_latency(browser, server, args.repeats) if args.repeats else ([], [])
            settle = settle_latency(browser, server, args.settle_repeats, not args.no_training) \
                if args.settle_repeats else {}
            if networks:
                from bench.network_latency import measure

                tabs = browser.new_context(viewport={"width": 1400, "height": 1000})
                network_figures = measure(tabs, server.url, networks, args.network_repeats, server)
                tabs.close()
        finally:
            if server is not None:
                server.stop()
            browser.close()
    shutil.rmtree(folder, ignore_errors=True)
    start_s = float(np.median(starts))
    result: dict = {}
    maps_ok = True
    if times:  # not measured with --settle-only: left out rather than reported as 0
        median_ms, p90_ms = float(np.median(times)), float(np.percentile(times, 90))
        print(f"Activations, image to maps: median {median_ms:.0f} ms, p90 {p90_ms:.0f} ms over {len(times)}; "
              f"to the whole page drawn: median {np.median(settled):.0f} ms")
        result["activations_image_to_maps_ms"] = {"median": round(median_ms), "p90": round(p90_ms),
                                                  "min": round(min(times)), "max": round(max(times)), "n": len(times)}
        # the whole page: the maps, then the closer-look chart drawn after them (no target)
        result["activations_image_to_page_settled_ms"] = {"median": round(float(np.median(settled))),
                                                          "p90": round(float(np.percentile(settled, 90)))}
        maps_ok = median_ms <= TARGET_MAPS_MS
    settle_ok = all(v["meets_target"] for v in settle.values() if isinstance(v, dict) and "meets_target" in v)
    if network_figures is not None:
        result["networks"] = network_figures
        maps_ok = maps_ok and all(v.get("meets_target", True) and not v.get("views_with_exceptions")
                                  for v in network_figures.values() if isinstance(v, dict) and "use_it_s" in v)
    result.update({
        "start_to_interactive_s": {"median": round(start_s, 2), "all": [round(s, 2) for s in starts]},
        **settle,
        "targets": {"activations_median_ms": TARGET_MAPS_MS, "start_to_interactive_s": TARGET_START_S,
                    "settle_median_ms": TARGET_SETTLE_MS, "settle_training_median_ms": TARGET_SETTLE_TRAINING_MS},
        "meets_targets": maps_ok and start_s <= TARGET_START_S and settle_ok,
        "settle_meets_targets": settle_ok,
        "cpus": len(os.sched_getaffinity(0)), "machine": platform.machine(),
        "measured": time.strftime("%Y-%m-%d"), "app": str(ROOT.name),
    })
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()

"""Load: four browser sessions on one server, two training and two exploring.

No session may see an exception or another session's state, the server's memory
must stay bounded, and its peak is reported (``artifacts/e2e/load.json``).

The load lasts ``$CNNLAB_LOAD_SECONDS`` (``make test-all LOAD_SECONDS=...``; 120 when unset) and
at least one tour step for every 24 s of it (5 in two minutes, 3 at the least), however slow the
machine: the explorers' progress is a condition to reach, not a count to hope for in a fixed time.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from bench.app_server import AppServer
from browser import CHROMIUM_ARGS, MAIN, chromium_path, exceptions, go, main_text, open_app, start_training, wait_text


SECONDS = float(os.environ.get("CNNLAB_LOAD_SECONDS", 120))
MIN_STEPS = max(3, int(SECONDS // 24))  # tour steps of both explorers at the least
PAGE_TIMEOUT = 600  # seconds one explorer's page may take while both cores train
# what the two explorers visit in turn
TOUR = [("Activations", "Activations"), ("Filters", "Filters"), ("Predict", "Predict"), ("Data", "Data"),
        ("Step by step", "step by step"), ("Evaluation", "Evaluation"), ("Overview", "CNN Lab")]
PEAK_LIMIT = 6 * 2**30  # bytes; the server alone, with TensorFlow, two training runs and four sessions


@pytest.fixture
def load_server(tmp_path):
    server = AppServer(tmp_path / "server").start()
    yield server
    server.stop()


def test_four_sessions_under_load(load_server, playwright_instance, artifacts):
    browser = playwright_instance.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
    contexts = [browser.new_context(viewport={"width": 1280, "height": 900}) for _ in range(4)]
    pages = [c.new_page() for c in contexts]
    errors: list[str] = []
    for page in pages:
        page.set_default_timeout(90_000)
        page.on("pageerror", lambda e: errors.append(str(e)))
        open_app(page, load_server.url)
    trainers, explorers = pages[:2], pages[2:]
    names = ["load_run_a", "load_run_b"]
    for page, name in zip(trainers, names):
        start_training(page, 200, name)

    rss, visits, checks = [], 0, 0
    start = time.time()
    while time.time() - start < SECONDS or visits < MIN_STEPS:
        for i, page in enumerate(explorers):
            label, heading = TOUR[(visits + i) % len(TOUR)]
            # Two runs train on the same cores: a page's run may take minutes (the bound, not a wait).
            go(page, label, heading, timeout=PAGE_TIMEOUT)
            assert not exceptions(page), (label, exceptions(page))
            text = main_text(page)
            # an explorer never sees the trainers' runs
            assert not any(name in text for name in names), (label, text[-600:])
            assert "Training: idle" in page.locator('[data-testid="stSidebar"]').inner_text()
        visits += 1
        for page, name, other in zip(trainers, names, names[::-1]):
            text = main_text(page)
            assert f"Run: {name}" in text and f"Run: {other}" not in text, text[-600:]
            assert not exceptions(page)
            checks += 1
        rss.append(load_server.rss_bytes())

    # each trainer still trains its own run; stop both, each ends with its own model
    for page, name in zip(trainers, names):
        text = main_text(page)
        assert "running" in text or "queued" in text, text[-600:]
        page.locator(MAIN).get_by_role("button", name="Stop", exact=True).click()
    for page, name in zip(trainers, names):
        wait_text(page, f"{name}: test accuracy", timeout=120)
        assert not exceptions(page)
    peak = load_server.peak_rss_bytes()
    log = load_server.log_text()
    report = {"seconds": round(time.time() - start), "sessions": 4, "explorer_page_visits": 2 * visits,
              "trainer_checks": checks, "server_rss_first_mb": round(rss[0] / 2**20), "server_rss_last_mb":
              round(rss[-1] / 2**20), "server_rss_peak_mb": round(peak / 2**20)}
    (artifacts / "load.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report))
    for c in contexts:
        c.close()
    browser.close()
    assert errors == [] and "Traceback" not in log, (errors, log[-2000:])
    assert visits >= MIN_STEPS, report
    assert 0 < peak < PEAK_LIMIT, report

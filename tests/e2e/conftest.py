"""End-to-end fixtures: a real ``streamlit run app.py`` and headless Chromium driven by Playwright.

The browser is the system's Chromium (Debian's ``chromium``, or ``$CNNLAB_CHROMIUM``),
never Playwright's own download. Where it is missing the tests skip with the reason,
so ``make test`` passes on a laptop without it; ``.ci/run`` installs it and sets
``CNNLAB_REQUIRE_BROWSER=1``, which turns that skip into a failure. Screenshots of
every page go to ``artifacts/e2e/``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "e2e"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def _missing(reason: str):
    if os.environ.get("CNNLAB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (CNNLAB_REQUIRE_BROWSER=1: the end-to-end tests must run here)")
    pytest.skip(reason)


def chromium_path() -> str | None:
    path = os.environ.get("CNNLAB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    return path if path and Path(path).exists() else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """``streamlit run app.py`` on a free localhost port, with data and models folders of its own."""
    port = free_port()
    env = dict(os.environ, CNNLAB_DATA_DIR=str(tmp_path_factory.mktemp("e2e_data")),
               CNNLAB_MODELS_DIR=str(tmp_path_factory.mktemp("e2e_models")), TF_CPP_MIN_LOG_LEVEL="2")
    log = (tmp_path_factory.mktemp("e2e_log") / "server.log").open("w")
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address",
           "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:  # localhost only
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail(f"streamlit did not answer on {url} within 90 s; see {log.name}")
    yield {"url": url, "proc": proc, "log": Path(log.name), "data": Path(env["CNNLAB_DATA_DIR"]),
           "models": Path(env["CNNLAB_MODELS_DIR"])}
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="session")
def playwright_instance():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright is not installed (pip install -r requirements-dev.txt)")
    if chromium_path() is None:
        _missing("no Chromium found (apt-get install chromium, or set CNNLAB_CHROMIUM)")
    with sync_playwright() as p:
        yield p


@pytest.fixture
def browser_page(playwright_instance, request):
    """A fresh Chromium page (a new browser session of the app) with a fake webcam when the test asks for one.

    A test that also asks for a ``camera_video`` fixture (a ``.y4m`` path) gets a webcam showing that video.
    """
    args = list(CHROMIUM_ARGS)
    video = request.getfixturevalue("camera_video") if "camera_video" in request.fixturenames else None
    if video:
        args += ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                 f"--use-file-for-fake-video-capture={video}"]
    browser = playwright_instance.chromium.launch(executable_path=chromium_path(), args=args, headless=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, permissions=["camera"] if video else [])
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    yield page
    context.close()
    browser.close()

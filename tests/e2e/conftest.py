"""End-to-end fixtures: a real ``streamlit run app.py`` and headless Chromium driven by Playwright.

The browser is the system's Chromium (Debian's ``chromium``, or ``$CNNLAB_CHROMIUM``),
never Playwright's own download. Where it is missing the tests skip with the reason,
so ``make test`` passes on a laptop without it; ``.ci/run`` installs it and sets
``CNNLAB_REQUIRE_BROWSER=1``, which turns that skip into a failure. Screenshots of
every page go to ``artifacts/e2e/``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# The end-to-end helpers (browser.py, files.py) import by name from this folder.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench.app_server import AppServer  # noqa: E402
from browser import CHROMIUM_ARGS, chromium_path  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "e2e"


def _missing(reason: str):
    if os.environ.get("CNNLAB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (CNNLAB_REQUIRE_BROWSER=1: the end-to-end tests must run here)")
    pytest.skip(reason)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """``streamlit run app.py`` on a free localhost port, with data and models folders of its own.

    It has a home and a temporary folder of its own too, so a test can see that nothing is written
    outside the data and models folders.
    """
    server = AppServer(tmp_path_factory.mktemp("e2e_server"))
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield {"url": server.url, "proc": server.proc, "log": server.log, "data": server.data, "models": server.models,
           "home": server.home, "tmp": server.tmp, "server": server}
    server.stop()


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
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:  # what the browser showed when the test failed
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        try:
            page.screenshot(path=str(ARTIFACTS / f"FAILED_{request.node.name}.png"), full_page=True)
        except Exception:  # a closed or crashed page: nothing to show
            pass
    context.close()
    browser.close()


@pytest.fixture(scope="session")
def camera_video(tmp_path_factory) -> Path:
    """A .y4m video of a real face photo (scikit-image's astronaut, as a webcam snapshot) for the fake camera."""
    import cv2

    sys.path.insert(0, str(ROOT / "tests"))
    from face_photos import snapshot_array

    frame = snapshot_array("astronaut", 3, size=(640, 480))
    yuv = cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420)
    path = tmp_path_factory.mktemp("camera") / "face.y4m"
    with path.open("wb") as f:
        f.write(b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n")
        for _ in range(10):
            f.write(b"FRAME\n" + yuv.tobytes())
    return path

"""Work belongs to its user, not to a tab: refreshed at every stage of a run, closed while it trains,
the app brings back the dataset, the upload, the run with its live curves, and the model it saved itself."""

from __future__ import annotations

import io
import time
import zipfile

import numpy as np
from PIL import Image

from browser import MAIN, exceptions, go, main_text, open_app, shot, start_training, upload, wait_idle, wait_text


def pets_zip(path, per_class: int = 40):
    """Two classes of 64x64 photos-like pictures (bright and dark noise), zipped as a user's folders."""
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for c, name in enumerate(("cats", "dogs")):
            for i in range(per_class):
                pixels = (rng.integers(0, 128, (64, 64, 3)) + 100 * c).astype(np.uint8)
                image = io.BytesIO()
                Image.fromarray(pixels).save(image, format="PNG")
                zf.writestr(f"pets/{name}/{i}.png", image.getvalue())
    path.write_bytes(buffer.getvalue())
    return path


def reload(page) -> None:
    """Refresh the tab, as a user pressing F5, and wait until the page it was on is drawn again."""
    page.reload()
    page.wait_for_selector('[data-testid="stSidebarNav"]', timeout=120_000)
    wait_idle(page)


def new_tab(page):
    """Another tab of the same user (the same workspace address)."""
    tab = page.context.new_page()
    tab.set_default_timeout(60_000)
    tab.workspace, tab.errors = page.workspace, []
    tab.on("pageerror", lambda e: tab.errors.append(str(e)))
    return tab


def wait_for(predicate, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.25)


def test_refresh_at_every_stage_of_a_run_and_close_the_tab(app_server, browser_page, artifacts, tmp_path):
    page = browser_page
    open_app(page, app_server["url"])
    upload(page, "A .zip of class folders", pets_zip(tmp_path / "pets.zip"))
    wait_text(page, "is now the dataset on every page")
    reload(page)  # the dataset and the upload are back
    assert "Folder: pets" in main_text(page)
    go(page, "Data", "Data")
    assert "pets" in page.locator(MAIN).get_by_label("Your uploads").first.inner_text() or \
        "pets" in main_text(page)

    start_training(page, epochs=100, name="refresh_run")
    wait_text(page, "running · epoch", timeout=120)
    reload(page)  # running: the run, its progress and its live curves are back
    wait_text(page, "Run: refresh_run")
    wait_text(page, "running · epoch", timeout=60)
    page.wait_for_function(f"() => document.querySelectorAll('{MAIN} [data-testid=\"stPlotlyChart\"]').length >= 2",
                           timeout=60_000, polling=200)  # the loss and accuracy curves, live
    shot(page, artifacts, "refresh_running")

    page.locator(MAIN).get_by_role("button", name="Pause", exact=True).click()  # (a click in the panel's fragment)
    wait_text(page, "paused · epoch", timeout=60)
    reload(page)  # paused: still paused, with Resume
    wait_text(page, "paused · epoch", timeout=60)
    assert page.locator(MAIN).get_by_role("button", name="Resume", exact=True).count() == 1

    # another tab resumes it, then every tab is closed while it trains
    tab = new_tab(page)
    page.close()
    open_app(tab, app_server["url"])
    go(tab, "Train", "Train")
    wait_text(tab, "Run: refresh_run")
    tab.locator(MAIN).get_by_role("button", name="Resume", exact=True).click()
    wait_text(tab, "running · epoch", timeout=60)
    tab.close()
    # with no tab open, the run goes on to its last epoch and saves itself
    models = app_server["models"]
    wait_for(lambda: any(p.name.startswith("refresh_run") and p.suffix == ".json" for p in models.iterdir()))

    last = new_tab(tab)
    open_app(last, app_server["url"])
    sidebar = last.locator('[data-testid="stSidebar"]').inner_text()
    assert "refresh_run" in sidebar, sidebar  # the current model
    assert "Folder: pets" in main_text(last)  # the dataset
    go(last, "Train", "Train")
    wait_text(last, "refresh_run: test accuracy")
    go(last, "Evaluation", "Evaluation")
    assert "Test images **" not in main_text(last) and "Folder: pets" in main_text(last)
    assert not exceptions(last) and not last.errors
    shot(last, artifacts, "refresh_after_close")

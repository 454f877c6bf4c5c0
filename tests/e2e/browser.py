"""Small helpers for driving the app in Playwright: wait for Streamlit, switch pages, save screenshots."""

from __future__ import annotations

import os
import time
from pathlib import Path

from bench.app_server import CHROMIUM_ARGS, ROOT, chromium_path  # noqa: F401  (the tests' browser)

MAIN = '[data-testid="stMain"]'


def wait_idle(page, timeout: float = 120, settle: float = 1.0) -> None:
    """Wait until Streamlit's status widget has shown no "Running" for ``settle`` seconds."""
    time.sleep(0.3)
    deadline, quiet_since = time.time() + timeout, None
    while time.time() < deadline:
        running = page.evaluate("() => { const w = document.querySelector('[data-testid=\"stStatusWidget\"]');"
                                " return !!w && /Running|Connecting/i.test(w.innerText); }")
        if running:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.time()
        elif time.time() - quiet_since >= settle:
            return
        time.sleep(0.2)
    raise TimeoutError(f"the app was still running after {timeout} s")


def open_app(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector('[data-testid="stSidebarNav"]', timeout=120_000)
    wait_idle(page)


def go(page, nav_label: str, heading: str) -> None:
    """Click ``nav_label`` in the sidebar and wait for the page whose h1 holds ``heading``."""
    page.locator('[data-testid="stSidebarNav"] a', has_text=nav_label).first.click()
    page.wait_for_function("t => { const h = document.querySelector('[data-testid=\"stMain\"] h1');"
                           " return h && h.innerText.includes(t); }", arg=heading, timeout=90_000, polling=200)
    wait_idle(page)


def main_text(page) -> str:
    return page.locator(MAIN).inner_text()


def exceptions(page) -> list[str]:
    """The text of every exception box Streamlit drew."""
    return [e.inner_text() for e in page.locator('[data-testid="stException"]').all()]


def shot(page, folder: Path, name: str) -> Path:
    """A screenshot of the whole page (Streamlit scrolls inside its own container, so the viewport grows to fit)."""
    path = folder / f"{name}.png"
    size = page.viewport_size
    height = page.evaluate(f"() => document.querySelector('{MAIN}').scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(int(height) + 40, 8000))})
    time.sleep(0.5)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    return path


def wait_text(page, text: str, timeout: float = 60) -> None:
    """Wait until the main area shows ``text``."""
    page.wait_for_function("t => document.querySelector('[data-testid=\"stMain\"]').innerText.includes(t)",
                           arg=text, timeout=timeout * 1000, polling=200)  # not every frame: that costs a core


def upload(page, label: str, paths) -> None:
    """Put ``paths`` (one or a list) into the file uploader whose label holds ``label``, as a user's drop would."""
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text=label).first
    uploader.locator('input[type="file"]').set_input_files(paths)
    names = [Path(p).name for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    for name in names:  # the file's chip appears once the browser has taken it; then the app reruns
        try:
            uploader.locator(f'[data-testid="stFileChip"][aria-label^="{name},"]').first.wait_for(timeout=20_000)
        except Exception:  # a file the uploader refused itself shows no chip: the caller checks what it says
            break
    wait_idle(page)


def clear_upload(page, label: str) -> None:
    """Remove the files shown in the uploader whose label holds ``label`` (its × buttons)."""
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text=label).first
    for button in reversed(uploader.locator('[data-testid="stFileChipDeleteBtn"] button, button[data-testid="stFileChipDeleteBtn"]').all()):
        button.click()
        wait_idle(page, settle=0.5)


def choose(page, option: str) -> None:
    """Click the radio option (or any label) reading exactly ``option`` in the main area."""
    page.locator(MAIN).get_by_text(option, exact=True).first.click()
    wait_idle(page)


def chart_points(page) -> list[int]:
    """The number of plotted points of every Plotly chart in the main area (all traces together)."""
    return page.evaluate("() => Array.from(document.querySelectorAll('[data-testid=\"stMain\"] .js-plotly-plot'))"
                         ".map(g => (g.data || []).reduce((n, t) => n + ((t.x || t.y || []).length || 0), 0))")


def select(page, label: str, option: str) -> None:
    """Pick ``option`` in the select box whose label holds ``label``."""
    page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first.click()
    page.get_by_role("option").filter(has_text=option).first.click()
    wait_idle(page)


def health(url: str) -> int:
    """The status of the server's health endpoint (200 while it serves)."""
    import urllib.request

    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=10) as response:  # localhost only
        return response.status


SKIPPED_IN_REPO = {".git", ".venv", "artifacts", ".pytest_cache", "__pycache__"}


def files_outside_data(server: dict) -> dict[str, tuple[int, int]]:
    """Every file the server could have written outside its data and models folders: its home, its temporary
    folder and the repository (but for the virtual environment, caches and test artefacts), with size and mtime."""
    found = {}
    for top in (server["home"], server["tmp"], ROOT):
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames if not (Path(dirpath) == ROOT and d in SKIPPED_IN_REPO)
                           and d != "__pycache__"]
            for name in filenames:
                if name.startswith("__autograph_generated_file"):
                    continue  # TensorFlow's own compiled code of a traced function, not anything a user sent
                path = Path(dirpath) / name
                try:
                    stat = path.stat()
                except OSError:
                    continue
                found[str(path)] = (stat.st_size, stat.st_mtime_ns)
    return found


def fill(page, label: str, value) -> None:
    """Type ``value`` into the main area's input labelled ``label`` and press Enter, as a user would."""
    box = page.locator(MAIN).get_by_label(label, exact=True).first
    box.fill(str(value))
    box.press("Enter")
    wait_idle(page)


def start_training(page, epochs: int, name: str | None = None) -> None:
    """On the Train page, train the default architecture for ``epochs`` (under ``name``), until its run shows."""
    go(page, "Train", "Train")
    if name:
        fill(page, "Model name", name)
    fill(page, "Epochs", epochs)
    page.locator(MAIN).get_by_role("button", name="Train", exact=True).click()
    wait_text(page, f"Run: {name}" if name else "Run: ")


def open_predict(page, url: str) -> list[str]:
    """Open the app on Predict; returns the current model's class names, as the page lists them."""
    open_app(page, url)
    go(page, "Predict", "Predict")
    return main_text(page).split("Classes: ", 1)[1].split("\n", 1)[0].split(", ")

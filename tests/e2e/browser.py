"""Small helpers for driving the app in Playwright: wait for Streamlit, switch pages, save screenshots."""

from __future__ import annotations

import time
from pathlib import Path

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
                           " return h && h.innerText.includes(t); }", arg=heading, timeout=90_000)
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

"""Small helpers for driving the app in Playwright: wait for Streamlit, switch pages, save screenshots."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

from bench.app_server import CHROMIUM_ARGS, ROOT, chromium_path  # noqa: F401  (the tests' browser)
from bench.app_server import run_message_kind

MAIN = '[data-testid="stMain"]'


# Waiting for the run an action causes. Streamlit's root element shows a script-run state, but a
# widget change does not flip it at once (it stays "notRunning" until the server says the run has
# started), and a short run's start and end can reach the page together and never show at all. The
# server's own messages are exact: every whole run starts with a ``new_session`` message and ends
# with ``script_finished`` (fragment runs, such as the Train page's progress panel, end with another
# status; ``bench.app_server.run_message_kind`` reads them). An action waits for a run that starts and
# finishes after it: no fixed pause, however slow the machine is.
_IDLE = """() => { const app = document.querySelector('[data-testid="stApp"]');
  return !!app && app.getAttribute('data-test-script-state') === 'notRunning'; }"""


def watch_app(page) -> None:
    """Keep ``page.app_socket``, the app's websocket (call before the page opens the app; once per page)."""
    if getattr(page, "app_socket", None) is not None or getattr(page, "_watching_app", False):
        return
    page._watching_app = True
    page.app_socket = None

    def on_socket(socket) -> None:
        if "_stcore/stream" in socket.url:
            page.app_socket = socket

    page.on("websocket", on_socket)


def act(page, action, timeout: float = 120) -> None:
    """Do ``action()`` (a click, a key, an upload...) and wait until the whole run it causes has finished."""
    started = []

    def run_done(payload) -> bool:
        kind = run_message_kind(payload)
        if kind == "start":
            started.append(True)
        return kind == "end" and bool(started)

    with page.app_socket.expect_event("framereceived", predicate=run_done, timeout=timeout * 1000):
        action()
    wait_idle(page, timeout)  # and the page has taken in the run's end


def wait_idle(page, timeout: float = 120) -> None:
    """Wait until no script run is in progress (for a run already known to have started)."""
    page.wait_for_function(_IDLE, timeout=timeout * 1000, polling=100)


def workspace_url(page, url: str) -> str:
    """``url`` with the page's workspace (``?workspace=``): every test, every load-test session, a user of its own."""
    name = getattr(page, "workspace", None)
    if not name:
        name = page.workspace = f"e2e-{next(_WORKSPACES)}"
    return f"{url}{'&' if '?' in url else '?'}workspace={name}"


_WORKSPACES = itertools.count(1)


def open_app(page, url: str) -> None:
    """Open the app at ``url`` in the page's own workspace (``page.workspace``, set by the fixtures) and wait."""
    watch_app(page)
    page.goto(workspace_url(page, url))
    page.wait_for_selector('[data-testid="stSidebarNav"]', timeout=120_000)
    wait_idle(page)


def go(page, nav_label: str, heading: str, timeout: float = 120) -> None:
    """Click ``nav_label`` in the sidebar and wait for the page whose h1 holds ``heading``, fully drawn.

    ``timeout`` bounds the page's run (seconds): longer where the machine is known to be busy.
    """
    act(page, lambda: page.locator('[data-testid="stSidebarNav"] a', has_text=nav_label).first.click(), timeout)
    page.wait_for_function("t => { const h = document.querySelector('[data-testid=\"stMain\"] h1');"
                           " return h && h.innerText.includes(t); }", arg=heading, timeout=timeout * 1000, polling=200)


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
    next_frames(page)  # laid out again at the new size
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    return path


def next_frames(page, frames: int = 2) -> None:
    """Wait until the browser has drawn ``frames`` more frames (after a resize, the new layout)."""
    page.evaluate("n => new Promise(done => { const step = k => k ? requestAnimationFrame(() => step(k - 1)) : done(); "
                  "step(n); })", frames)


def wait_camera(page) -> None:
    """Wait until the camera widget's video shows frames of the (fake) webcam."""
    page.wait_for_function("() => Array.from(document.querySelectorAll('video'))"
                           ".some(v => v.readyState >= 2 && v.currentTime > 0 && v.videoWidth > 0)",
                           timeout=60_000, polling=100)


def wait_text(page, text: str, timeout: float = 60) -> None:
    """Wait until the main area shows ``text``."""
    page.wait_for_function("t => document.querySelector('[data-testid=\"stMain\"]').innerText.includes(t)",
                           arg=text, timeout=timeout * 1000, polling=200)  # not every frame: that costs a core


def upload(page, label: str, paths, refused: bool = False) -> None:
    """Put ``paths`` (one or a list) into the file uploader whose label holds ``label``, as a user's drop would.

    The app then runs, and this waits for the whole run. With ``refused``, the uploader itself turns the
    files down (over the upload limit): no run follows, and this waits until each file's chip is marked
    invalid. The chips of accepted files are not waited for: pages that take the files in give their
    uploader a new key, so the chips may be gone before anyone looks.
    """
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text=label).first
    put = uploader.locator('input[type="file"]')
    if not refused:
        act(page, lambda: put.set_input_files(paths))
        return
    put.set_input_files(paths)
    for name in [Path(p).name for p in ([paths] if isinstance(paths, (str, Path)) else paths)]:
        uploader.locator(f'[data-testid="stFileChip"][aria-label^="{name},"][aria-invalid="true"]').first.wait_for(
            timeout=60_000)


def clear_upload(page, label: str) -> None:
    """Remove the files shown in the uploader whose label holds ``label`` (its × buttons)."""
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text=label).first
    for button in reversed(uploader.locator('[data-testid="stFileChipDeleteBtn"] button, button[data-testid="stFileChipDeleteBtn"]').all()):
        act(page, button.click)


def choose(page, option: str) -> None:
    """Click the radio option (or any label) reading exactly ``option`` in the main area."""
    text = page.locator(MAIN).get_by_text(option, exact=True).first
    text.wait_for()  # drawn (the run that showed it may have ended a moment before the page drew it)
    radio = (page.locator(MAIN).locator("label").filter(has=page.get_by_text(option, exact=True))
             .locator('input[type="radio"]'))
    if radio.count() and radio.first.is_checked():
        return  # chosen already: clicking it again runs nothing
    act(page, text.click)


def chart_points(page) -> list[int]:
    """The number of plotted points of every Plotly chart in the main area (all traces together)."""
    return page.evaluate("() => Array.from(document.querySelectorAll('[data-testid=\"stMain\"] .js-plotly-plot'))"
                         ".map(g => (g.data || []).reduce((n, t) => n + ((t.x || t.y || []).length || 0), 0))")


def select(page, label: str, option: str) -> None:
    """Pick ``option`` in the select box whose label holds ``label``."""
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first
    if option in box.inner_text():
        return  # chosen already
    box.click()
    act(page, page.get_by_role("option").filter(has_text=option).first.click)


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
    if box.input_value() == str(value):
        return  # nothing to change: Enter would run nothing
    box.fill(str(value))
    act(page, lambda: box.press("Enter"))


def start_training(page, epochs: int, name: str | None = None) -> None:
    """On the Train page, train the default architecture for ``epochs`` (under ``name``), until its run shows."""
    go(page, "Train", "Train")
    if name:
        fill(page, "Model name", name)
    fill(page, "Epochs", epochs)
    page.locator(MAIN).get_by_role("button", name="Train", exact=True).click()
    wait_text(page, f"Run: {name}" if name else "Run: ")  # (the panel then redraws every 2 s while it trains)


def prediction(page) -> str:
    """The class Predict's Prediction metric shows."""
    metric = page.locator(MAIN).locator('[data-testid="stMetric"]').filter(has_text="Prediction").first
    return metric.locator('[data-testid="stMetricValue"]').inner_text().strip()


def open_predict(page, url: str) -> list[str]:
    """Open the app on Predict; returns the current model's class names, as the page lists them."""
    open_app(page, url)
    go(page, "Predict", "Predict")
    return main_text(page).split("Classes: ", 1)[1].split("\n", 1)[0].split(", ")


# --- classroom mode: users by private link ---------------------------------------------------------

SIDEBAR = '[data-testid="stSidebar"]'


def open_link(page, url: str) -> str | None:
    """Open ``url`` exactly as given (a classroom server's address, with or without ``?ws=KEY``), wait until
    the page is drawn, and return the link key the address then holds (a first visit gets a new one)."""
    watch_app(page)
    page.goto(url)
    page.wait_for_selector('[data-testid="stSidebarNav"]', timeout=120_000)
    wait_idle(page)
    wait_drawn(page)
    return link_key(page)


def link_key(page) -> str | None:
    """The ``ws`` parameter of the page's address: the user's private link key."""
    from urllib.parse import parse_qs, urlparse

    return (parse_qs(urlparse(page.url).query).get("ws") or [None])[0]


def wait_drawn(page, timeout: float = 60) -> None:
    """Wait until no element of the main area still waits for its code (Streamlit's skeleton) or its picture,
    and every table has put its cells in the page (a table draws on a canvas, then adds them for screen readers)."""
    page.wait_for_function(f"() => {{ const m = document.querySelector('{MAIN}'); return !!m && "
                           "!m.querySelector('[data-testid=\"stSkeleton\"]') && "
                           "Array.from(m.querySelectorAll('img')).every(i => i.complete) && "
                           "Array.from(m.querySelectorAll('[data-testid=\"stDataFrame\"]'))"
                           ".every(d => !!d.querySelector('[data-testid^=\"glide-cell-\"]')); }",
                           timeout=timeout * 1000, polling=100)


# Everything a user can read on the page: its text, what the text boxes and select boxes show (not in the
# text), and the cells of tables (drawn on a canvas, with the cells in the page for screen readers).
_USER_TEXT = """() => { const parts = [document.body.innerText];
  document.querySelectorAll('input, textarea').forEach(i => { if (i.type !== 'file' && i.type !== 'hidden') parts.push(i.value); });
  document.querySelectorAll('[data-testid="stDataFrame"]').forEach(d => parts.push(d.textContent));
  return parts.join('\\n'); }"""


def user_text(page) -> str:
    """All a user can read on the page: main area and sidebar, input values and table cells."""
    return page.evaluate(_USER_TEXT)


def options(page, label: str, area: str = MAIN) -> list[str]:
    """The options of the select box whose label holds ``label`` (opened and closed again, as a user looks)."""
    box = page.locator(area).locator('[data-testid="stSelectbox"]').filter(has_text=label).first
    box.scroll_into_view_if_needed()
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
    found = [] if listbox.get_attribute("data-empty") == "true" else listbox.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    listbox.wait_for(state="detached")
    return found


def radio_options(page, label: str) -> list[str]:
    """The options of the main area's radio group whose label holds ``label``."""
    group = page.locator(MAIN).locator('[data-testid="stRadio"]').filter(has_text=label).first
    return [t.strip() for t in group.locator('[data-testid="stRadioGroup"] label').all_inner_texts()]


def alerts(page, kinds: tuple[str, ...] = ("Error", "Warning")) -> list[str]:
    """The text of the main area's messages of the given kinds (``st.error`` is ``Error``, ``st.warning``
    ``Warning``, also ``Info`` and ``Success``)."""
    selector = ", ".join(f'{MAIN} [data-testid="stAlertContent{k}"]' for k in kinds)
    return [e.inner_text() for e in page.locator(selector).all()]


def pick(page, label: str, option: str, area: str = MAIN) -> None:
    """Pick ``option`` in the select box whose label holds ``label``, unless it shows it already (in its text
    box, where this Streamlit shows the choice: ``select`` reads only the box's text)."""
    box = page.locator(area).locator('[data-testid="stSelectbox"]').filter(has_text=label).first
    if box.locator("input").input_value().startswith(option):
        return  # chosen already: picking it again runs nothing
    box.click()
    act(page, page.get_by_role("option").filter(has_text=option).first.click)

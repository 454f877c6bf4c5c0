"""Click to page settled, in Chromium, for the inspection pages: what ``bench.browser_latency`` reports as ``settle``.

A measure starts at the user's click (the browser's own ``click`` event, recorded in the page) and
ends when the page has settled: the script run the click caused has ended (the server's
``script_finished``, and Streamlit's status widget no longer shows Running), no element in the
main area still waits for its code (Streamlit's skeleton) or its picture, and nothing there has
changed for ``QUIET_MS``. A change counts when the browser next draws a frame, so a long script
(a chart library's first load) counts too. The figure is the later of the run's end and the last
change in the main area, from the click.

For each page of ``PAGES``, per repeat, in a fresh browser session (a new tab of the same user):

* **page**: its first visit, from the page before it in the sidebar (the Overview for the first);
* **widget**: its layer picker changed, twice (to another layer and back);
* **revisit**: a second visit, from another page.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.app_server import run_message_kind

QUIET_MS = 400


@dataclass(frozen=True)
class InspectPage:
    key: str  # the figure's name: filters_settle_page_ms, ...
    nav: str  # its label in the sidebar
    heading: str  # the start of its title
    picker: str  # the label of the layer picker timed as its widget


PAGES = [InspectPage("filters", "Filters", "Filters", "Convolution layer"),
         InspectPage("activations", "Activations", "Activations", "Layer"),
         InspectPage("arithmetic", "Step by step", "Convolution and pooling", "Conv layer")]

RUNNING = ("(() => { const w = document.querySelector('[data-testid=\"stStatusWidget\"]');"
           " return !!w && /Running|Connecting/i.test(w.innerText); })()")
SCRIPT_IDLE = ("(() => { const a = document.querySelector('[data-testid=\"stApp\"]');"
               " return !!a && a.getAttribute('data-test-script-state') === 'notRunning'; })()")
# Installed once per browser page: Streamlit changes pages without reloading the document. A change
# counts when the browser next draws a frame (a long script, such as a chart library's first
# load, delays that frame and so counts too); a picture counts when it has loaded.
WATCH = """() => {
  if (window.__settle) return;
  const s = window.__settle = {armed: false, t0: 0, last: 0, ended: 0, pending: false};
  const changed = () => {
    s.last = performance.now();
    if (!s.pending) {
      s.pending = true;
      requestAnimationFrame(() => { s.pending = false; s.last = Math.max(s.last, performance.now()); });
    }
  };
  window.addEventListener('click', () => {
    if (s.armed) { s.armed = false; s.t0 = performance.now(); s.last = 0; s.ended = 0; }
  }, true);
  window.addEventListener('load', e => {
    if (e.target.tagName === 'IMG' && e.target.closest('[data-testid="stMain"]')) changed();
  }, true);
  new MutationObserver(ms => {
    for (const m of ms) {
      if (m.type === 'attributes' && m.attributeName === 'data-test-script-state') {
        if (m.target.getAttribute('data-test-script-state') === 'notRunning') s.ended = performance.now();
      } else {
        const el = m.target.nodeType === 1 ? m.target : m.target.parentElement;
        if (el && el.closest('[data-testid="stMain"]')) { changed(); }
      }
    }
  }).observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
}"""
# Elements whose code Streamlit is still loading show a skeleton; pictures still loading are not complete.
DRAWN = ("(() => { const main = document.querySelector('[data-testid=\"stMain\"]');"
         " return !main.querySelector('[data-testid=\"stSkeleton\"]')"
         " && Array.from(main.querySelectorAll('img')).every(i => i.complete); })()")
SETTLED = (f"() => {{ const s = window.__settle; return s.t0 > 0 && s.last > s.t0 && !s.pending && {SCRIPT_IDLE}"
           f" && !{RUNNING} && {DRAWN} && performance.now() - Math.max(s.last, s.ended) > {QUIET_MS}; }}")
# [settled, the run's end]: the run's end as the page saw it (the status flag), 0 where it never showed running
SETTLED_AT = ("() => { const s = window.__settle; const ended = s.ended > s.t0 ? s.ended - s.t0 : 0;"
              " return [Math.max(s.last - s.t0, ended), ended]; }")
HEADING = ("t => { const h = document.querySelector('[data-testid=\"stMain\"] h1');"
           " return !!h && h.innerText.startsWith(t); }")


def open_session(context, url: str, workspace: str):
    """A new tab of user ``workspace`` (a new Streamlit session) on the Overview, drawn and idle.

    Tabs share one browser ``context``, as a user's tabs share the browser's cache: a first visit
    costs its page's run and drawing, not a new download of Streamlit's scripts.
    """
    page = context.new_page()
    sockets = []
    page.on("websocket", lambda ws: sockets.append(ws) if "_stcore/stream" in ws.url else None)
    page.goto(f"{url}?workspace={workspace}")
    page.wait_for_function("() => !!document.querySelector('[data-testid=\"stSidebarNav\"] a') && "
                           "!!document.querySelector('[data-testid=\"stMain\"] h1') && " + SCRIPT_IDLE +
                           " && !" + RUNNING, timeout=120_000, polling=50)
    page.app_socket = sockets[-1]
    page.evaluate(WATCH)
    return page


def timed(page, action, timeout: float = 60) -> tuple[float, float]:
    """Milliseconds from the click ``action()`` makes to the page settled after the run it causes, and to
    the run's end as the page saw it (what is left is the browser drawing the page)."""
    page.evaluate("() => { window.__settle.armed = true; }")
    run_and_wait(page, action, timeout)
    page.wait_for_function(SETTLED, timeout=timeout * 1000, polling=50)
    settled, ended = page.evaluate(SETTLED_AT)
    return float(settled), float(ended)


def run_and_wait(page, action, timeout: float = 60) -> None:
    """Do ``action()`` and wait for the end of the script run it causes (the whole app's, or a fragment's:
    the user measured has no run training, so no fragment runs on a timer)."""
    started = []

    def run_done(payload) -> bool:
        kind = run_message_kind(payload)
        if kind == "start":
            started.append(True)
        return kind in ("end", "fragment_end") and bool(started)

    with page.app_socket.expect_event("framereceived", predicate=run_done, timeout=timeout * 1000):
        action()


def visit(page, target: InspectPage) -> tuple[float, float]:
    ms = timed(page, lambda: page.locator('[data-testid="stSidebarNav"] a', has_text=target.nav).first.click())
    page.wait_for_function(HEADING, arg=target.heading, timeout=10_000)
    return ms


def pick_other_layer(page, target: InspectPage) -> tuple[float, float]:
    """Open the page's layer picker and time the click on another layer."""
    box = page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').filter(
        has=page.get_by_text(target.picker, exact=True)).first
    box.click()
    option = page.locator('[role="option"][aria-selected="false"]').first
    option.wait_for(timeout=10_000)
    return timed(page, option.click)


def settle_round(context, url: str, workspace: str, figures: dict[str, list[tuple[float, float]]],
                 before_each=None) -> None:
    """One fresh session: each page's first visit, its layer picker twice, then each page again.

    ``before_each()``, when given, is called before every measure (to keep a training run going).
    """
    page = open_session(context, url, workspace)

    def measure(name: str, action) -> None:
        if before_each is not None:
            before_each()
        figures.setdefault(name, []).append(action())

    try:
        for target in PAGES:
            measure(f"{target.key}_settle_page_ms", lambda: visit(page, target))
            for _ in range(2):
                measure(f"{target.key}_settle_widget_ms", lambda: pick_other_layer(page, target))
        for target in PAGES:
            measure(f"{target.key}_settle_revisit_ms", lambda: visit(page, target))
    finally:
        page.close()


def summarise(measures: list[tuple[float, float]], target_ms: float) -> dict:
    """Median, p90, ... of the settle times; ``run_end_median``: of the runs' ends (the server's part, roughly)."""
    times = [settled for settled, _ in measures]
    median = float(np.median(times))
    return {"median": round(median), "p90": round(float(np.percentile(times, 90))), "min": round(min(times)),
            "max": round(max(times)), "n": len(times), "target_ms": target_ms, "meets_target": median <= target_ms,
            "run_end_median": round(float(np.median([ended for _, ended in measures])))}


# --- a training run on the same server ------------------------------------------------------------

def start_trainer(context, url: str, epochs: int = 200):
    """Another user's tab that trains the default architecture on Digits for ``epochs``, left on the Overview.

    Digits trains fast (200 epochs in one to three minutes): ``keep_training`` starts the run again.
    """
    page = open_session(context, url, "settle-trainer")
    run_and_wait(page, lambda: page.locator('[data-testid="stSidebarNav"] a', has_text="Data").first.click())
    box = page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').filter(
        has=page.get_by_text("Dataset", exact=True)).first
    if "Digits" not in box.inner_text():
        box.click()
        run_and_wait(page, page.get_by_role("option").filter(has_text="Digits (scikit-learn)").first.click, timeout=120)
    train_again(page, epochs)
    return page


def train_again(page, epochs: int = 200) -> None:
    run_and_wait(page, lambda: page.locator('[data-testid="stSidebarNav"] a', has_text="Train").first.click())
    box = page.locator('[data-testid="stMain"]').get_by_label("Epochs", exact=True).first
    if box.input_value() != str(epochs):
        box.fill(str(epochs))
        run_and_wait(page, lambda: box.press("Enter"))
    page.locator('[data-testid="stMain"]').get_by_role("button", name="Train", exact=True).click()
    page.wait_for_function("() => document.querySelector('[data-testid=\"stMain\"]').innerText.includes('Run: ')",
                           timeout=120_000, polling=200)
    # the Train page redraws its panel every 2 s: the trainer waits on the Overview instead
    run_and_wait(page, lambda: page.locator('[data-testid="stSidebarNav"] a', has_text="Overview").first.click())


def still_training(page) -> bool:
    """True while the trainer's run trains (its sidebar's status says running)."""
    return ": running, epoch" in page.locator('[data-testid="stSidebar"]').inner_text()


class Trainer:
    """Keeps the trainer's run going, and counts the epochs it trained while measures ran."""

    def __init__(self, page):
        self.page, self.epochs, self.restarts = page, 0, 0
        self.seen = trainer_epoch(page)

    def keep_training(self) -> None:
        now = trainer_epoch(self.page)
        self.epochs += max(0, now - self.seen)
        if not still_training(self.page):
            train_again(self.page)
            self.restarts += 1
            now = trainer_epoch(self.page)
        self.seen = now


def trainer_epoch(page) -> int:
    """The epoch the trainer's run is in, as its sidebar says (refreshed every 4 s); 0 when it does not train."""
    import re

    found = re.search(r": running, epoch (\d+)/", page.locator('[data-testid="stSidebar"]').inner_text())
    return int(found.group(1)) if found else 0

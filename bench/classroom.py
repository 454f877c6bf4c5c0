"""A class on one classroom server: N students at once, each on their own private link, for a given time.

    python -m bench.classroom [--users 8] [--seconds 180]

One ``CNNLAB_MODE=classroom`` server (``bench.app_server``) and one headless Chromium with a fake
webcam; every student is a browser context of their own (another person's browser), all driven at
once from one event loop (Playwright's async API). Each student:

1. opens the app with no link and gets their own (``?ws=KEY``); the students arrive one after
   another over the first ``--arrive-over`` seconds (24);
2. on Data, uploads a zip of class photos and loads it; on My classes, names a class;
3. on Train, trains the default network on their photos for a few epochs (the runs share the
   server's training slots: the rest wait in the queue);
4. until the time is up, explores Filters, Activations, Predict, Step by step, Evaluation and
   Models, reading each page for 3 to 7 s (``--read``) before the next click, and takes a webcam
   snapshot on Predict;
5. waits for their run to end and finds their model on Models.

The browsers run at a lower priority than the server (``--browser-nice``, 10): a class's browsers
draw on the students' own computers, and on this one machine they would otherwise take most of the
server's cores. Their drawing still counts in every page's time.

One of them also sends bad inputs (``bench.classroom_files.bad_inputs``): each must get a message
(an error or a warning) and no exception.

Measured:

* **page**: per sidebar click, the time from the click to the page settled: the script run it
  caused has ended (the server's ``script_finished``, as the page received it), nothing in the main
  area waits for its code or its picture, and the main area has not changed for ``QUIET_MS``. The
  figure is the later of the run's end and the last change, from the click, all on the page's clock.
  Each is split into ``server`` (click to the run's end message) and ``draw`` (the rest);
* **queue wait**: from pressing Train to the run first shown as running (the sidebar's status is
  redrawn every 4 s on other pages, the Train page's every 2 s: the figure is that coarse);
* **peak RSS** of the server's process tree (sampled every 0.5 s; and the kernel's high-water mark);
* **errors**: exception boxes, the page's own script errors, steps that timed out, runs that failed;
* **cross-user reads**: any other student's zip, class or model name in what a student's page shows
  (text, text and select boxes, table cells); each student's own names must show on their pages.

Targets: errors 0, cross-user reads 0, page p90 <= 2 s. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import shlex
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.app_server import CHROMIUM_ARGS, AppServer, _proc_status, _process_tree, chromium_path
from bench.classroom_files import BadInput, bad_inputs, class_zip, webcam_video

QUIET_MS = 400
# A class is not eight robots clicking on cue: students open the app over the first half minute, and read a
# page (its pictures, its captions) before the next click. --arrive-over 0 --read 0 0 drops both: every
# student at once, each click as soon as the page before settled (a stress test, not a class).
ARRIVE_OVER_S = 24.0
READ_S = (3.0, 7.0)
# A student's browser draws on their own computer, not on the server's cores. Here all eight run on the
# server's machine, and at the same priority they took four fifths of its CPU (288 CPU-s against the
# server's 58 in one class), so the server's own answers waited behind eight browsers' drawing. Run at
# a lower priority (nice 10), they still draw whenever the server leaves a core free, and their drawing
# still counts in every page's time. --browser-nice 0 runs them as the server's equals.
BROWSER_NICE = 10
TARGET_PAGE_P90_MS = 2000
STEP_TIMEOUT_S = 240  # one click's run on a server shared by the whole class: a bound, not a wait
TOUR = [("Filters", "Filters"), ("Activations", "Activations"), ("Predict", "Predict"),
        ("Step by step", "Convolution and pooling"), ("Evaluation", "Evaluation"), ("Models", "Models")]
EPOCHS = 4
MAIN = '[data-testid="stMain"]'
SIDEBAR = '[data-testid="stSidebar"]'


def _run_message_fields() -> dict:
    """The protobuf numbers the page needs to tell a run's start and end among the server's messages."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    fields = ForwardMsg.DESCRIPTOR.fields_by_name
    value = ForwardMsg.ScriptFinishedStatus.Value
    return {"newSession": fields["new_session"].number, "scriptFinished": fields["script_finished"].number,
            "ends": [value("FINISHED_SUCCESSFULLY"), value("FINISHED_WITH_COMPILE_ERROR")],
            "fragmentEnd": value("FINISHED_FRAGMENT_RUN_SUCCESSFULLY")}


# Installed in every page before the app's own scripts. It reads the app's websocket messages as they
# arrive (the top-level field of each: a run's start, a whole run's end, a fragment's end), times the
# user's click, the main area's changes (when the browser next draws a frame; a picture when it has
# loaded), and notices the training run's status (queued, then running) on whatever page is open.
PAGE_SCRIPT = """(F) => {
  const s = window.__cx = {t0: 0, click: false, start: 0, end: 0, last: 0, pending: false, kind: '',
                           trainAt: 0, queuedAt: 0, runningAt: 0, sockets: 0};
  const kindOf = data => {
    if (!(data instanceof ArrayBuffer)) return '';
    const b = new Uint8Array(data); let i = 0;
    const varint = () => { let v = 0, m = 1, x; do { x = b[i++]; v += (x & 127) * m; m *= 128; } while ((x & 128) && i < b.length); return v; };
    while (i < b.length) {
      const key = varint(), f = Math.floor(key / 8), wt = key % 8;
      if (f === F.newSession) return 'start';
      if (f === F.scriptFinished && wt === 0) { const v = varint(); return F.ends.includes(v) ? 'end' : v === F.fragmentEnd ? 'fragment_end' : 'other_end'; }
      if (wt === 0) varint(); else if (wt === 1) i += 8; else if (wt === 2) { const n = varint(); i += n; } else if (wt === 5) i += 4; else return '';
    }
    return '';
  };
  let lastStart = 0;
  const onMessage = e => {
    const k = kindOf(e.data); if (!k) return;
    const now = performance.now(); s.kind = k;
    if (k === 'start') lastStart = now;
    if (k === 'end' && s.t0 && lastStart >= s.t0) { s.start = lastStart; s.end = now; }
  };
  const Native = window.WebSocket;
  const Watched = function (url, protocols) {
    const ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
    if (String(url).includes('_stcore/stream')) { s.sockets += 1; ws.addEventListener('message', onMessage); }
    return ws;
  };
  Watched.prototype = Native.prototype;
  for (const k of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) Watched[k] = Native[k];
  window.WebSocket = Watched;
  s.arm = click => { s.t0 = performance.now(); s.click = click; s.start = 0; s.end = 0; s.last = 0; };
  window.addEventListener('click', () => { if (s.click) { s.click = false; s.t0 = performance.now(); } }, true);
  const changed = () => {
    s.last = performance.now();
    if (!s.pending) { s.pending = true; requestAnimationFrame(() => { s.pending = false; s.last = Math.max(s.last, performance.now()); }); }
  };
  const inMain = n => { const el = n && (n.nodeType === 1 ? n : n.parentElement); return !!el && !!el.closest('[data-testid="stMain"]'); };
  window.addEventListener('load', e => { if (e.target.tagName === 'IMG' && inMain(e.target)) changed(); }, true);
  const watch = () => new MutationObserver(ms => { if (ms.some(m => inMain(m.target))) changed(); })
      .observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
  if (document.body) watch(); else document.addEventListener('DOMContentLoaded', watch);
  setInterval(() => {
    if (!s.trainAt || s.runningAt) return;
    const side = document.querySelector('[data-testid="stSidebar"]'), main = document.querySelector('[data-testid="stMain"]');
    const text = (side ? side.textContent : '') + (main ? main.textContent : '');
    if (!s.queuedAt && /waiting, position|Waiting for a free training slot/.test(text)) s.queuedAt = performance.now();
    if (/: running, epoch|running · epoch/.test(text)) s.runningAt = performance.now();
  }, 250);
}"""
SETTLED = """([quiet, heading]) => { const s = window.__cx, m = document.querySelector('[data-testid="stMain"]');
  if (!s.end || s.kind === 'start' || s.pending || !m) return false;
  if (m.querySelector('[data-testid="stSkeleton"]') || !Array.from(m.querySelectorAll('img')).every(i => i.complete)) return false;
  if (!Array.from(m.querySelectorAll('[data-testid="stDataFrame"]')).every(d => !!d.querySelector('[data-testid^="glide-cell-"]'))) return false;
  const h = m.querySelector('h1');
  if (heading && !(h && h.innerText.includes(heading))) return false;
  return performance.now() - Math.max(s.last, s.end) > quiet; }"""
FIGURES = "() => { const s = window.__cx; return [Math.max(s.last, s.end) - s.t0, s.end - s.t0]; }"
USER_TEXT = """() => { const parts = [document.body.innerText];
  document.querySelectorAll('input, textarea').forEach(i => { if (i.type !== 'file' && i.type !== 'hidden') parts.push(i.value); });
  document.querySelectorAll('[data-testid="stDataFrame"]').forEach(d => parts.push(d.textContent));
  return parts.join('\\n'); }"""


class StepError(Exception):
    """A step of a student failed: what the student saw instead (an exception box, a timeout...)."""


@dataclass
class Student:
    index: int
    tag: str
    page: object = None
    key: str | None = None
    snapshot_taken: bool = False

    @property
    def names(self) -> dict:
        return {"zip": f"s{self.index}_zip_{self.tag}", "class": f"s{self.index}_class_{self.tag}",
                "model": f"s{self.index}_model_{self.tag}"}


@dataclass
class Measures:
    visits: list = field(default_factory=list)  # {"student", "page", "settled_ms", "server_ms", "at_s"}
    actions: list = field(default_factory=list)  # {"student", "action", "settled_ms", "server_ms"}
    queue_waits: list = field(default_factory=list)  # seconds, one per run that started
    queued_runs: int = 0  # runs seen waiting in the queue
    errors: list = field(default_factory=list)  # "student i, where: what"
    cross_user_reads: list = field(default_factory=list)  # (reader, page, name)
    own_names_missing: list = field(default_factory=list)  # (student, name): a name of theirs never shown to them
    bad_inputs: list = field(default_factory=list)
    runs_done: int = 0
    cpu_s: dict = field(default_factory=dict)  # CPU seconds used during the class, by whom
    began: float = field(default_factory=time.monotonic)  # the class's start: a visit's "at_s" counts from it

    shots: Path | None = None  # where the page of each error is saved as a picture

    def error(self, student: Student, where: str, what: str) -> None:
        line = f"student {student.index}, {where}: {what}"
        self.errors.append(line)
        print("ERROR " + line[:500], flush=True)


# --- driving one page ----------------------------------------------------------------------------


async def settle(page, heading: str | None = None, timeout: float = STEP_TIMEOUT_S) -> tuple[float, float]:
    await page.wait_for_function(SETTLED, arg=[QUIET_MS, heading or ""], timeout=timeout * 1000, polling=100)
    settled, server = await page.evaluate(FIGURES)
    return float(settled), float(server)


async def timed(page, action, click: bool, heading: str | None = None) -> tuple[float, float]:
    """Do ``action`` (a coroutine function) and wait for the page to settle after the run it causes."""
    await page.evaluate("c => window.__cx.arm(c)", click)
    await action()
    return await settle(page, heading)


async def exceptions(page) -> list[str]:
    return [await e.inner_text() for e in await page.locator('[data-testid="stException"]').all()]


async def alerts(page, kinds=("Error", "Warning")) -> list[str]:
    selector = ", ".join(f'{MAIN} [data-testid="stAlertContent{k}"]' for k in kinds)
    return [await e.inner_text() for e in await page.locator(selector).all()]


class Driver:
    """One student's browser page, the clicks they make, and what is measured of them."""

    async def failed(self, where: str, exc: Exception) -> None:
        """Record an error, with a picture of the page as the student saw it (and how many times the page
        connected to the server: more than once means a new session)."""
        try:
            sockets = await asyncio.wait_for(self.page.evaluate("() => window.__cx.sockets"), 10)
        except Exception:  # noqa: BLE001
            sockets = "?"
        self.m.error(self.s, where, f"{_what(exc)} (connections: {sockets})")
        if self.m.shots is not None:
            self.m.shots.mkdir(parents=True, exist_ok=True)
            try:
                await self.page.screenshot(path=str(self.m.shots / f"s{self.s.index}_{len(self.m.errors)}.png"),
                                           full_page=True, timeout=30_000)
            except Exception:  # noqa: BLE001  (a closed or hung page: no picture)
                pass

    def __init__(self, student: Student, measures: Measures, others: list[str]):
        self.s, self.m, self.others = student, measures, others
        self.page = student.page

    async def check(self, where: str) -> None:
        """No exception box; none of the other students' names on the page."""
        boxes = await exceptions(self.page)
        if boxes:
            raise StepError(f"exception shown: {boxes[0][:300]}")
        text = await self.page.evaluate(USER_TEXT)
        for name in self.others:
            if name in text:
                self.m.cross_user_reads.append((self.s.index, where, name))
                print(f"CROSS-USER READ: student {self.s.index} sees {name} on {where}", flush=True)

    async def visit(self, label: str, heading: str) -> None:
        nav = self.page.locator('[data-testid="stSidebarNav"] a', has_text=label).first
        settled, server = await timed(self.page, nav.click, True, heading)
        self.m.visits.append({"student": self.s.index, "page": label, "settled_ms": settled, "server_ms": server,
                              "at_s": round(time.monotonic() - self.m.began - settled / 1000, 1)})
        await self.check(label)

    async def act(self, name: str, action, click: bool = True) -> None:
        settled, server = await timed(self.page, action, click)
        self.m.actions.append({"student": self.s.index, "action": name, "settled_ms": settled, "server_ms": server})

    async def pick(self, label: str, option: str) -> None:
        box = self.page.locator(MAIN).locator('[data-testid="stSelectbox"]').filter(has_text=label).first
        if (await box.locator("input").input_value()).startswith(option):
            return
        await box.click()
        await self.act(f"pick {label}", self.page.get_by_role("option").filter(has_text=option).first.click)

    async def choose(self, option: str) -> None:
        radio = self.page.locator(MAIN).locator("label").filter(has=self.page.get_by_text(option, exact=True))
        await radio.first.wait_for()
        if await radio.locator('input[type="radio"]').first.is_checked():
            return
        await self.act(f"choose {option}", radio.first.click)

    async def fill(self, label: str, value) -> None:
        box = self.page.locator(MAIN).get_by_label(label, exact=True).first
        if await box.input_value() == str(value):
            return
        await box.fill(str(value))
        await self.act(f"type {label}", lambda: box.press("Enter"), click=False)

    async def upload(self, label: str, path: Path) -> None:
        put = self.page.locator('[data-testid="stFileUploader"]').filter(has_text=label).first.locator(
            'input[type="file"]')
        await self.act(f"upload {label}", lambda: put.set_input_files(str(path)), click=False)

    async def wait_text(self, text: str, area: str = MAIN, timeout: float = STEP_TIMEOUT_S) -> None:
        await self.page.wait_for_function("([a, t]) => document.querySelector(a).innerText.includes(t)",
                                          arg=[area, text], timeout=timeout * 1000, polling=250)


# --- what a student does ------------------------------------------------------------------------


async def open_own_link(d: Driver, url: str) -> None:
    page = d.page
    await page.goto(url)
    await page.wait_for_selector('[data-testid="stSidebarNav"] a', timeout=STEP_TIMEOUT_S * 1000)
    await page.evaluate("() => window.__cx.arm(false)")
    await page.wait_for_function("() => !!document.querySelector('[data-testid=\"stMain\"] h1') && "
                                 "document.querySelector('[data-testid=\"stApp\"]').getAttribute("
                                 "'data-test-script-state') === 'notRunning'", timeout=STEP_TIMEOUT_S * 1000)
    from urllib.parse import parse_qs, urlparse

    d.s.key = (parse_qs(urlparse(page.url).query).get("ws") or [None])[0]
    if not d.s.key or len(d.s.key) < 43:
        raise StepError(f"no private link in the address: {page.url}")


async def load_own_photos(d: Driver, zip_path: Path) -> None:
    await d.visit("Data", "Data")
    await d.pick("Dataset", "Image folder")
    await d.choose("Upload a .zip of class folders")
    await d.upload("A .zip with one folder of images per class", zip_path)
    await d.wait_text("Press Load dataset to use it.", timeout=30)
    await d.act("Load dataset", d.page.locator(MAIN).get_by_role("button", name="Load dataset").click)
    await d.wait_text(f"Folder: {d.s.names['zip']}", area=SIDEBAR)
    await d.check("Data, loaded")


async def name_a_class(d: Driver) -> None:
    await d.visit("My classes", "My classes")
    box = d.page.locator(MAIN).locator('input[aria-label="Class name"]').first
    await box.fill(d.s.names["class"])
    await d.act("rename class", lambda: box.press("Enter"), click=False)
    await d.check("My classes, named")


async def start_run(d: Driver) -> None:
    await d.visit("Train", "Train")
    await d.fill("Model name", d.s.names["model"])
    await d.fill("Epochs", EPOCHS)
    button = d.page.locator(MAIN).get_by_role("button", name="Train", exact=True)
    await d.page.evaluate("() => { window.__cx.trainAt = performance.now(); }")
    await d.act("Train", button.click)
    await d.wait_text(f"Run: {d.s.names['model']}")


async def snapshot(d: Driver) -> None:
    """On Predict: a webcam snapshot, classified; then back to the dataset's samples."""
    await d.choose("Webcam snapshot")
    take = d.page.get_by_role("button", name="Take Photo").first
    await take.wait_for(state="visible", timeout=60_000)
    # frames flowing (the clock of the video has moved), not only its size known, as the end-to-end tests wait
    # (tests/e2e/browser.wait_camera). The camera asks for a fixed resolution (ui.camera): asked for the widget's
    # width, it restarted when that width changed, and a click then took nothing (tests/e2e/test_camera.py).
    await d.page.wait_for_function("() => Array.from(document.querySelectorAll('video'))"
                                   ".some(v => v.readyState >= 2 && v.currentTime > 0 && v.videoWidth > 0)",
                                   timeout=60_000, polling=100)
    await d.act("webcam snapshot", take.click)
    await d.wait_text("webcam snapshot (", timeout=60)
    await d.check("Predict, snapshot")
    d.s.snapshot_taken = True
    await d.choose("Dataset sample")


async def explore(d: Driver, deadline: float, read: tuple[float, float]) -> None:
    step = d.s.index  # each student starts the tour at another page
    rng = random.Random(d.s.index)
    while time.monotonic() < deadline:
        label, heading = TOUR[step % len(TOUR)]
        step += 1
        try:
            await d.visit(label, heading)
            if label == "Predict" and not d.s.snapshot_taken:
                await snapshot(d)
        except Exception as exc:  # noqa: BLE001  (recorded; the student goes on to the next page)
            await d.failed(label, exc)
        await asyncio.sleep(min(rng.uniform(*read), max(0.0, deadline - time.monotonic())))  # reading the page


async def finish_run(d: Driver) -> None:
    """Wait for the student's run to end; their model must then be on their Models page."""
    name = d.s.names["model"]
    await d.wait_text(f"Training {name}: done", area=SIDEBAR, timeout=600)
    d.m.runs_done += 1
    await d.visit("Models", "Models")
    text = await d.page.evaluate(USER_TEXT)
    for key in ("model", "zip"):
        if d.s.names[key] not in text:
            d.m.own_names_missing.append((d.s.index, d.s.names[key]))
    await d.visit("My classes", "My classes")
    if d.s.names["class"] not in await d.page.evaluate(USER_TEXT):
        d.m.own_names_missing.append((d.s.index, d.s.names["class"]))


# What the app shows once it has taken in a file (it accepted it): the picture's caption, the zip's summary, the
# model's line; otherwise it must name the file in an error or a warning.
ACCEPTED = {"photo": "{name} (", "zip": "{name}: ", "model": "Added {stem}"}
OUTCOME = """([name, accepted]) => { const m = document.querySelector('[data-testid="stMain"]');
  if (m.querySelector('[data-testid="stException"]')) return 'exception';
  const said = Array.from(m.querySelectorAll('[data-testid="stAlertContentError"], [data-testid="stAlertContentWarning"]'))
      .some(e => e.innerText.includes(name));
  if (said) return 'message';
  return m.innerText.includes(accepted) ? 'accepted' : ''; }"""


async def send_bad_inputs(d: Driver, files: list[BadInput]) -> None:
    """Each bad file through its upload: a message (an error or a warning naming the file) and no exception.

    The answer is waited for as such (the message, the file taken in, or an exception box), not as the end of
    the next run: the run that ends first may be another one (the sidebar redraws the app when a run ends).
    """
    places = {"photo": ("Predict", "Predict", "Photo"), "zip": ("Data", "Data", "A .zip with one folder"),
              "model": ("Models", "Models", "Model file (.keras)")}
    for bad in files:
        nav, heading, label = places[bad.target]
        row = {"file": bad.path.name, "what": bad.what, "page": nav}
        accepted = ACCEPTED[bad.target].format(name=bad.path.name, stem=bad.path.stem)
        try:
            await d.visit(nav, heading)
            if bad.target == "photo":
                await d.choose("Upload a photo")
            if bad.target == "zip":
                await d.pick("Dataset", "Image folder")
                await d.choose("Upload a .zip of class folders")
            began = time.perf_counter()
            await d.upload(label, bad.path)
            answer = await d.page.wait_for_function(OUTCOME, arg=[bad.path.name, accepted],
                                                    timeout=STEP_TIMEOUT_S * 1000, polling=250)
            row["seconds"] = round(time.perf_counter() - began, 1)
            row["answer"] = await answer.json_value()
            shown = [a for a in await alerts(d.page) if bad.path.name in a]
            boxes = await exceptions(d.page)
            row["message"] = shown[0][:400] if shown else None
            row["exception"] = boxes[0][:300] if boxes else None
            row["ok"] = bool(shown) and not boxes
        except Exception as exc:  # noqa: BLE001
            row.update(ok=False, answer="none", exception=_what(exc))
            await d.failed(f"bad input {bad.path.name}", exc)
        d.m.bad_inputs.append(row)
        print(f"bad input {bad.path.name}: {row['answer']}, {row.get('seconds', '?')} s: "
              f"{(row.get('message') or row.get('exception') or '')[:160]}", flush=True)
        if row.get("exception") and "seconds" in row:  # (an exception box; a step that failed is recorded above)
            d.m.error(d.s, f"bad input {bad.path.name}", row["exception"])
    await d.visit("Predict", "Predict")  # back to the dataset's samples for the tour
    await d.choose("Dataset sample")


def _what(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"


async def student_day(d: Driver, url: str, zip_path: Path, deadline: float, bad: list[BadInput],
                      arrive: float = 0.0, read: tuple[float, float] = (0.0, 0.0)) -> None:
    await asyncio.sleep(arrive)  # the moment this student opens the app, after the class's first
    steps = [("open", lambda: open_own_link(d, url)), ("own photos", lambda: load_own_photos(d, zip_path)),
             ("class", lambda: name_a_class(d)), ("train", lambda: start_run(d))]
    if bad:
        steps.append(("bad inputs", lambda: send_bad_inputs(d, bad)))
    done = []
    for where, step in steps:
        for attempt in (1, 2):  # a student who meets an error tries once more, as a person would
            try:
                await step()
                done.append(where)
                break
            except Exception as exc:  # noqa: BLE001  (recorded; the day goes on)
                await d.failed(where if attempt == 1 else f"{where}, again", exc)
        if where == "open" and "open" not in done:
            return
    print(f"student {d.s.index}: link {d.s.key[:6]}…, done: {', '.join(done)}; exploring", flush=True)
    await explore(d, deadline, read)
    try:
        await finish_run(d)
    except Exception as exc:  # noqa: BLE001
        await d.failed("end of the run", exc)
    train = await d.page.evaluate("() => { const s = window.__cx; return [s.trainAt, s.queuedAt, s.runningAt]; }")
    if train[0] and train[2]:
        d.m.queue_waits.append((train[2] - train[0]) / 1000)
    if train[1]:
        d.m.queued_runs += 1
    d.m.errors.extend(f"student {d.s.index}, page error: {e}" for e in d.page_errors)
    print(f"student {d.s.index}: done ({len([v for v in d.m.visits if v['student'] == d.s.index])} pages)",
          flush=True)


def cpu_seconds(pids) -> float:
    """CPU time (user and system) the processes ``pids`` have used, from /proc (Linux)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, ValueError, IndexError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """CPU time the whole machine has used (all but idle and I/O wait), from /proc/stat."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    return (sum(values[:8]) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def cpu_split(server: AppServer) -> dict:
    """CPU seconds so far: the server's process tree, the browsers (this process's other children: Playwright's
    driver and Chromium), this process, and the whole machine."""
    served = set(_process_tree(server.proc.pid))
    ours = [pid for pid in _process_tree(os.getpid()) if pid not in served and pid != os.getpid()]
    # Playwright's driver: the bench's own, not a student's
    driver = [pid for pid in ours if _command(pid).startswith("node")]
    own = os.times()
    return {"server": cpu_seconds(served), "browsers": cpu_seconds(set(ours) - set(driver)),
            "driver": cpu_seconds(driver), "bench": own.user + own.system, "machine": machine_cpu_seconds()}


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


class MemorySampler:
    """The resident memory of the server's process tree, sampled every ``every`` seconds in a thread."""

    def __init__(self, server: AppServer, every: float = 0.5):
        self.server, self.every, self.peak, self.samples = server, every, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            total = sum(_proc_status(pid, "VmRSS") for pid in _process_tree(self.server.proc.pid))
            self.peak, self.samples = max(self.peak, total), self.samples + 1

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def percentile(values, q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if len(values) else None


def summarise(m: Measures, users: int, seconds: float, peak_rss: int, elapsed: float) -> dict:
    settled = [v["settled_ms"] for v in m.visits]
    per_page = {}
    for label in dict.fromkeys(v["page"] for v in m.visits):
        rows = [v for v in m.visits if v["page"] == label]
        ms = [v["settled_ms"] for v in rows]
        server = [v["server_ms"] for v in rows]
        draw = [v["settled_ms"] - v["server_ms"] for v in rows]
        per_page[label] = {"n": len(rows), "p50_ms": percentile(ms, 50), "p90_ms": percentile(ms, 90),
                           "max_ms": round(max(ms), 1), "server_p50_ms": percentile(server, 50),
                           "server_p90_ms": percentile(server, 90), "draw_p50_ms": percentile(draw, 50),
                           "draw_p90_ms": percentile(draw, 90)}
    actions = {}
    for name in dict.fromkeys(a["action"] for a in m.actions):
        ms = [a["settled_ms"] for a in m.actions if a["action"] == name]
        actions[name] = {"n": len(ms), "p50_ms": percentile(ms, 50), "p90_ms": percentile(ms, 90)}
    page_p90 = percentile(settled, 90)
    return {
        "seconds": seconds, "elapsed_s": round(elapsed), "page_visits": len(m.visits), "per_page": per_page,
        "actions": actions, "slowest_visits": sorted(m.visits, key=lambda v: -v["settled_ms"])[:12],
        "cpu_s": m.cpu_s, "runs_done": m.runs_done, "runs_queued": m.queued_runs,
        "queue_waits_s": sorted(round(w, 1) for w in m.queue_waits), "own_names_missing": m.own_names_missing,
        "bad_inputs": m.bad_inputs, "bad_input_failures": sum(not b.get("ok") for b in m.bad_inputs),
        "error_list": m.errors[:20], "cross_user_read_list": m.cross_user_reads[:20],
        "target_page_p90_ms": TARGET_PAGE_P90_MS,
        "meets_targets": not m.errors and not m.cross_user_reads and page_p90 is not None
        and page_p90 <= TARGET_PAGE_P90_MS,
        "cpus": len(os.sched_getaffinity(0)), "measured": time.strftime("%Y-%m-%d %H:%M"),
        "load_average_after": [round(x, 1) for x in os.getloadavg()],  # other work on the machine shows here
        "users": users, "errors": len(m.errors), "cross_user_reads": len(m.cross_user_reads),
        "page_p50_ms": percentile(settled, 50), "page_p90_ms": page_p90,
        "server_p90_ms": percentile([v["server_ms"] for v in m.visits], 90),
        "queue_wait_p90_s": percentile(m.queue_waits, 90), "peak_rss_mb": round(peak_rss / 2**20),
    }


async def run_class(server: AppServer, users: int, seconds: float, folder: Path, video: Path,
                    bad: list[BadInput], shots: Path | None = None, arrive_over: float = 0.0,
                    read: tuple[float, float] = (0.0, 0.0), browser_nice: int = 0) -> tuple[Measures, float]:
    from playwright.async_api import async_playwright

    m, tag = Measures(shots=shots), secrets.token_hex(3)
    students = [Student(i, tag) for i in range(users)]
    names = {s.index: list(s.names.values()) for s in students}
    zips = [class_zip(folder / f"{s.names['zip']}.zip", seed=s.index) for s in students]
    script = f"({PAGE_SCRIPT})({json.dumps(_run_message_fields())})"
    args = CHROMIUM_ARGS + ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                            f"--use-file-for-fake-video-capture={video}"]
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=niced(chromium_path(), browser_nice, folder), args=args,
                                          headless=True)
        drivers = []
        for s in students:
            context = await browser.new_context(viewport={"width": 1280, "height": 900}, permissions=["camera"])
            await context.add_init_script(script)
            s.page = await context.new_page()
            s.page.set_default_timeout(STEP_TIMEOUT_S * 1000)
            d = Driver(s, m, [n for i, ns in names.items() if i != s.index for n in ns])
            d.page_errors = []
            s.page.on("pageerror", lambda e, d=d: d.page_errors.append(str(e)[:300]))
            drivers.append(d)
        began, cpu_before = time.monotonic(), cpu_split(server)
        m.began = began
        deadline = began + seconds
        await asyncio.gather(*(student_day(d, server.link(), z, deadline, bad if d.s.index == users - 1 else [],
                                           arrive=arrive_over * d.s.index / users, read=read)
                               for d, z in zip(drivers, zips)))
        elapsed = time.monotonic() - began
        cpu_after = cpu_split(server)
        m.cpu_s = {k: round(cpu_after[k] - cpu_before[k]) for k in cpu_after}
        m.cpu_s["other"] = round(m.cpu_s["machine"] - m.cpu_s["server"] - m.cpu_s["browsers"] - m.cpu_s["driver"]
                                 - m.cpu_s["bench"])
        await browser.close()
    return m, elapsed


def niced(executable: str, nice: int, folder: Path) -> str:
    """``executable`` started at the lower priority ``nice`` (a wrapper script in ``folder``); as is for 0."""
    if nice <= 0:
        return executable
    wrapper = folder / "chromium-niced"
    wrapper.write_text(f"#!/bin/sh\nexec nice -n {int(nice)} {shlex.quote(executable)} \"$@\"\n")
    wrapper.chmod(0o755)
    return str(wrapper)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=8, help="students at once (the last also sends bad inputs)")
    parser.add_argument("--seconds", type=float, default=180, help="how long they explore after starting their run")
    parser.add_argument("--no-bad-inputs", action="store_true", help="nobody sends bad inputs")
    parser.add_argument("--arrive-over", type=float, default=ARRIVE_OVER_S,
                        help="seconds over which the students open the app, one after another at even intervals "
                             "(0: all at the same instant)")
    parser.add_argument("--read", type=float, nargs=2, default=READ_S, metavar=("MIN", "MAX"),
                        help="seconds a student reads each page before the next click, drawn at random between "
                             "MIN and MAX (0 0: no pause at all)")
    parser.add_argument("--browser-nice", type=int, default=BROWSER_NICE,
                        help="priority of the students' browsers below the server's (nice level; 0: the same)")
    parser.add_argument("--shots", type=Path, default=Path("artifacts/classroom"),
                        help="folder for a picture of the page at each error")
    args = parser.parse_args(argv)
    if chromium_path() is None:
        sys.exit("error: no Chromium found (apt-get install chromium, or set CNNLAB_CHROMIUM)")
    # stopped (kill, timeout): the server is stopped too, as on any other way out
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="cnnlab_classroom_") as tmp:
        folder = Path(tmp)
        video = webcam_video(folder / "webcam.y4m")
        bad = [] if args.no_bad_inputs else bad_inputs(folder / "bad")
        server = AppServer(folder / "server", classroom=True, teacher_key=secrets.token_urlsafe(32)).start()
        print(f"classroom server on {server.url} (pid {server.proc.pid}); {args.users} students for "
              f"{args.seconds:.0f} s", flush=True)
        try:
            with MemorySampler(server) as memory:
                m, elapsed = asyncio.run(run_class(server, args.users, args.seconds, folder, video, bad, args.shots,
                                                   args.arrive_over, tuple(args.read), args.browser_nice))
            peak = max(memory.peak, server.peak_rss_bytes())
            log = server.log_text()
        finally:
            server.stop()
        if m.errors and args.shots:  # the server's side of the errors, beside their pictures
            args.shots.mkdir(parents=True, exist_ok=True)
            (args.shots / "server.log").write_text(server.log_text())
    if "Traceback" in log:
        first = log[log.index("Traceback"):][:1500]
        m.errors.append("server log: " + " ".join(first.split())[:600])
    result = summarise(m, args.users, args.seconds, peak, elapsed)
    result.update(arrive_over_s=args.arrive_over, read_s=list(args.read), browser_nice=args.browser_nice)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()

"""Start the app's server as a real process (``python -m ui.serve``, as ``make run`` does), and find the
system's Chromium, for the browser benchmarks and end-to-end tests.

    >>> server = AppServer(folder).start()   # free localhost port, data and models folders of its own
    >>> server.url, server.rss_bytes()
    >>> server.kill()                        # SIGKILL, as a crash would; server.start() again to restart

The process gets a data folder, a models folder, a home and a temporary folder
under ``folder`` (kept across restarts), so a caller can check what it wrote.

By default it runs in personal mode with the test hook ``CNNLAB_WORKSPACE_FROM_URL=1``: each browser
names its workspace in the address (``?workspace=NAME``). ``classroom=True`` starts it as a class's
server instead (``CNNLAB_MODE=classroom``, no test hook): every browser gets a private link, the
teacher is whoever opens ``server.link(teacher_key)``, and ``roots`` are the folders the teacher shares.

    >>> server = AppServer(folder, classroom=True, roots=[shared], teacher_key=key).start()
    >>> server.link(key)                     # the address that opens the teacher's workspace
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def chromium_path() -> str | None:
    """The system's Chromium: ``$CNNLAB_CHROMIUM``, else ``chromium`` on the PATH (Debian's package)."""
    path = os.environ.get("CNNLAB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    return path if path and Path(path).exists() else None


# Every script run starts with a ``new_session`` message and ends with ``script_finished``: a whole
# run with one status, a fragment run (the sidebar's training status, the Train page's panel, a
# widget inside a fragment) with another.
_RUN_ENDS = ("FINISHED_SUCCESSFULLY", "FINISHED_WITH_COMPILE_ERROR")


def run_message_kind(payload) -> str | None:
    """``"start"``, ``"end"`` (of a whole script run), ``"fragment_end"`` or None, for one websocket frame
    from the server."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    if isinstance(payload, str):
        return None
    msg = ForwardMsg()
    try:
        msg.ParseFromString(payload)
    except Exception:  # not one of Streamlit's messages
        return None
    kind = msg.WhichOneof("type")
    if kind == "new_session":
        return "start"
    if kind == "script_finished" and msg.script_finished in {ForwardMsg.ScriptFinishedStatus.Value(s) for s in _RUN_ENDS}:
        return "end"
    if kind == "script_finished" and msg.script_finished == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
        return "fragment_end"
    return None


# what decides the server's mode and who is who: set by AppServer alone
_MODE_VARS = ("CNNLAB_MODE", "CNNLAB_FOLDER_ROOTS", "CNNLAB_TEACHER_KEY", "CNNLAB_TEACHERS",
              "CNNLAB_WORKSPACE_FROM_URL")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """One ``streamlit run app.py`` on localhost, with folders of its own under ``folder``."""

    def __init__(self, folder: str | Path, port: int | None = None, classroom: bool = False,
                 roots: list[str | Path] | None = None, teacher_key: str | None = None,
                 extra_env: dict[str, str] | None = None):
        self.folder = Path(folder)
        self.classroom = classroom
        self.roots = [Path(r) for r in roots or []]  # CNNLAB_FOLDER_ROOTS (classroom mode)
        self.teacher_key = teacher_key  # CNNLAB_TEACHER_KEY (classroom mode)
        self.extra_env = dict(extra_env or {})  # limits and the like: CNNLAB_JOB_MAX_TIME=...
        self.data, self.models = self.folder / "data", self.folder / "models"
        self.home, self.tmp = self.folder / "home", self.folder / "tmp"
        self.log = self.folder / "server.log"
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.started_at: float | None = None  # time.perf_counter() when the process was started

    def env(self) -> dict:
        self.folder.mkdir(parents=True, exist_ok=True)
        for path in (self.data, self.models, self.home, self.tmp):
            path.mkdir(parents=True, exist_ok=True)
        # the caller's own mode settings never leak in: the server runs in the mode asked for here
        env = {k: v for k, v in os.environ.items() if k not in _MODE_VARS}
        env.update(CNNLAB_DATA_DIR=str(self.data), CNNLAB_MODELS_DIR=str(self.models), HOME=str(self.home),
                   TMPDIR=str(self.tmp), TF_CPP_MIN_LOG_LEVEL="2")
        if self.classroom:
            env["CNNLAB_MODE"] = "classroom"
            if self.roots:
                env["CNNLAB_FOLDER_ROOTS"] = os.pathsep.join(str(r) for r in self.roots)
            if self.teacher_key:
                env["CNNLAB_TEACHER_KEY"] = self.teacher_key
        else:
            # each browser names its workspace in the address (ui.workspace), as several users would
            env["CNNLAB_WORKSPACE_FROM_URL"] = "1"
        env.update(self.extra_env)
        return env

    def link(self, key: str | None = None) -> str:
        """The address of a classroom user's private link (``?ws=KEY``); without a key, the app's first page,
        where a first visit gets a new link."""
        return f"{self.url}/?ws={key}" if key else f"{self.url}/"

    def launch(self) -> "AppServer":
        """Start the process and return at once (see ``wait_healthy``)."""
        cmd = [sys.executable, "-m", "ui.serve", "--server.port", str(self.port),
               "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"]
        env = self.env()
        log = self.log.open("a")
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return self

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:  # localhost only
                return response.status == 200
        except OSError:
            return False

    def wait_healthy(self, timeout: float = 90) -> "AppServer":
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}; see {self.log}")
            if self.healthy():
                return self
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"streamlit did not answer on {self.url} within {timeout:.0f} s; see {self.log}")

    def start(self, timeout: float = 90) -> "AppServer":
        return self.launch().wait_healthy(timeout)

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as when the machine runs out of memory or loses power."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def _status(self, field: str) -> int:
        """A memory figure of the process from /proc (Linux), in bytes; 0 where there is no /proc."""
        return _proc_status(self.proc.pid, field) if self.proc is not None else 0

    def rss_bytes(self) -> int:
        """Resident memory now."""
        return self._status("VmRSS")

    def peak_rss_bytes(self) -> int:
        """The most resident memory the process has had (the kernel's high-water mark)."""
        return self._status("VmHWM")

    def tree_rss_bytes(self) -> int:
        """Resident memory now of the process and every process it started (their sum), from /proc."""
        total = 0
        for pid in _process_tree(self.proc.pid if self.proc else None):
            total += _proc_status(pid, "VmRSS")
        return total

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""


def _proc_status(pid: int, field: str) -> int:
    """A memory figure (``VmRSS``, ``VmHWM``) of process ``pid`` from /proc (Linux), in bytes; 0 where unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _process_tree(pid: int | None) -> list[int]:
    """``pid`` and its descendants, from /proc/<pid>/task/*/children (Linux); empty where unknown."""
    if pid is None:
        return []
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo.extend(int(c) for c in children.read_text().split())
            except (OSError, ValueError):
                pass
    return found

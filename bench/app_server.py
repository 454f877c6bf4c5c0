"""Start ``streamlit run app.py`` as a real server process, and find the system's Chromium, for the browser
benchmarks and end-to-end tests.

    >>> server = AppServer(folder).start()   # free localhost port, data and models folders of its own
    >>> server.url, server.rss_bytes()
    >>> server.kill()                        # SIGKILL, as a crash would; server.start() again to restart

The process gets a data folder, a models folder, a home and a temporary folder
under ``folder`` (kept across restarts), so a caller can check what it wrote.
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """One ``streamlit run app.py`` on localhost, with folders of its own under ``folder``."""

    def __init__(self, folder: str | Path, port: int | None = None):
        self.folder = Path(folder)
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
        return dict(os.environ, CNNLAB_DATA_DIR=str(self.data), CNNLAB_MODELS_DIR=str(self.models),
                    HOME=str(self.home), TMPDIR=str(self.tmp), TF_CPP_MIN_LOG_LEVEL="2",
                    # each browser names its workspace in the address (ui.workspace), as several users would
                    CNNLAB_WORKSPACE_FROM_URL="1")

    def launch(self) -> "AppServer":
        """Start the process and return at once (see ``wait_healthy``)."""
        cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(self.port),
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
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        except (OSError, AttributeError, ValueError):
            pass
        return 0

    def rss_bytes(self) -> int:
        """Resident memory now."""
        return self._status("VmRSS")

    def peak_rss_bytes(self) -> int:
        """The most resident memory the process has had (the kernel's high-water mark)."""
        return self._status("VmHWM")

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

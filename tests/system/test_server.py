"""`make run`'s command serves the app: the health endpoint answers ok, the page loads, and TensorFlow
with the shipped model loads as the server starts, before any browser connects."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path


from ui.serve import READY

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:  # localhost only
        return response.status, response.read().decode("utf-8", "replace")


def test_streamlit_server_answers_health_and_serves_the_app():
    port = free_port()
    cmd = [sys.executable, "-m", "ui.serve", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true"]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        health = None
        while time.perf_counter() - started < 60 and proc.poll() is None:
            try:
                health = get(f"http://127.0.0.1:{port}/_stcore/health")
                break
            except OSError:
                time.sleep(0.2)
        assert proc.poll() is None, proc.stdout.read()
        assert health == (200, "ok")
        status, html = get(f"http://127.0.0.1:{port}/")
        assert status == 200 and "<div id=\"root\">" in html
        print(f"server healthy after {time.perf_counter() - started:.1f} s")
        # no browser has connected (the page's HTML runs no script on the server): the load began at start
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
        reader.start()
        while not any(READY in line for line in lines) and reader.is_alive() and time.perf_counter() - started < 180:
            time.sleep(0.2)
        assert any(READY in line for line in lines), "".join(lines)
        print(next(line for line in lines if READY in line).strip())
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()

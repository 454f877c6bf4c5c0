"""Retrain the shipped default model with the README's command and compare.

    python -m bench.retrain_default

Last line: JSON with the retrained model's test accuracy and training time,
the shipped model's accuracy, and the wall time of the whole command.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_train_command() -> list[str]:
    """The ``python -m core.train`` command the README gives for the shipped model, as argv."""
    text = (ROOT / "README.md").read_text()
    # within one code block: the photo model's command comes before it
    match = re.search(r"\.venv/bin/python -m core\.train([^`]*?)--out assets/models/shapes_default", text)
    if match is None:
        raise SystemExit("README.md has no 'python -m core.train ... --out assets/models/shapes_default' command")
    args = shlex.split(match.group(1).replace("\\\n", " "))
    return ["-m", "core.train", *args]


def retrain(out_dir: Path) -> dict:
    cmd = [sys.executable, *readme_train_command(), "--out", str(out_dir / "shapes_default")]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    shipped = json.loads((ROOT / "assets" / "models" / "shapes_default.json").read_text())
    return {
        "test_accuracy": result["test_accuracy"],
        "shipped_test_accuracy": shipped["metrics"]["test_accuracy"],
        "train_seconds": result["train_seconds"],
        "command_seconds": round(wall, 2),
        "params": result["params"],
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(retrain(Path(tmp))))


if __name__ == "__main__":
    main()

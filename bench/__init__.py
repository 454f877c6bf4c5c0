"""Benchmarks: each prints its figures as JSON on its last line."""

from __future__ import annotations

import json
from pathlib import Path


def report(out: dict, save: str | None = None) -> dict:
    """Print ``out`` as the last line of JSON, and also write it (indented) to ``save`` when given."""
    if save:
        Path(save).parent.mkdir(parents=True, exist_ok=True)
        Path(save).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out))
    return out

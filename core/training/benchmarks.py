"""Benchmark figures measured on this project's machines, as the app shows them.

``python -m bench.time_to_accuracy --dataset NAME --baseline --save
assets/benchmarks/NAME.json`` writes a file here; the pages read it with
``load_benchmark`` and never make a figure up: a missing file shows nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parents[1] / "assets" / "benchmarks"


def load_benchmark(dataset: str, folder: Path | None = None) -> dict | None:
    """The saved ``bench.time_to_accuracy`` result for ``dataset``, or None when there is none (or it is unreadable)."""
    path = (folder or BENCH_DIR) / f"{dataset}.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "recipe" in data else None


def comparison_rows(result: dict) -> list[dict]:
    """One row for the recipe and one for its baseline: model, test accuracy, parameters, training time, epochs."""
    from core.models.presets import PRESETS
    from core.training.recipes import BASELINES, RECIPES

    rows = []
    for run in (result.get("baseline"), result["recipe"]):
        if not run:
            continue
        recipe = RECIPES.get(run["recipe"]) or BASELINES.get(run["recipe"])
        title = PRESETS[recipe.preset].title if recipe and recipe.preset in PRESETS else run["recipe"]
        rows.append({"model": title, "test accuracy": f"{run['test_accuracy']:.1%}", "parameters": f"{run['params']:,}",
                     "training": f"{run['train_seconds']:.1f} s", "epochs": run["epochs"],
                     "batch": run.get("batch_size"), "learning rate": run.get("learning_rate")})
    return rows

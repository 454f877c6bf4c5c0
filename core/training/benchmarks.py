"""Benchmark figures measured on this project's machines, as the app shows them.

``python -m bench.time_to_accuracy --dataset NAME --baseline --save
assets/benchmarks/NAME.json`` writes a file here; the pages read it with
``load_benchmark`` and never make a figure up: a missing file shows nothing.
A recipe's accuracy is read from its file by ``recipe_measurement`` and written
by ``format_accuracy``, wherever a page shows it (the Train page's recipe line,
the Who am I? comparison), so no page can show a figure of its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parents[2] / "assets" / "benchmarks"


def load_benchmark(dataset: str, folder: Path | None = None) -> dict | None:
    """The saved ``bench.time_to_accuracy`` result for ``dataset``, or None when there is none (or it is unreadable)."""
    path = (folder or BENCH_DIR) / f"{dataset}.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "recipe" in data else None


@dataclass(frozen=True)
class RecipeMeasurement:
    """What ``bench.time_to_accuracy`` measured for a recipe: its run's figures, from the saved file."""

    test_accuracy: float  # on the official test split
    train_seconds: float
    epochs: int
    cpus: int | None  # of the machine it was measured on
    measured: str | None  # the date
    train_images: int | None = None  # in the training split it trained on
    input_shape: tuple[int, ...] | None = None  # (height, width, channels) of its images, when the file says

    @property
    def seconds_per_image(self) -> float | None:
        """Training seconds per image and epoch: what an estimate for other data scales from."""
        if not self.train_images or not self.epochs:
            return None
        return self.train_seconds / (self.train_images * self.epochs)


def recipe_measurement(dataset: str, folder: Path | None = None) -> RecipeMeasurement | None:
    """The recipe run of ``dataset``'s saved benchmark, or None when there is none (or it lacks the figures)."""
    result = load_benchmark(dataset, folder)
    run = result.get("recipe") if result else None
    if not isinstance(run, dict):
        return None
    try:
        shape = result.get("input_shape")
        return RecipeMeasurement(test_accuracy=float(run["test_accuracy"]), train_seconds=float(run["train_seconds"]),
                                 epochs=int(run["epochs"]), cpus=result.get("cpus"), measured=result.get("measured"),
                                 train_images=int(result["train_images"]) if result.get("train_images") else None,
                                 input_shape=tuple(int(d) for d in shape) if shape else None)
    except (KeyError, TypeError, ValueError):
        return None


def format_accuracy(value: float) -> str:
    """An accuracy as every page writes it: 0.975 -> "97.5%"."""
    return f"{value:.1%}"


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
        rows.append({"model": title, "test accuracy": format_accuracy(run["test_accuracy"]),
                     "parameters": f"{run['params']:,}",
                     "training": f"{run['train_seconds']:.1f} s", "epochs": run["epochs"],
                     "batch": run.get("batch_size"), "learning rate": run.get("learning_rate")})
    return rows

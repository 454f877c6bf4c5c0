"""core.training.benchmarks: the saved benchmark files are the one source of a recipe's measured accuracy."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from core.training import benchmarks as B
from core.training.recipes import RECIPES, recipe_promise


def shipped(name: str) -> dict:
    return json.loads((B.BENCH_DIR / f"{name}.json").read_text())


def test_the_shipped_faces_benchmark_is_found():
    # BENCH_DIR is the project's assets/benchmarks, wherever the module sits in core
    assert (B.BENCH_DIR / "orl_faces.json").is_file(), B.BENCH_DIR
    run = B.recipe_measurement("orl_faces")
    assert run is not None and run.test_accuracy == shipped("orl_faces")["recipe"]["test_accuracy"]
    assert run.train_seconds == shipped("orl_faces")["recipe"]["train_seconds"]


@pytest.mark.parametrize("content", ["", "not json", "[1, 2]", '{"recipe": {"epochs": 5}}', '{"dataset": "x"}'],
                         ids=["empty", "text", "list", "no_figures", "no_recipe"])
def test_a_file_without_the_figures_gives_no_measurement(tmp_path, content):
    (tmp_path / "orl_faces.json").write_text(content)
    assert B.recipe_measurement("orl_faces", tmp_path) is None
    assert B.recipe_measurement("nothing_saved", tmp_path) is None


def test_the_train_pages_recipe_line_says_what_the_file_says(tmp_path, monkeypatch):
    from core.data import Dataset

    x = np.zeros((200, 2, 2, 1), np.float32)
    orl = Dataset("orl_faces", "ORL", "", ["a", "b"], x, np.arange(200) % 2, x[:2], np.array([0, 1]))
    data = shipped("orl_faces")
    for accuracy, seconds, verdict in ((0.912, 12.0, "its target: 97.0% within 30 s"), (0.988, 9.5, "within its target")):
        data["recipe"] |= {"test_accuracy": accuracy, "train_seconds": seconds}
        (tmp_path / "orl_faces.json").write_text(json.dumps(data))
        monkeypatch.setattr(B, "BENCH_DIR", tmp_path)
        promise = recipe_promise(RECIPES["orl_faces"], orl)
        assert f"reaches {B.format_accuracy(accuracy)} on the official test split after {seconds:.1f} s" in promise
        assert verdict in promise
    # no file: the target, said to be one
    monkeypatch.setattr(B, "BENCH_DIR", tmp_path / "none")
    assert "is tuned to reach 97.0%" in recipe_promise(RECIPES["orl_faces"], orl)


def readme_figures(text: str) -> list[str]:
    """Every figure the README gives for the faces recipe's accuracy on the ORL faces."""
    rows = [line for line in text.splitlines() if line.startswith("| fast faces recipe") or line.startswith("| `orl_faces`")]
    figures = [re.findall(r"\| \**(\d+\.\d) %\**", row)[0] for row in rows]
    figures += re.findall(r"ORL faces (\d+\.\d) % in", text)
    return figures


def test_the_readme_gives_the_faces_recipes_measured_accuracy(repo_root):
    figures = readme_figures((repo_root / "README.md").read_text())
    assert len(figures) == 3, figures  # the faces comparison table, the recipes table, the rerun's summary
    expected = f"{100 * shipped('orl_faces')['recipe']['test_accuracy']:.1f}"
    assert figures == [expected] * 3, f"README says {figures}; assets/benchmarks/orl_faces.json says {expected} %"


def test_the_shipped_photo_benchmark_gives_the_figure_and_the_cost_per_image():
    data = shipped("cats_vs_dogs")
    run = B.recipe_measurement("cats_vs_dogs")
    assert run.test_accuracy == data["recipe"]["test_accuracy"] and run.train_images == data["train_images"] == 500
    assert run.input_shape == (64, 64, 3)
    assert run.seconds_per_image == pytest.approx(data["recipe"]["train_seconds"] / (500 * data["recipe"]["epochs"]))


def test_the_readme_gives_the_photo_recipes_measured_accuracy(repo_root):
    text = (repo_root / "README.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| `cats_vs_dogs`")]
    assert len(rows) == 1, rows
    expected = f"{100 * shipped('cats_vs_dogs')['recipe']['test_accuracy']:.1f}"
    assert re.findall(r"\| \*\*(\d+\.\d) %\*\*", rows[0]) == [expected]
    assert re.findall(r"set aside the recipe\s+reached (\d+\.\d) %", text) == [expected]

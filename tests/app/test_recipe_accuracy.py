"""The faces recipe's accuracy on every page that shows it is the figure of its benchmark file.

The Train page's recipe line and the Who am I? comparison both read
``assets/benchmarks/orl_faces.json`` (``core.training.benchmarks``). Each page is checked
with the shipped file and with a copy whose figures were changed: a page that wrote a
figure of its own, or read it from elsewhere, shows a different one and fails.
"""

from __future__ import annotations

import json
import re

import pytest

from apptest_helpers import load_folder, open_page
from core.training import benchmarks as B
from tiny_faces import tiny_faces

PERCENT = re.compile(r"\d+(?:\.\d+)?\s?%")


@pytest.fixture(params=["shipped", "changed"])
def bench_figure(request, tmp_path, monkeypatch) -> str:
    """The faces recipe's accuracy as the pages must write it: from the shipped file, or from a changed copy."""
    data = json.loads((B.BENCH_DIR / "orl_faces.json").read_text())
    if request.param == "changed":
        data["recipe"]["test_accuracy"] = data["test_accuracy"] = 0.983
        (tmp_path / "bench").mkdir()
        (tmp_path / "bench" / "orl_faces.json").write_text(json.dumps(data))
        monkeypatch.setattr(B, "BENCH_DIR", tmp_path / "bench")
    return B.format_accuracy(data["recipe"]["test_accuracy"])


def test_the_train_pages_recipe_line_shows_the_benchmarks_figure(bench_figure, tmp_path):
    tiny_faces(tmp_path)
    at = load_folder(tmp_path / "tiny")
    at = open_page("pages/train.py", at)
    line = next(m.value for m in at.markdown if m.value.startswith("**Fast recipe: ORL faces"))
    accuracy = line[line.index("Tuned on the ORL faces"):].split(" For other photos")[0]
    assert PERCENT.findall(accuracy) == [bench_figure], accuracy


def test_who_am_i_shows_the_benchmarks_figure(bench_figure):
    at = open_page("pages/faces.py")
    from core.models.presets import PRESETS

    assert len(at.dataframe) == 1  # the comparison (AppTest does not expose a dataframe's key)
    table = at.dataframe[0].value
    assert table.loc[table["model"] == PRESETS["faces_fast"].title, "test accuracy"].tolist() == [bench_figure]
    # and no text of the page gives the recipe another accuracy
    texts = [e.value for e in list(at.markdown) + list(at.caption)]
    claims = [t for t in texts if "recipe" in t and re.search(r"accura|reach", t) and PERCENT.search(t)]
    assert all(PERCENT.findall(t) == [bench_figure] for t in claims), claims

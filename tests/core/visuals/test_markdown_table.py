"""markdown_table: a small table as Markdown text."""

from __future__ import annotations

import pytest

from core.visuals.markdown_table import markdown_table


def test_columns_become_rows_with_their_formats():
    text = markdown_table({"filter": [3, 0], "norm": [1.23456, 0.5], "note": ["a|b", "two\nlines"]},
                          {"norm": "{:.3f}".format})
    assert text.splitlines() == ["| filter | norm | note |", "|---|---|---|", "| 3 | 1.235 | a\\|b |",
                                 "| 0 | 0.500 | two lines |"]


def test_columns_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match=r"Expected columns of one length. Received: lengths=\[1, 2\]"):
        markdown_table({"a": [1], "b": [1, 2]})

"""value_grid: a map as an HTML table of coloured cells, every value on hover."""

from __future__ import annotations

import re

import numpy as np
import pytest

from core.visuals.tiles import colorize
from core.visuals.value_grid import cell_px_for, value_grid


def cells(html: str) -> list[list[tuple[str, str, str]]]:
    """(hover text, style, shown text) of every cell, row by row."""
    return [re.findall(r'<td title="([^"]*)" style="([^"]*)">([^<]*)</td>', row)
            for row in re.findall(r"<tr>(.*?)</tr>", html)]


def test_every_cell_holds_its_value_padding_and_the_outlined_cell():
    grid = np.array([[np.nan, np.nan, np.nan], [np.nan, 0.5, -2.0], [np.nan, 1.25, 0.0]])
    table = cells(value_grid(grid, "input <patch>", numbers=True, highlight=(1, 2)))
    assert [[text for _, _, text in row] for row in table] == [["pad", "pad", "pad"], ["pad", "0.50", "-2.00"],
                                                               ["pad", "1.25", "0.00"]]
    assert table[1][2][0] == "row 1, col 2: -2.00000" and table[0][0][0] == "row 0, col 0: padding, 0"
    outlined = [(r, c) for r, row in enumerate(table) for c, (_, style, _) in enumerate(row) if "outline" in style]
    assert outlined == [(1, 2)]
    # symmetric colours around 0: the largest magnitude is full blue, zero is white, padding grey
    assert "background:#2166ac" in table[1][2][1] and "background:#f7f7f7" in table[2][2][1]
    assert "background:#e6e6e6" in table[0][0][1]


def test_a_feature_map_in_a_colour_map_reads_back_exactly():
    rng = np.random.default_rng(0)
    grid = rng.normal(size=(16, 12)).astype(np.float32)
    html = value_grid(grid, "conv2, channel 5", scale="magma", decimals=4)
    table = cells(html)
    assert len(table) == 16 and all(len(row) == 12 for row in table)
    shown = np.array([[float(tip.rsplit(": ", 1)[1]) for tip, _, _ in row] for row in table])
    np.testing.assert_allclose(shown, grid, atol=5e-5)
    rgb = colorize(grid, "magma")
    assert f"background:#{rgb[3, 4, 0]:02x}{rgb[3, 4, 1]:02x}{rgb[3, 4, 2]:02x}" in table[3][4][1]
    assert all(text == "" for row in table for _, _, text in row)  # colours only: the values are on hover
    assert "conv2, channel 5" in html and f"width:{cell_px_for((16, 12))}px" in html


def test_a_flat_or_all_padding_map_draws_without_a_range():
    assert len(cells(value_grid(np.zeros((2, 5)), "zeros", numbers=True))[0]) == 5
    assert cells(value_grid(np.full((2, 2), np.nan), "pad", numbers=True))[1][1][2] == "pad"


@pytest.mark.parametrize("shape", [(4,), (2, 2, 3)])
def test_anything_but_a_2d_map_is_refused(shape):
    with pytest.raises(ValueError, match=r"Expected a 2-D map. Received: shape="):
        value_grid(np.zeros(shape), "x")

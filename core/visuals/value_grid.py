"""A small map drawn as an HTML table of coloured cells, every value on hover: a heatmap without a chart library.

A Plotly chart costs the browser its 4.7 MB library on a tab's first chart (1 to 3 s on the 2-core
machines here, longer than the page's whole run) and tens of milliseconds per chart after that. A
table of a few hundred coloured cells draws in a few milliseconds, and each cell's ``title`` gives
its exact value on hover, as the chart's tooltip did. Pages show the result with ``st.html``.
"""

from __future__ import annotations

from html import escape

import numpy as np

from core.visuals.tiles import colorize, diverging

PAD_COLOUR = "#e6e6e6"  # padding cells, as in core.visuals.sliding_window


def cell_px_for(shape: tuple[int, int], target_px: int = 320, lo: int = 6, hi: int = 48) -> int:
    """Screen pixels per cell so the map is about ``target_px`` wide."""
    return int(np.clip(target_px // max(1, max(shape)), lo, hi))


def value_grid(values: np.ndarray, title: str, *, scale: str = "diverging", numbers: bool = False,
               highlight: tuple[int, int] | None = None, cell_px: int | None = None, decimals: int = 5) -> str:
    """The HTML of a 2-D map as coloured cells, each cell's value in its hover text.

    Args:
        values: a 2-D array; NaN cells are padding, drawn grey and labelled "pad".
        title: shown above the map.
        scale: "diverging" (red positive, blue negative, white zero, as on the Filters page) or a
            colour map of ``core.visuals.tiles.COLORMAPS`` (the values' own range).
        numbers: write each value (2 decimals) in its cell.
        highlight: (row, col) of one cell to outline.
        cell_px: screen pixels per cell (``cell_px_for`` the shape by default; 40 with numbers).
        decimals: of the values on hover.
    """
    values = np.asarray(values, np.float64)
    if values.ndim != 2:
        raise ValueError(f"Expected a 2-D map. Received: shape={values.shape}")
    pad = np.isnan(values)
    finite = np.where(pad, 0.0, values)
    if scale == "diverging":
        limit = float(np.abs(finite).max()) if finite.size else 0.0
        rgb = diverging(finite, limit)
    else:
        shown = finite[~pad]
        lo, hi = (float(shown.min()), float(shown.max())) if shown.size else (0.0, 0.0)
        rgb = colorize(finite, scale, lo, hi)
    dark = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32) < 128
    size = cell_px or (40 if numbers else cell_px_for(values.shape))
    font = 11 if numbers else 0
    rows = []
    for r in range(values.shape[0]):
        cells = []
        for c in range(values.shape[1]):
            if pad[r, c]:
                colour, ink, tip, text = PAD_COLOUR, "#555", f"row {r}, col {c}: padding, 0", "pad"
            else:
                colour = "#%02x%02x%02x" % tuple(rgb[r, c])
                ink = "#fff" if dark[r, c] else "#000"
                tip, text = f"row {r}, col {c}: {values[r, c]:.{decimals}f}", f"{values[r, c]:.2f}"
            outline = "outline:3px solid #000;outline-offset:-3px;" if highlight == (r, c) else ""
            cells.append(f'<td title="{tip}" style="background:{colour};color:{ink};{outline}width:{size}px;padding:0;border:none;'
                         f'height:{size}px">{text if numbers else ""}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="value-grid"><div style="font-size:14px;margin-bottom:4px">{escape(title)}</div>'
            f'<table style="border-collapse:collapse;table-layout:fixed;border:none;margin:0;'
            f'font-size:{font}px;text-align:center;font-variant-numeric:tabular-nums">'
            + "".join(rows) + "</table></div>")

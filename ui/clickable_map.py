"""A picture of a map that reports the cell a click lands on: Step by step's sliding window.

A few lines of JavaScript in a Streamlit component (``st.components.v2``, mounted in the page
itself, no iframe) rather than a chart library: a browser tab took more than a second to load
Plotly's 4.7 MB script before it could draw the first map, this draws at once. The picture is a
PNG (``core.visuals.sliding_window.map_picture``); hovering a cell shows its row, column and
value; a click calls ``on_click(row, col)`` in map cells (negative, or past the map, in the padding).
"""

from __future__ import annotations

import base64
from typing import Callable

import numpy as np
import streamlit as st

from core.data.images import encode_png

_JS = """
export default function(component) {
  const { data, setTriggerValue, parentElement } = component;
  let img = parentElement.querySelector('img.cnnlab-map');
  if (!img) {
    img = document.createElement('img');
    img.className = 'cnnlab-map';
    img.style.cursor = 'crosshair';
    img.style.display = 'block';
    img.style.imageRendering = 'pixelated';
    const title = document.createElement('div');
    title.className = 'cnnlab-map-title';
    title.style.font = '600 13px sans-serif';
    title.style.margin = '0 0 4px 0';
    parentElement.appendChild(title);
    parentElement.appendChild(img);
  }
  parentElement.querySelector('.cnnlab-map-title').textContent = data.title;
  img.src = data.src;
  img.width = data.cols * data.cell;
  img.height = data.rows * data.cell;
  img.alt = data.title;
  const cellAt = (e) => [Math.floor(e.offsetY / data.cell) - data.top, Math.floor(e.offsetX / data.cell) - data.left];
  img.onclick = (e) => { const [row, col] = cellAt(e); setTriggerValue('cell', {row: row, col: col}); };
  img.onmousemove = (e) => {
    const [row, col] = cellAt(e);
    const inside = row >= 0 && row < data.height && col >= 0 && col < data.width;
    img.title = inside ? `row ${row}, column ${col}: ${data.labels[row * data.width + col]} (click to move the window here)`
                       : 'padding: 0';
  };
}
"""

_MAP = st.components.v2.component("cnnlab.clickable_map", js=_JS, isolate_styles=False)


def cell_labels(values: np.ndarray) -> list[str]:
    """The hover text of every cell, row by row: its value, or its three channels for a colour picture."""
    values = np.asarray(values, np.float32)
    flat = values.reshape(values.shape[0] * values.shape[1], -1)
    return [", ".join(f"{v:.3f}" for v in cell) for cell in flat]


def clickable_map(column, picture: np.ndarray, values: np.ndarray, pad: tuple[int, int, int, int], cell_px: int,
                  title: str, key: str, on_click: Callable[[int, int], None]) -> None:
    """Draw ``picture`` (``map_picture`` of ``values`` with ``pad``) in ``column``; a click calls ``on_click(row, col)``.

    Args:
        picture: the RGB picture, ``cell_px`` screen pixels a cell, padding included.
        values: the map it shows (H, W) or (H, W, C), for the hover text.
        pad: (top, bottom, left, right) cells of padding drawn around the map.
    """
    top, bottom, left, right = pad
    height, width = values.shape[:2]
    data = {"src": "data:image/png;base64," + base64.b64encode(encode_png(picture)).decode(),
            "rows": top + height + bottom, "cols": left + width + right, "cell": cell_px, "top": top, "left": left,
            "height": height, "width": width, "labels": cell_labels(values), "title": title}

    def clicked() -> None:
        cell = (st.session_state.get(key) or {}).get("cell")
        if cell:
            on_click(int(cell["row"]), int(cell["col"]))

    with column:
        _MAP(data=data, key=key, on_cell_change=clicked)

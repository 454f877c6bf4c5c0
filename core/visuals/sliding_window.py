"""The sliding window of a convolution or pooling layer, drawn over the maps it reads and writes.

Like CNN Explainer: the input map with the window (kernel or pool size) outlined where one
output value reads it, the padding drawn as a grey frame around the input, and the output
map with that value outlined. Every figure draws one map cell as ``cell_px`` screen pixels,
so an input and its pooled output drawn with the same ``cell_px`` show the halving as it is.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

MARGIN = dict(l=4, r=4, t=30, b=4)
PAD_COLOUR = "#e6e6e6"
WINDOW_COLOUR = "#d62728"


def cell_size(shapes: list[tuple[int, int]], target_px: int = 300, lo: int = 4, hi: int = 40) -> int:
    """Screen pixels per map cell so the largest of ``shapes`` (height, width) is about ``target_px`` wide."""
    largest = max(max(shape) for shape in shapes)
    return int(np.clip(target_px // max(1, largest), lo, hi))


def _frame(fig: go.Figure, height: int, width: int, pad: tuple[int, int, int, int], cell_px: int, title: str) -> None:
    """Size the figure so one cell is ``cell_px`` square, padding (top, bottom, left, right) included."""
    top, bottom, left, right = pad
    rows, cols = height + top + bottom, width + left + right
    fig.update_layout(title=dict(text=title, font=dict(size=13)), margin=MARGIN, showlegend=False,
                      width=MARGIN["l"] + MARGIN["r"] + cols * cell_px,
                      height=MARGIN["t"] + MARGIN["b"] + rows * cell_px,
                      plot_bgcolor="white", dragmode=False)
    fig.update_xaxes(range=[-left - 0.5, width + right - 0.5], showticklabels=False, showgrid=False, zeroline=False,
                     fixedrange=True)
    fig.update_yaxes(range=[height + bottom - 0.5, -top - 0.5], showticklabels=False, showgrid=False, zeroline=False,
                     fixedrange=True)
    if any(pad):
        fig.add_shape(type="rect", x0=-left - 0.5, x1=width + right - 0.5, y0=-top - 0.5, y1=height + bottom - 0.5,
                      fillcolor=PAD_COLOUR, line=dict(width=0), layer="below")
        fig.add_shape(type="rect", x0=-0.5, x1=width - 0.5, y0=-0.5, y1=height - 0.5,
                      line=dict(color="#7f7f7f", width=1, dash="dot"))


def _click_layer(values: np.ndarray, pad: tuple[int, int, int, int], cell_px: int) -> go.Scatter:
    """Invisible square markers on every cell, padding included: they carry the hover text and the clicks.

    Plotly selects points of scatter traces only, not of heatmaps or images, so a click on a bare
    heatmap would reach no Streamlit selection.
    """
    height, width = values.shape[:2]
    top, bottom, left, right = pad
    rows, cols = np.mgrid[-top:height + bottom, -left:width + right]
    rows, cols = rows.ravel(), cols.ravel()
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    flat = values.reshape(height * width, -1)
    text = np.full(rows.shape, "padding: 0", object)
    cells = flat[rows[inside] * width + cols[inside]]
    text[inside] = [", ".join(f"{v:.3f}" for v in cell) for cell in cells]
    invisible = dict(opacity=0)
    return go.Scatter(x=cols, y=rows, mode="markers", text=text, marker=dict(symbol="square", size=cell_px, opacity=0),
                      selected=dict(marker=invisible), unselected=dict(marker=invisible),
                      hovertemplate="row %{y}, col %{x}: %{text}<extra>click to move the window here</extra>")


def map_figure(values: np.ndarray, title: str, cell_px: int, window: tuple[int, int, int, int] | None = None,
               pad: tuple[int, int, int, int] = (0, 0, 0, 0), colorscale: str = "Viridis") -> go.Figure:
    """One map with a window outlined on it; a click anywhere on the map reports its (row, col).

    Args:
        values: a 2-D map, or an (H, W, 3) RGB image with values in [0, 1].
        title: shown above the map.
        cell_px: screen pixels per map cell.
        window: (top, left, height, width) of the outlined window, in map cells (negative in the padding).
        pad: (top, bottom, left, right) cells of padding to draw as a grey frame around the map.
        colorscale: for a 2-D map.
    """
    values = np.asarray(values, np.float32)
    if values.ndim == 3 and values.shape[-1] == 1:
        values = values[..., 0]
    if values.ndim not in (2, 3) or (values.ndim == 3 and values.shape[-1] != 3):
        raise ValueError(f"Expected a 2-D map or an RGB image. Received: shape={values.shape}")
    height, width = values.shape[:2]
    fig = go.Figure()
    if values.ndim == 3:
        fig.add_trace(go.Image(z=(np.clip(values, 0, 1) * 255 + 0.5).astype(np.uint8), hoverinfo="skip"))
    else:
        fig.add_trace(go.Heatmap(z=values, colorscale=colorscale, showscale=False, hoverinfo="skip"))
    fig.add_trace(_click_layer(values, pad, cell_px))
    _frame(fig, height, width, pad, cell_px, title)
    if window is not None:
        top, left, h, w = window
        fig.add_shape(type="rect", x0=left - 0.5, x1=left + w - 0.5, y0=top - 0.5, y1=top + h - 0.5,
                      line=dict(color=WINDOW_COLOUR, width=3))
    return fig

"""The sliding window of a convolution or pooling layer, drawn over the maps it reads and writes.

Like CNN Explainer: the input map with the window (kernel or pool size) outlined where one
output value reads it, the padding drawn as a grey frame around the input, and the output
map with that value outlined. Every picture draws one map cell as ``cell_px`` screen pixels,
so an input and its pooled output drawn with the same ``cell_px`` show the halving as it is.

The pictures are plain RGB arrays: the page shows them in a small clickable element
(``ui.clickable_map``) that reports the cell clicked, rather than in a chart library whose
script a browser tab takes more than a second to load.
"""

from __future__ import annotations

import numpy as np

from core.visuals.tiles import colorize

PAD_COLOUR = (230, 230, 230)  # #e6e6e6
WINDOW_COLOUR = (214, 39, 40)  # #d62728
EDGE_COLOUR = (127, 127, 127)  # the map's own edge, inside the padding


def cell_size(shapes: list[tuple[int, int]], target_px: int = 300, lo: int = 4, hi: int = 40) -> int:
    """Screen pixels per map cell so the largest of ``shapes`` (height, width) is about ``target_px`` wide."""
    largest = max(max(shape) for shape in shapes)
    return int(np.clip(target_px // max(1, largest), lo, hi))


def _outline(picture: np.ndarray, top: int, left: int, height: int, width: int, colour, thickness: int) -> None:
    """Draw a rectangle's outline, in pixels, inside the box (top, left, height, width), clipped to the picture."""
    h, w = picture.shape[:2]
    bottom, right = top + height, left + width
    for y0, y1, x0, x1 in ((top, top + thickness, left, right), (bottom - thickness, bottom, left, right),
                           (top, bottom, left, left + thickness), (top, bottom, right - thickness, right)):
        y0, y1, x0, x1 = max(y0, 0), min(y1, h), max(x0, 0), min(x1, w)
        if y0 < y1 and x0 < x1:
            picture[y0:y1, x0:x1] = colour


def map_picture(values: np.ndarray, cell_px: int, window: tuple[int, int, int, int] | None = None,
                pad: tuple[int, int, int, int] = (0, 0, 0, 0), colormap: str = "viridis") -> np.ndarray:
    """One map as an RGB picture, each cell ``cell_px`` square, with the padding and a window drawn.

    Args:
        values: a 2-D map (drawn with ``colormap``), or an (H, W, 3) RGB image with values in [0, 1].
        cell_px: screen pixels per map cell.
        window: (top, left, height, width) of the outlined window, in map cells (negative in the padding).
        pad: (top, bottom, left, right) cells of padding, drawn as a grey frame around the map.

    Returns:
        uint8 array of ((top + H + bottom) * cell_px, (left + W + right) * cell_px, 3).
    """
    values = np.asarray(values, np.float32)
    if values.ndim == 3 and values.shape[-1] == 1:
        values = values[..., 0]
    if values.ndim not in (2, 3) or (values.ndim == 3 and values.shape[-1] != 3):
        raise ValueError(f"Expected a 2-D map or an RGB image. Received: shape={values.shape}")
    if cell_px < 1:
        raise ValueError(f"Expected cell_px of at least 1. Received: {cell_px}")
    height, width = values.shape[:2]
    top, bottom, left, right = pad
    cells = (np.clip(values, 0, 1) * 255 + 0.5).astype(np.uint8) if values.ndim == 3 else colorize(values, colormap)
    framed = np.empty((top + height + bottom, left + width + right, 3), np.uint8)
    framed[:] = PAD_COLOUR
    framed[top:top + height, left:left + width] = cells
    picture = np.repeat(np.repeat(framed, cell_px, axis=0), cell_px, axis=1)
    if any(pad):
        _outline(picture, top * cell_px, left * cell_px, height * cell_px, width * cell_px, EDGE_COLOUR, 1)
    if window is not None:
        w_top, w_left, w_h, w_w = window
        _outline(picture, (w_top + top) * cell_px, (w_left + left) * cell_px, w_h * cell_px, w_w * cell_px,
                 WINDOW_COLOUR, max(2, min(3, cell_px // 3)))
    return picture

"""A conv layer's filters as one labelled picture that wraps to the width it is shown at.

Each output filter is a block: one colour tile when the layer reads an RGB image,
otherwise a row of its per-input-channel kernels (blue negative, white zero, red
positive). Blocks carry their filter number above them and wrap into as many rows
as the width allows, so 16 one-channel filters become two rows of eight, not a
column 16 tiles tall, and 32 filters of 32 input channels stay 32 labelled rows
rather than an unlabelled wall of 1,024 tiles.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .tiles import diverging, fitting_columns, upscale

LABEL_PX = 14  # height of the strip holding a block's filter number
_FONT, _FONT_SCALE = cv2.FONT_HERSHEY_SIMPLEX, 0.4  # about 9 px tall digits: readable, yet narrower than a tile


@dataclass
class FilterSheet:
    """The picture and where everything in it is, so a page or a test can find each tile."""

    image: np.ndarray  # uint8 RGB
    filters: list[int]  # the filter numbers, in the order their blocks are drawn
    inputs: list[int]  # the input channels drawn in each block (one entry, -1, for an RGB tile)
    origins: list[list[tuple[int, int]]]  # per block: (top, left) of each of its tiles
    tile: tuple[int, int]  # (height, width) of one tile in px
    columns: int  # blocks per row


def _draw_label(image: np.ndarray, text: str, top: int, left: int, width: int | None) -> None:
    """Write ``text`` in dark grey in the label strip starting at ``top``: centred over ``width`` px, or from ``left``."""
    (w, h), _ = cv2.getTextSize(text, _FONT, _FONT_SCALE, 1)
    x = left + (max(0, (width - w) // 2) if width else 0)
    y = top + (LABEL_PX + h) // 2
    cv2.putText(image, text, (x, y), _FONT, _FONT_SCALE, (60, 60, 60), 1, cv2.LINE_AA)


def filter_sheet(kernel: np.ndarray, filters: list[int] | None = None, rgb: bool | None = None,
                 max_inputs: int = 16, tile_px: int | None = None, normalise: str = "filter",
                 max_width: int = 860, labels: bool = True) -> FilterSheet:
    """Draw the filters of a conv kernel (kh, kw, in, out), each block labelled with its number.

    Args:
        kernel: the layer's kernel.
        filters: which output filters to draw, in this order (all of them by default).
        rgb: one colour tile per filter; by default when the layer has 3 input channels.
        max_inputs: at most this many input-channel kernels per block (the first ones).
        tile_px: each kernel is enlarged to about this many pixels a side (72 for colour tiles, 32 for
            up to 4 input channels, 24 for more).
        normalise: ``"filter"`` scales each filter to its own range, ``"layer"`` uses one range for all.
        max_width: the picture's widest extent in px: the width it will be shown at.
        labels: write each filter's number above its block.
    """
    kernel = np.asarray(kernel, np.float32)
    if kernel.ndim != 4:
        raise ValueError(f"Expected a kernel of shape (kh, kw, in, out). Received: shape={kernel.shape}")
    if normalise not in ("filter", "layer"):
        raise ValueError(f"Expected normalise 'filter' or 'layer'. Received: {normalise!r}")
    kh, kw, n_in, n_out = kernel.shape
    filters = list(range(n_out)) if filters is None else [int(f) for f in filters]
    if any(not 0 <= f < n_out for f in filters):
        raise ValueError(f"Expected filter numbers in [0, {n_out}). Received: {filters}")
    rgb = n_in == 3 if rgb is None else rgb
    # smaller tiles for filters of many input channels, so two or more blocks fit side by side
    tile_px = tile_px or (72 if rgb else 32 if n_in <= 4 else 24)
    factor = max(1, int(np.ceil(tile_px / max(kh, kw))))
    th, tw = kh * factor, kw * factor
    inputs = [-1] if rgb else list(range(min(n_in, max_inputs)))
    pad = 2  # between the input-channel tiles of one filter
    gap = 6 if rgb else 12  # between filters: wider, so the blocks read as groups
    block_w = len(inputs) * (tw + pad) - pad
    label_h = LABEL_PX if labels else 0
    block_h = label_h + th
    cols = fitting_columns(len(filters), block_w, gap, max_width)
    rows = max(1, -(-len(filters) // cols))
    image = np.full((rows * (block_h + gap) - gap, cols * (block_w + gap) - gap, 3), 255, np.uint8)
    layer_lim = float(np.abs(kernel).max())
    origins = []
    for i, f in enumerate(filters):
        r, c = divmod(i, cols)
        top, left = r * (block_h + gap), c * (block_w + gap)
        k = kernel[..., f]
        tiles = []
        if rgb:
            lo, hi = (float(k.min()), float(k.max())) if normalise == "filter" else (-layer_lim, layer_lim)
            scaled = np.zeros_like(k) if hi <= lo else (k - lo) / (hi - lo)
            tiles.append(upscale((scaled * 255 + 0.5).astype(np.uint8), factor))
        else:
            lim = float(np.abs(k).max()) if normalise == "filter" else layer_lim
            tiles.extend(upscale(diverging(k[:, :, j], lim), factor) for j in inputs)
        block = []
        for j, tile in enumerate(tiles):
            y, x = top + label_h, left + j * (tw + pad)
            image[y:y + th, x:x + tw] = tile
            block.append((y, x))
        origins.append(block)
        if labels:  # a lone tile carries its bare number; a row of kernels says what it is
            if len(tiles) == 1:
                _draw_label(image, str(f), top, left, tw)
            else:
                _draw_label(image, f"filter {f}", top, left, None)
    return FilterSheet(image, filters, inputs, origins, (th, tw), cols)

"""Turn weights and feature maps into single tiled RGB images.

A layer with 64 channels is drawn as one picture, not 64 widgets: one PNG per
layer keeps a page light and fast. Functions take float arrays and return
uint8 RGB arrays; pages only display them.
"""

from __future__ import annotations

import cv2
import numpy as np

COLORMAPS = {
    "viridis": cv2.COLORMAP_VIRIDIS,
    "magma": cv2.COLORMAP_MAGMA,
    "inferno": cv2.COLORMAP_INFERNO,
    "gray": None,
}


def colorize(values: np.ndarray, cmap: str = "viridis", vmin=None, vmax=None) -> np.ndarray:
    """Map a float array (one 2-D map, or a stack of them) to uint8 RGB with a sequential colour map.

    Args:
        vmin, vmax: the values drawn at the two ends of the scale: numbers, or arrays that broadcast
            against ``values`` (one range per map of a stack); the values' own range by default.
    """
    if cmap not in COLORMAPS:
        raise ValueError(f"Expected a colour map in {sorted(COLORMAPS)}. Received: {cmap!r}")
    values = np.asarray(values, np.float32)
    lo = np.asarray(values.min() if vmin is None else vmin, np.float64)
    hi = np.asarray(values.max() if vmax is None else vmax, np.float64)
    span = hi - lo  # a flat map (no span) is drawn in the scale's first colour
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = np.where(span > 0, (values - lo.astype(np.float32)) / span.astype(np.float32), np.float32(0))
    grey = (np.clip(scaled, 0, 1) * 255 + 0.5).astype(np.uint8)
    if COLORMAPS[cmap] is None:
        return np.repeat(grey[..., None], 3, axis=-1)
    rgb = cv2.cvtColor(cv2.applyColorMap(grey.reshape(-1, grey.shape[-1]), COLORMAPS[cmap]), cv2.COLOR_BGR2RGB)
    return rgb.reshape(*grey.shape, 3)


def diverging(values: np.ndarray, limit: float | None = None) -> np.ndarray:
    """Signed values to RGB: negative blue, zero white, positive red (for weights)."""
    values = np.asarray(values, np.float32)
    limit = float(np.abs(values).max()) if limit is None else limit
    t = np.zeros_like(values) if limit <= 0 else np.clip(values / limit, -1, 1)
    red = np.array([178, 24, 43], np.float32)
    blue = np.array([33, 102, 172], np.float32)
    white = np.array([247, 247, 247], np.float32)
    pos = np.clip(t, 0, 1)[..., None]
    neg = np.clip(-t, 0, 1)[..., None]
    rgb = white * (1 - pos - neg) + red * pos + blue * neg
    return (rgb + 0.5).astype(np.uint8)


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement, so single pixels stay crisp squares."""
    if factor <= 1:
        return image
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def grid(tiles: np.ndarray, cols: int | None = None, pad: int = 1, pad_value: int = 255) -> np.ndarray:
    """Arrange N equally sized RGB tiles (N, h, w, 3) in a grid with ``pad`` pixels between them."""
    tiles = np.asarray(tiles)
    n, h, w = tiles.shape[:3]
    cols = cols or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    out = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad, 3), pad_value, np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * (h + pad): r * (h + pad) + h, c * (w + pad): c * (w + pad) + w] = tiles[i]
    return out


def fitting_columns(n: int, item_width: int, gap: int, max_width: int) -> int:
    """How many items of ``item_width`` px (``gap`` px apart) go in a row at most ``max_width`` px wide.

    The rows are then balanced: 9 items that fit 8 to a row become two rows of 5 and 4, not 8 and 1.
    Always at least one column, even for an item wider than ``max_width``.
    """
    if n <= 0:
        return 1
    fit = max(1, min(n, (max_width + gap) // (item_width + gap)))
    rows = -(-n // fit)
    return -(-n // rows)


def _scale_for(side: int, target: int = 64) -> int:
    return max(1, int(np.ceil(target / max(1, side))))


def feature_map_grid(maps: np.ndarray, cmap: str = "viridis", normalise: str = "channel",
                     max_channels: int = 64, cols: int | None = None, tile_px: int = 64,
                     max_width: int | None = None) -> np.ndarray:
    """All channels of one layer's output (H, W, C) as one tiled RGB image.

    Args:
        maps: the activation of one image, channels last.
        cmap: a name in COLORMAPS.
        normalise: ``"channel"`` stretches each map to its own range (shows every
            pattern), ``"layer"`` uses one range for the layer (shows which maps are strongest).
        max_channels: draw at most this many channels.
        cols: tiles per row; by default 8 or 16 a row, or as many as fit ``max_width``.
        tile_px: each map is enlarged to about this many pixels a side.
        max_width: with ``cols`` unset, wrap the tiles into rows at most this many pixels wide.
    """
    maps = np.asarray(maps, np.float32)
    if maps.ndim != 3:
        raise ValueError(f"Expected maps of shape (height, width, channels). Received: shape={maps.shape}")
    maps = maps[..., :max_channels]
    factor = _scale_for(max(maps.shape[:2]), tile_px)
    if cols is None:
        n = maps.shape[-1]
        cols = n if n <= 8 else (8 if n <= 32 else 16)
        if max_width is not None:
            cols = min(cols, fitting_columns(n, maps.shape[1] * factor, 1, max_width))
    # all channels in one call: a page draws a dozen of these grids on every new image
    stack = np.moveaxis(maps, -1, 0)  # (C, H, W)
    axes = (1, 2) if normalise == "channel" else None
    rgb = colorize(stack, cmap, stack.min(axis=axes, keepdims=True), stack.max(axis=axes, keepdims=True))
    if factor > 1:
        rgb = np.repeat(np.repeat(rgb, factor, axis=1), factor, axis=2)
    return grid(rgb, cols)


def image_tile(image: np.ndarray, factor: int = 1) -> np.ndarray:
    """A float image in [0, 1] (H, W, 1 or 3) as an enlarged uint8 RGB tile."""
    arr = (np.clip(np.asarray(image, np.float32), 0, 1) * 255 + 0.5).astype(np.uint8)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    return upscale(arr, factor)


def image_grid(images: np.ndarray, cols: int | None = None, tile_px: int = 48, pad: int = 2) -> np.ndarray:
    """Several float images of one shape as one tiled RGB image."""
    factor = _scale_for(max(images.shape[1:3]), tile_px)
    return grid(np.stack([image_tile(im, factor) for im in images]), cols, pad)

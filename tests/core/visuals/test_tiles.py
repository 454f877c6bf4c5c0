"""core.visuals.tiles: feature-map and filter grids, colour maps, checked tile by tile against NumPy.

The layout (columns, gaps, exact enlargement) is the page designer's choice, so these tests
do not fix it: they find the whole-number enlargement (about tile_px) and the gap that make
the picture a row-major grid of equal tiles, then check that every tile sits where it
should and shows what it should.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.visuals import tiles


def split_grid(image, tile_h, tile_w, n, cols=None):
    """The n tiles of a row-major grid with equal gaps, as (cols, pad, [tiles])."""
    height, width = image.shape[:2]
    for pad in range(0, 33):
        if (width + pad) % (tile_w + pad) or (height + pad) % (tile_h + pad):
            continue
        found_cols, rows = (width + pad) // (tile_w + pad), (height + pad) // (tile_h + pad)
        if (cols is not None and found_cols != cols) or found_cols > n or rows != -(-n // found_cols):
            continue
        cells = [image[r * (tile_h + pad): r * (tile_h + pad) + tile_h, c * (tile_w + pad): c * (tile_w + pad) + tile_w]
                 for r, c in (divmod(i, found_cols) for i in range(n))]
        return found_cols, pad, cells
    raise AssertionError(f"{image.shape} is not a grid of {n} tiles of {tile_h}x{tile_w}")


def find_grid(image, side, n, tile_px, cols=None):
    """(factor, cols, pad, tiles) for n square maps of ``side`` px enlarged to about ``tile_px``."""
    candidates = sorted({max(1, -(-tile_px // side)), max(1, round(tile_px / side)), max(1, tile_px // side)})
    for factor in candidates:
        try:
            return (factor, *split_grid(image, side * factor, side * factor, n, cols))
        except AssertionError:
            continue
    raise AssertionError(f"{image.shape} is not a grid of {n} tiles of {side} px enlarged to about {tile_px} px")


def enlarge(image, factor):
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def test_feature_map_grid_size_and_content():
    maps = np.random.default_rng(0).random((6, 6, 5), dtype=np.float32)
    out = tiles.feature_map_grid(maps, cmap="gray", cols=3, tile_px=64)
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[-1] == 3
    factor, cols, pad, cells = find_grid(out, 6, 5, tile_px=64, cols=3)
    t = 6 * factor  # 66 px today: ceil(64 / 6) = 11
    assert out.shape[:2] == (2 * t + pad, 3 * t + 2 * pad)
    for c, cell in enumerate(cells):
        np.testing.assert_array_equal(cell, enlarge(tiles.colorize(maps[..., c], "gray"), factor), err_msg=f"channel {c}")
    if pad:
        assert (out[t:t + pad] == 255).all()  # the gap between the rows
    assert (out[t + pad:, 2 * (t + pad):] == 255).all()  # the empty sixth cell

    # max_channels draws fewer maps; the default layout still holds every one of them.
    assert len(find_grid(tiles.feature_map_grid(maps, max_channels=2, tile_px=64), 6, 2, 64)[3]) == 2
    many = tiles.feature_map_grid(np.random.default_rng(1).random((4, 4, 40), dtype=np.float32), tile_px=16)
    assert len(find_grid(many, 4, 40, 16)[3]) == 40


@pytest.mark.parametrize("cmap", ["viridis", "gray"])
@pytest.mark.parametrize("normalise", ["channel", "layer"])
def test_feature_map_grid_is_each_map_coloured_alone(cmap, normalise):
    # the whole-layer arithmetic gives exactly the tiles of colorize + upscale on each channel
    rng = np.random.default_rng(3)
    maps = (rng.normal(size=(7, 9, 12)) * 40).astype(np.float32)
    maps[..., 4] = 2.5  # a flat map: all one colour
    lo, hi = (None, None) if normalise == "channel" else (float(maps.min()), float(maps.max()))
    factor = tiles._scale_for(9, 32)
    expected = tiles.grid(np.stack([tiles.upscale(tiles.colorize(maps[..., c], cmap, lo, hi), factor)
                                    for c in range(12)]), 8)
    np.testing.assert_array_equal(tiles.feature_map_grid(maps, cmap, normalise, tile_px=32), expected)


def test_feature_map_grid_layer_normalisation_shows_strength():
    maps = np.stack([np.full((4, 4), 1.0), np.full((4, 4), 3.0)], axis=-1).astype(np.float32)
    per_layer = tiles.feature_map_grid(maps, cmap="gray", normalise="layer", cols=2, tile_px=4)
    _, _, _, (weak, strong) = find_grid(per_layer, 4, 2, 4, cols=2)
    assert (weak == 0).all() and (strong == 255).all()
    per_channel = tiles.feature_map_grid(maps, cmap="gray", normalise="channel", cols=2, tile_px=4)
    _, _, _, (a, b) = find_grid(per_channel, 4, 2, 4, cols=2)
    np.testing.assert_array_equal(a, b)  # each flat map stretched to its own (empty) range


def test_feature_map_grid_wraps_to_a_width():
    maps = np.random.default_rng(2).random((8, 8, 16), dtype=np.float32)
    out = tiles.feature_map_grid(maps, tile_px=64, max_width=340)  # 64 px tiles: 5 fit in 340 px
    factor, cols, pad, cells = find_grid(out, 8, 16, 64)
    assert out.shape[1] <= 340 and cols == 4  # 16 = 4 rows of 4 (balanced), not 5 + 5 + 5 + 1
    assert len(cells) == 16


@pytest.mark.parametrize(("n", "item", "gap", "width", "expected"), [
    (16, 33, 12, 860, 16),  # every one-channel filter of a first layer in one row
    (9, 64, 1, 520, 5),  # 8 would fit: balanced into rows of 5 and 4
    (3, 500, 12, 340, 1),  # wider than the page: still one a row
    (0, 10, 1, 100, 1),
    (64, 72, 6, 860, 11),  # 11 fit: 6 rows of at most 11
])
def test_fitting_columns(n, item, gap, width, expected):
    cols = tiles.fitting_columns(n, item, gap, width)
    assert cols == expected
    assert cols == 1 or cols * item + (cols - 1) * gap <= width


def test_colorize_gray_ramp_is_monotonic():
    ramp = np.linspace(-2.0, 5.0, 300, dtype=np.float32).reshape(1, -1)
    rgb = tiles.colorize(ramp, "gray")
    assert rgb.shape == (1, 300, 3) and rgb.dtype == np.uint8
    grey = rgb[0, :, 0].astype(int)
    assert (np.diff(grey) >= 0).all()
    assert grey[0] == 0 and grey[-1] == 255
    assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()
    viridis = tiles.colorize(ramp, "viridis")
    assert viridis.shape == (1, 300, 3) and not (viridis[0, 0] == viridis[0, -1]).all()


def test_tiles_reject_bad_input():
    with pytest.raises(ValueError, match="height, width, channels"):
        tiles.feature_map_grid(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="colour map"):
        tiles.colorize(np.zeros((2, 2)), "jet")


"""core.visuals.filter_sheet: labelled filter blocks that wrap to the page, checked tile by tile against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from core.visuals import tiles
from core.visuals.filter_sheet import LABEL_PX, filter_sheet


def enlarge(image, factor):
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def tile_at(sheet, block, j=0):
    (top, left), (h, w) = sheet.origins[block][j], sheet.tile
    return sheet.image[top:top + h, left:left + w]


def kernel(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


@pytest.mark.parametrize(("shape", "max_width", "tile_px"), [
    ((3, 3, 1, 16), 860, None),  # Digits / MNIST first layer: was a column 33 px wide and 16 tiles tall
    ((3, 3, 1, 16), 340, None),  # the same in a replay column
    ((5, 5, 1, 6), 860, None),  # LeNet-5
    ((3, 3, 1, 64), 860, None),
    ((3, 3, 3, 16), 860, None),  # colour first layer
    ((3, 3, 3, 64), 340, 36),  # in a replay column
    ((3, 3, 16, 32), 860, None),  # a deeper layer: blocks of 16 kernels
    ((3, 3, 32, 64), 860, None),
])
def test_sheets_wrap_into_rows_that_fit_the_width(shape, max_width, tile_px):
    sheet = filter_sheet(kernel(shape), max_width=max_width, tile_px=tile_px)
    height, width = sheet.image.shape[:2]
    n_out, (th, tw) = shape[-1], sheet.tile
    assert width <= max_width and len(sheet.origins) == n_out
    # as few rows of blocks as the width allows
    rows = len({block[0][0] for block in sheet.origins})
    block_w = sheet.origins[0][-1][1] + tw - sheet.origins[0][0][1]
    if sheet.columns > 1:
        gap = sheet.origins[1][0][1] - sheet.origins[0][0][1] - block_w
        fit = (max_width + gap) // (block_w + gap)
    else:
        fit = 1
        assert 2 * block_w > max_width - 20  # a second block would not fit beside the first
    assert rows == -(-n_out // min(n_out, fit))
    assert height < rows * (LABEL_PX + th + 16)
    if shape[2] <= 4:  # small blocks: the sheet is landscape, never a tall strip
        assert height / width <= 1.5, (height, width)
        assert sheet.columns >= min(n_out, 4)


def test_one_channel_blocks_are_diverging_tiles_in_filter_order():
    k = kernel((3, 3, 1, 10), seed=1)
    sheet = filter_sheet(k, tile_px=30, max_width=200)
    assert sheet.filters == list(range(10)) and sheet.inputs == [0]
    assert sheet.tile == (30, 30)
    for f in range(10):
        expected = tiles.diverging(k[:, :, 0, f], np.abs(k[..., f]).max())
        np.testing.assert_array_equal(tile_at(sheet, f), enlarge(expected, 10), err_msg=f"filter {f}")
    rows = [top for ((top, _),) in sheet.origins]
    assert rows == sorted(rows) and len(set(rows)) == -(-10 // sheet.columns) > 1


def test_deep_blocks_hold_each_filters_input_kernels_in_one_row():
    k = kernel((3, 3, 5, 4), seed=2)
    order = [2, 0, 3]
    sheet = filter_sheet(k, order, normalise="layer", max_inputs=4, max_width=2000)
    assert sheet.filters == order and sheet.inputs == [0, 1, 2, 3]
    layer_lim = np.abs(k).max()
    factor = sheet.tile[0] // 3
    for b, f in enumerate(order):
        assert len({top for top, _ in sheet.origins[b]}) == 1  # one row a block
        lefts = [left for _, left in sheet.origins[b]]
        assert lefts == sorted(lefts)
        for j in range(4):
            expected = tiles.diverging(k[:, :, j, f], layer_lim)
            np.testing.assert_array_equal(tile_at(sheet, b, j), enlarge(expected, factor), err_msg=f"filter {f}, in {j}")


def test_rgb_tiles_stretch_each_filter_to_its_range():
    k = kernel((3, 3, 3, 8), seed=3)
    sheet = filter_sheet(k, tile_px=48)
    for f in range(8):
        kf = k[..., f]
        expected = ((kf - kf.min()) / (kf.max() - kf.min()) * 255 + 0.5).astype(np.uint8)
        np.testing.assert_array_equal(tile_at(sheet, f), enlarge(expected, 16), err_msg=f"filter {f}")


def test_every_block_carries_a_label_and_none_without_labels():
    k = kernel((3, 3, 1, 12), seed=4)
    labelled, bare = filter_sheet(k), filter_sheet(k, labels=False)
    for (top, left), in labelled.origins:
        strip = labelled.image[top - LABEL_PX:top, left:left + labelled.tile[1]]
        assert (strip < 128).any(), (top, left)  # dark digits on the white strip
    assert bare.image.shape[0] < labelled.image.shape[0]
    assert bare.origins[0][0][0] == 0


def test_signs_are_coloured():
    signed = np.zeros((3, 3, 2, 1), np.float32)
    signed[0, 0, 0, 0], signed[2, 2, 1, 0] = 1.0, -1.0
    sheet = filter_sheet(signed, tile_px=3, labels=False)
    red, blue = tile_at(sheet, 0, 0)[0, 0].astype(int), tile_at(sheet, 0, 1)[2, 2].astype(int)
    assert red[0] > red[2] and blue[2] > blue[0]
    assert (tile_at(sheet, 0, 0)[1, 1] > 240).all()  # zero weight is white


@pytest.mark.parametrize(("args", "message"), [
    ((np.zeros((3, 3, 3)),), "kh, kw, in, out"),
    ((np.zeros((3, 3, 1, 4)), [4]), r"filter numbers in \[0, 4\)"),
    ((np.zeros((3, 3, 1, 4)), None, None, 16, None, "channel"), "normalise"),
])
def test_bad_input_is_refused(args, message):
    with pytest.raises(ValueError, match=message):
        filter_sheet(*args)

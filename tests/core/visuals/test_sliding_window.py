"""core.visuals.sliding_window: the map pictures Step by step's window is drawn on."""

from __future__ import annotations

import numpy as np
import pytest

from core.visuals.sliding_window import EDGE_COLOUR, PAD_COLOUR, WINDOW_COLOUR, cell_size, map_picture
from core.visuals.tiles import colorize


def test_each_cell_is_cell_px_square_with_the_padding_around_the_map():
    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    picture = map_picture(values, cell_px=5, pad=(1, 2, 1, 0))
    assert picture.shape == ((1 + 3 + 2) * 5, (1 + 4 + 0) * 5, 3) and picture.dtype == np.uint8
    colours = colorize(values)
    # a cell's inside (off its edges) is its colour; the padding is grey
    np.testing.assert_array_equal(picture[5 + 2, 5 + 2], colours[0, 0])
    np.testing.assert_array_equal(picture[5 + 2 * 5 + 2, 5 + 3 * 5 + 2], colours[2, 3])
    np.testing.assert_array_equal(picture[2, 2], PAD_COLOUR)
    np.testing.assert_array_equal(picture[-2, 7], PAD_COLOUR)
    np.testing.assert_array_equal(picture[5, 5 + 7], EDGE_COLOUR)  # the map's own edge, inside the padding


def test_the_window_is_outlined_where_it_reads_padding_included():
    values = np.zeros((4, 4), np.float32)
    picture = map_picture(values, cell_px=6, window=(-1, -1, 3, 3), pad=(1, 1, 1, 1))
    # the window's box starts at the picture's corner (the padding cell) and is 3 cells wide
    np.testing.assert_array_equal(picture[0, 0], WINDOW_COLOUR)
    np.testing.assert_array_equal(picture[0, 3 * 6 - 1], WINDOW_COLOUR)
    np.testing.assert_array_equal(picture[3 * 6 - 1, 9], WINDOW_COLOUR)
    assert not (picture[0, 3 * 6 + 1] == WINDOW_COLOUR).all()  # and ends there
    assert not (picture[9, 9] == WINDOW_COLOUR).all()  # its inside is left as it is


def test_a_colour_image_keeps_its_colours_and_bad_shapes_are_refused():
    rgb = np.zeros((2, 2, 3), np.float32)
    rgb[0, 1] = (1.0, 0.5, 0.0)
    picture = map_picture(rgb, cell_px=4)
    np.testing.assert_array_equal(picture[1, 4 + 1], (255, 128, 0))
    assert map_picture(rgb[..., :1], cell_px=2).shape == (4, 4, 3)  # one channel: a map
    with pytest.raises(ValueError, match="2-D map or an RGB image"):
        map_picture(np.zeros((2, 2, 4)), cell_px=2)
    with pytest.raises(ValueError, match="cell_px"):
        map_picture(np.zeros((2, 2)), cell_px=0)


def test_cell_size_fits_the_largest_map_to_about_300_pixels():
    assert cell_size([(32, 32)]) == 9 and cell_size([(8, 8)]) == 37 and cell_size([(1000, 10)]) == 4

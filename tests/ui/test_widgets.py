"""Pictures the app draws reach the browser as lossless PNG, pixel for pixel."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from core.data.images import to_uint8
from ui.widgets import picture


class Target:
    """Stands in for ``st`` or a column: records what ``image`` was given."""

    def image(self, data, **kwargs):
        self.data, self.kwargs = data, kwargs


def test_arrays_are_sent_as_png_with_every_pixel_kept():
    rng = np.random.default_rng(0)
    for image in (rng.random((40, 56, 3)), rng.random((28, 28)), rng.integers(0, 256, (9, 7, 3), dtype=np.uint8)):
        target = Target()
        picture(target, image, caption="maps")
        assert target.kwargs == {"output_format": "PNG", "caption": "maps"}
        decoded = Image.open(io.BytesIO(target.data))
        assert decoded.format == "PNG"
        expected = image if image.dtype == np.uint8 else to_uint8(image)
        np.testing.assert_array_equal(np.asarray(decoded), expected)


def test_png_bytes_go_through_unchanged():
    buf = io.BytesIO()
    Image.fromarray(np.full((4, 4, 3), 200, np.uint8)).save(buf, format="PNG")
    target = Target()
    picture(target, buf.getvalue())
    assert target.data == buf.getvalue() and target.kwargs == {"output_format": "PNG"}


def test_streamlit_keeps_png_bytes_as_they_are():
    # what picture relies on: with output_format="PNG", st.image passes PNG bytes through untouched,
    # where "auto" re-encodes an RGB picture as JPEG
    from streamlit.elements.lib.image_utils import _ensure_image_size_and_format, _validate_image_format_string
    from streamlit.elements.lib.layout_utils import LayoutConfig

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (30, 30, 3), dtype=np.uint8)).save(buf, format="PNG")
    data = buf.getvalue()
    assert _validate_image_format_string(data, "auto") == "JPEG"
    fmt = _validate_image_format_string(data, "PNG")
    assert _ensure_image_size_and_format(data, LayoutConfig(width="content"), fmt) == data

"""core.data.images: every image a user brings must decode, or fail with ImageDecodeError.

All inputs are generated in memory with Pillow and NumPy; nothing is downloaded.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

import core.data.images
from core.data.images import ImageDecodeError, decode_image, image_notes, load_image, to_model_input

SHAPES = [(28, 28, 1), (32, 32, 3)]


def encode(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def gradient_rgb(width: int, height: int) -> np.ndarray:
    """A smooth colour image (lossy codecs keep it well)."""
    xs = np.linspace(0, 255, width)[None, :].repeat(height, 0)
    ys = np.linspace(0, 255, height)[:, None].repeat(width, 1)
    return np.stack([xs, ys, 255 - xs], axis=-1).astype(np.uint8)


# --- good inputs: (bytes, optional check of the (H, W, C) result) -------------------------

def colour_check(rgb):
    """Check that the whole picture is one colour: RGB for 3 channels, ITU-R 601 luma for 1."""
    rgb = np.asarray(rgb, np.float64)

    def check(arr):
        expected = rgb if arr.shape[-1] == 3 else [rgb @ [0.299, 0.587, 0.114]]
        np.testing.assert_allclose(arr.reshape(-1, arr.shape[-1]).mean(0), expected, atol=0.02)

    return check


def rgb_jpeg():
    # Symmetric ramps: every channel averages 0.5 after a centre crop.
    return encode(Image.fromarray(gradient_rgb(40, 30)), "JPEG", quality=95), colour_check([0.5, 0.5, 0.5])


def png_with_alpha():
    # Left half opaque black, right half fully transparent black: the transparent half must
    # come out white (composited over white as a viewer shows it), not black.
    rgba = np.zeros((20, 40, 4), np.uint8)
    rgba[:, :20, 3] = 255

    def check(arr):
        w = arr.shape[1]
        assert arr[:, : w // 2 - 3].max() < 0.05, "opaque black half should stay black"
        assert arr[:, w // 2 + 3:].min() > 0.95, "transparent half should become white"

    return encode(Image.fromarray(rgba, "RGBA"), "PNG"), check


def grey_png():
    grey = np.full((16, 16), 128, np.uint8)
    return encode(Image.fromarray(grey, "L"), "PNG"), lambda arr: np.testing.assert_allclose(arr, 128 / 255, atol=1e-3)


def palette_png_with_transparency():
    # Index 0 is a transparent red, index 1 an opaque blue: left half 0, right half 1.
    idx = np.zeros((16, 32), np.uint8)
    idx[:, 16:] = 1
    img = Image.fromarray(idx, "P")
    img.putpalette([255, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 6))

    def check(arr):
        w = arr.shape[1]
        left, right = arr[:, : w // 2 - 3], arr[:, w // 2 + 3:]
        assert left.min() > 0.95, "transparent palette entry should become white, not its red colour"
        if arr.shape[-1] == 3:
            np.testing.assert_allclose(right.reshape(-1, 3).mean(0), [0, 0, 1], atol=0.02)
        else:  # blue in ITU-R 601 luma: 0.114
            np.testing.assert_allclose(right.mean(), 0.114, atol=0.02)

    data = encode(img, "PNG", transparency=0)
    assert Image.open(io.BytesIO(data)).mode == "P"
    return data, check


def png_16bit_white():
    img = Image.fromarray(np.full((12, 12), 65535, np.uint16))
    data = encode(img, "PNG")
    assert Image.open(io.BytesIO(data)).mode == "I;16"
    return data, lambda arr: np.testing.assert_allclose(arr, 1.0, atol=1e-3)


def png_16bit_mid_grey():
    # 32896 = 128 * 257: must become 128/255, not be clipped to white or truncated to black.
    img = Image.fromarray(np.full((12, 12), 32896, np.uint16))
    return encode(img, "PNG"), lambda arr: np.testing.assert_allclose(arr, 128 / 255, atol=2e-3)


def cmyk_jpeg():
    # Pure cyan ink: RGB (0, 255, 255).
    data = encode(Image.new("CMYK", (24, 24), (255, 0, 0, 0)), "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"

    return data, colour_check([0, 1, 1])


def one_pixel_png():
    return encode(Image.new("RGB", (1, 1), (255, 255, 255)), "PNG"), lambda arr: np.testing.assert_allclose(arr, 1.0, atol=1e-6)


def animated_gif():
    black = Image.new("RGB", (16, 16), (0, 0, 0))
    white = Image.new("RGB", (16, 16), (255, 255, 255))
    grey = Image.new("RGB", (16, 16), (128, 128, 128))
    data = encode(black, "GIF", save_all=True, append_images=[white, grey], duration=100, loop=0)
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 3
    return data, lambda arr: np.testing.assert_allclose(arr, 0.0, atol=1e-3)  # the first (black) frame


def bmp():
    return encode(Image.new("RGB", (10, 14), (255, 0, 0)), "BMP"), colour_check([1, 0, 0])


def pgm():
    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    data = encode(Image.fromarray(grey, "L"), "PPM")
    assert data.startswith(b"P5")
    return data, lambda arr: np.testing.assert_allclose(arr.mean(), 127.5 / 255, atol=0.02)


def webp():
    return encode(Image.new("RGB", (20, 20), (0, 255, 0)), "WEBP", lossless=True), colour_check([0, 1, 0])


def big_jpeg():
    # 4000x3000 (12 MP), as a phone camera writes; under limits().max_image_pixels, so it must be accepted.
    data = encode(Image.fromarray(gradient_rgb(4000, 3000)), "JPEG", quality=80)

    def check(arr):
        # A smooth gradient keeps its mean whatever the crop and resize.
        assert 0.4 < arr.mean() < 0.6

    return data, check


GOOD = {
    "rgb_jpeg": rgb_jpeg,
    "png_alpha": png_with_alpha,
    "grey_png": grey_png,
    "palette_png_transparency": palette_png_with_transparency,
    "png_16bit_white": png_16bit_white,
    "png_16bit_mid_grey": png_16bit_mid_grey,
    "cmyk_jpeg": cmyk_jpeg,
    "one_pixel_png": one_pixel_png,
    "animated_gif": animated_gif,
    "bmp": bmp,
    "pgm": pgm,
    "webp": webp,
    "jpeg_4000x3000": big_jpeg,
}


@pytest.fixture(scope="module")
def good_inputs():
    # Built once per module: the 12 MP JPEG takes a moment to encode.
    return {name: make() for name, make in GOOD.items()}


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("case", list(GOOD))
def test_good_input_decodes_to_model_shape(good_inputs, case, shape):
    data, check = good_inputs[case]
    # Half-and-half pictures are stretched so that both halves stay in view.
    fit = "stretch" if case in ("png_alpha", "palette_png_transparency") else "crop"
    arr = load_image(data, shape, fit=fit)
    assert arr.shape == shape
    assert arr.dtype == np.float32
    assert np.isfinite(arr).all()
    assert arr.min() >= 0.0 and arr.max() <= 1.0
    if check is not None:
        check(arr)


def test_exif_orientation_6_is_applied():
    # A wide image, left half black and right half white, stored with EXIF orientation 6
    # ("rotate 90 degrees clockwise to display"). Upright, it is tall with the black half on top.
    wide = np.zeros((40, 80), np.uint8)
    wide[:, 40:] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(Image.fromarray(wide, "L"), "JPEG", quality=95, exif=exif.tobytes())
    raw = Image.open(io.BytesIO(data))
    assert raw.size == (80, 40) and raw.getexif()[0x0112] == 6

    expected = np.rot90(wide, k=-1)  # clockwise
    assert expected.shape == (80, 40) and expected[:40].max() == 0 and expected[40:].min() == 255

    img = decode_image(data)
    assert img.size == (40, 80), "decoded image should be tall (width 40, height 80)"
    got = np.asarray(img.convert("L"), np.float32)
    assert np.abs(got - expected).mean() < 3.0  # JPEG noise only

    arr = load_image(data, (28, 28, 1), fit="stretch")
    assert arr[:10].mean() < 0.05, "black half must be on top"
    assert arr[-10:].mean() > 0.95, "white half must be at the bottom"


NOTES = {  # good input -> what the user is told was done to it (nothing for a plain photo)
    "rgb_jpeg": [], "grey_png": [], "bmp": [], "jpeg_4000x3000": [],
    "animated_gif": ["Animated GIF with 3 frames: the first frame is used."],
    "png_16bit_mid_grey": ["16-bit greyscale: scaled to 8 bits."],
    "cmyk_jpeg": ["CMYK (print) colours: converted to RGB."],
    "png_alpha": ["Transparent pixels are shown over white."],
    "palette_png_transparency": ["Transparent pixels are shown over white."],
    "one_pixel_png": ["Only 1×1 pixels: scaled up, it carries almost no detail."],
}


@pytest.mark.parametrize("case", list(NOTES))
def test_decode_says_what_it_did_to_the_picture(good_inputs, case):
    assert image_notes(decode_image(good_inputs[case][0])) == NOTES[case]


def test_notes_name_the_exif_turn_and_16bit_pgm():
    exif = Image.Exif()
    exif[0x0112] = 6
    turned = encode(Image.new("RGB", (30, 20)), "JPEG", exif=exif.tobytes())
    assert image_notes(decode_image(turned)) == ["Set upright from the camera's EXIF orientation (turned 90° clockwise)."]
    assert image_notes(decode_image(pgm_16bit(np.full((8, 8), 300)))) == ["16-bit greyscale: scaled to 8 bits."]
    assert image_notes(Image.new("RGB", (4, 4))) == []  # a picture that did not come through decode_image


def pgm_16bit(values: np.ndarray) -> bytes:
    """A binary PGM with maxval 65535 (big-endian 16-bit samples), written by hand."""
    h, w = values.shape
    return f"P5\n{w} {h}\n65535\n".encode() + values.astype(">u2").tobytes()


SIXTEEN_BIT_ENCODERS = {
    "png": lambda a: encode(Image.fromarray(a.astype(np.uint16)), "PNG"),
    "tiff": lambda a: encode(Image.fromarray(a.astype(np.uint16)), "TIFF"),
    "pgm": pgm_16bit,
}


@pytest.mark.parametrize("value", [65535, 32896, 5000, 200], ids=lambda v: f"v{v}")
@pytest.mark.parametrize("fmt", list(SIXTEEN_BIT_ENCODERS))
def test_16bit_brightness_is_kept_in_every_format(fmt, value):
    # The same 16-bit pixels must give the same brightness whatever the file format:
    # value / 65535. A dark 16-bit picture (every sample <= 255) is still dark, not white.
    data = SIXTEEN_BIT_ENCODERS[fmt](np.full((8, 8), value))
    arr = load_image(data, (8, 8, 1))
    assert arr.mean() == pytest.approx(value / 65535, abs=1.5 / 255)


# --- bad inputs --------------------------------------------------------------------------

def _real_jpeg() -> bytes:
    rng = np.random.default_rng(0)
    return encode(Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)), "JPEG")


def _real_png() -> bytes:
    rng = np.random.default_rng(1)
    return encode(Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)), "PNG")


def _png_declaring(width: int, height: int) -> bytes:
    """A small valid PNG whose IHDR is patched to declare width x height (CRC recomputed)."""
    data = bytearray(encode(Image.new("L", (8, 8)), "PNG"))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


BAD = {
    "empty": (b"", r"empty"),
    "text": (b"hello", r"not an image"),
    "html": (b"<!DOCTYPE html><html><head><title>x</title></head><body><p>hi</p></body></html>", r"not an image"),
    "svg": (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
            b'<rect width="10" height="10" fill="red"/></svg>', r"not an image"),
    "pdf": (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n", r"not an image"),
    "truncated_jpeg": (_real_jpeg()[: len(_real_jpeg()) // 2], r"damaged or truncated"),
    "truncated_png": (_real_png()[: len(_real_png()) // 2], r"damaged or truncated"),
    "random_bytes": (np.random.default_rng(42).bytes(4096), r"not an image"),
    # 900 MP: far beyond Pillow's own bomb limit.
    "bomb_30000x30000": (_png_declaring(30000, 30000), r"decompression bomb|pixels"),
    # 64 MP: under Pillow's limit, over limits().max_image_pixels (16 MP), so the core's own guard must refuse it.
    "bomb_8000x8000": (_png_declaring(8000, 8000), r"8000x8000"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_raises_clear_error(case):
    data, message = BAD[case]
    with pytest.raises(ImageDecodeError, match=message) as info:
        load_image(data, (28, 28, 1))
    text = str(info.value)
    assert len(text) > 20 and "Traceback" not in text


def test_image_decode_error_is_a_value_error():
    assert issubclass(ImageDecodeError, ValueError)


def test_max_pixels_argument_and_max_bytes(monkeypatch):
    data = encode(Image.new("RGB", (20, 20)), "PNG")
    with pytest.raises(ImageDecodeError, match="20x20"):
        decode_image(data, max_pixels=100)
    monkeypatch.setattr(core.data.images, "MAX_BYTES", len(data) - 1)
    with pytest.raises(ImageDecodeError, match="MB"):
        decode_image(data)


def test_decode_image_returns_loaded_upright_image():
    img = decode_image(encode(Image.new("RGB", (7, 5), (1, 2, 3)), "PNG"))
    assert img.size == (7, 5)
    assert img.getpixel((0, 0)) == (1, 2, 3)


# --- to_model_input ----------------------------------------------------------------------

@pytest.fixture
def wide_bars() -> Image.Image:
    """60x20: black, white and black thirds. Each fit mode sees a different share of white."""
    arr = np.zeros((20, 60), np.uint8)
    arr[:, 20:40] = 255
    return Image.fromarray(arr, "L")


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("fit, white_share", [("crop", 1.0), ("stretch", 1 / 3), ("pad", 1 / 9)])
def test_fit_modes(wide_bars, fit, white_share, shape):
    arr = to_model_input(wide_bars, shape, fit=fit)
    assert arr.shape == shape and arr.dtype == np.float32
    assert arr.min() >= 0.0 and arr.max() <= 1.0
    # crop keeps the white centre square, stretch keeps all three bars, pad adds black
    # borders (the edge colour) above and below the shrunken bars.
    assert arr.mean() == pytest.approx(white_share, abs=0.06)


def test_pad_keeps_aspect_ratio_with_edge_colour():
    # A tall red image padded into a square: left and right borders take the edge colour.
    img = Image.new("RGB", (10, 40), (255, 0, 0))
    arr = to_model_input(img, (32, 32, 3), fit="pad")
    np.testing.assert_allclose(arr.reshape(-1, 3).mean(0), [1, 0, 0], atol=0.01)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_invert_gives_one_minus(shape):
    data, _ = rgb_jpeg()
    plain = load_image(data, shape)
    inverted = load_image(data, shape, invert=True)
    np.testing.assert_allclose(inverted, 1.0 - plain, atol=1e-7)
    assert inverted.dtype == np.float32


def test_to_model_input_rejects_bad_arguments(wide_bars):
    with pytest.raises(ImageDecodeError, match="1 or 3 channels"):
        to_model_input(wide_bars, (28, 28, 4))
    with pytest.raises(ValueError, match="fit"):
        to_model_input(wide_bars, (28, 28, 1), fit="zoom")


def test_encode_png_round_trip():
    arr = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8, 1)
    back = load_image(core.data.images.encode_png(arr), (8, 8, 1), fit="stretch")
    np.testing.assert_allclose(back, arr, atol=0.5 / 255 + 1e-6)


# --- the one opener: formats the app documents, pixels counted from the header -------------------

import re  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

from bad_files import eps_file, png16_zeros  # noqa: E402
from core.data.images import IMAGE_FORMATS, IMAGE_SUFFIXES, open_image  # noqa: E402


def test_a_16_bit_png_bomb_is_refused_from_its_header_in_milliseconds():
    data = png16_zeros(7000, 7000)
    assert len(data) < 150_000  # 98 MB of samples in a 95 KB file
    with Image.open(io.BytesIO(data)) as reference:  # Pillow, the trusted reader, agrees on what it declares
        assert reference.size == (7000, 7000) and reference.mode == "I;16"
    tracemalloc.start()
    start = time.thread_time()  # CPU time of this thread: other work on the machine does not count
    with pytest.raises(ImageDecodeError, match=r"7000x7000 pixels \(49 MP\); at most 16 MP are accepted") as info:
        load_image(data, (64, 64, 1))
    seconds = time.thread_time() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # Decoded, it took 4 s and 920 MB; refused from the header, nothing is decoded.
    assert seconds < 0.5 and peak < 5 * 2**20, (seconds, peak)
    assert "scale it down, to" in str(info.value)


def test_the_pixel_limit_is_read_at_call_time_and_the_limit_itself_passes(monkeypatch):
    data = png16_zeros(700, 700)
    monkeypatch.setenv("CNNLAB_MAX_IMAGE_PIXELS", str(700 * 700))
    img = decode_image(data)  # exactly at the limit: accepted, and read as Pillow reads it
    np.testing.assert_array_equal(np.asarray(img), np.zeros((700, 700), np.uint16))
    monkeypatch.setenv("CNNLAB_MAX_IMAGE_PIXELS", str(700 * 700 - 1))
    with pytest.raises(ImageDecodeError, match="700x700"):
        decode_image(data)


def test_an_image_of_16_mp_passes_the_default_limit():
    buf = io.BytesIO()
    Image.new("L", (4000, 4000), 77).save(buf, "PNG")
    img = decode_image(buf.getvalue())
    assert img.size == (4000, 4000) and img.getpixel((3999, 3999)) == 77


def test_an_eps_file_is_refused_without_starting_ghostscript(monkeypatch):
    from PIL import EpsImagePlugin

    calls = []
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", lambda *a, **k: calls.append(a) or (_ for _ in ()).throw(
        AssertionError("Ghostscript started")))
    data = eps_file()
    assert data.startswith(b"%!PS-Adobe")
    with Image.open(io.BytesIO(data)) as reference:  # Pillow alone would take it, and need Ghostscript to load it
        assert reference.format == "EPS"
    with pytest.raises(ImageDecodeError, match=r"not an image we can read\. Expected PNG, JPEG.*"
                                               r"Received: a PostScript \(EPS\) file\."):
        decode_image(data)
    assert calls == []


@pytest.mark.parametrize("fmt, kind", [("ICO", "an icon (ICO) file"), ("TGA", "a file of another kind"),
                                       ("PCX", "a file of another kind"), ("SGI", "a file of another kind")])
def test_formats_pillow_knows_but_the_app_does_not_document_are_refused(fmt, kind):
    data = encode(Image.new("RGB", (16, 16), (1, 2, 3)), fmt)
    with Image.open(io.BytesIO(data)) as reference:
        assert reference.format == fmt
    with pytest.raises(ImageDecodeError, match=re.escape(f"Received: {kind}.")):
        decode_image(data)


@pytest.mark.parametrize("fmt", IMAGE_FORMATS)
def test_every_documented_format_opens(fmt, tmp_path):
    data = encode(Image.new("RGB" if fmt != "PPM" else "L", (9, 7), 120), fmt)
    path = tmp_path / f"x.{fmt.lower()}"
    path.write_bytes(data)
    for source in (data, path):
        with open_image(source) as img:
            assert img.size == (9, 7) and img.format == fmt


def test_the_documented_suffixes_and_formats_agree():
    Image.init()
    assert {Image.EXTENSION[s] for s in IMAGE_SUFFIXES} == set(IMAGE_FORMATS)
    for fmt in IMAGE_FORMATS:
        assert fmt in Image.OPEN


def test_open_image_is_the_only_caller_of_pillows_open():
    # Any other Image.open would try all of Pillow's formats and decode without the pixel limit.
    root = Path(__file__).resolve().parents[3]
    callers = [str(p.relative_to(root)) for folder in ("core", "ui", "pages") for p in (root / folder).rglob("*.py")
               if "Image.open(" in p.read_text()] + (["app.py"] if "Image.open(" in (root / "app.py").read_text() else [])
    assert callers == ["core/data/images.py"]


@pytest.mark.parametrize("mode", ["I;16", "I"])
def test_16_bit_samples_become_8_bits_as_the_float64_reference_says(mode):
    from core.data.images import _to_8bit

    samples = np.arange(65536, dtype=np.uint16 if mode == "I;16" else np.int32).reshape(256, 256)
    reference = np.clip(samples.astype(np.float64) / 257.0, 0, 255).astype(np.uint8)
    img = Image.fromarray(samples)
    assert img.mode == mode
    np.testing.assert_array_equal(np.asarray(_to_8bit(img)), reference)
    if mode == "I":  # 32-bit samples beyond 16 bits and below 0 are clipped
        wide = np.array([[-5, 0, 70000, 2**31 - 1]], np.int32)
        np.testing.assert_array_equal(np.asarray(_to_8bit(Image.fromarray(wide))), [[0, 0, 255, 255]])

"""Safe decoding of user images into arrays a model can take.

Every image a user brings (an upload, a webcam snapshot, a file in a dataset
folder or a zip) is opened by ``open_image``, the one place the app calls
Pillow's ``Image.open``: only the formats the app documents (``IMAGE_FORMATS``)
are tried, so a PostScript file never reaches Ghostscript, and the pixel count
the header declares is checked against ``core.settings.limits().max_image_pixels``
before a single pixel is decoded. ``decode_image`` then loads the picture and
``to_model_input`` fits it to a model. Anything that is not a readable image
raises ``ImageDecodeError`` with a message written for the user; nothing else escapes.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.data.file_kind import describe_file, read_head
from core.settings import limits

# Refuse files so large that merely reading them would strain the server.
MAX_BYTES = 50 * 1024 * 1024

# Pillow's names of the formats the app reads (PPM covers PBM, PGM and PPM; JPEG covers the
# MPO files phones write). Pillow knows some forty more, and opening one may start a
# program (Ghostscript for EPS) or a decoder nobody here has audited: they are never tried.
IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM")
# The file names the folder loader, the zip import and My classes take for images: those
# Pillow maps to IMAGE_FORMATS (tests/core/data/test_images.py checks that they agree).
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".pgm", ".ppm", ".pbm", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
SUPPORTED = "PNG, JPEG, BMP, GIF, TIFF, WebP or PGM/PPM"

class ImageDecodeError(ValueError):
    """The bytes are not an image we can read; the message is meant for the user."""


def _too_many_pixels(width: int, height: int, max_pixels: int) -> ImageDecodeError:
    return ImageDecodeError(
        f"The image declares {width}x{height} pixels ({width * height / 1e6:.0f} MP); "
        f"at most {max_pixels / 1e6:.0f} MP are accepted. Expected a smaller picture: "
        f"scale it down, to {_fitting_side(width, height, max_pixels)}, and try again.")


def _fitting_side(width: int, height: int, max_pixels: int) -> str:
    scale = (max_pixels / (width * height)) ** 0.5
    return f"{max(1, int(width * scale))}x{max(1, int(height * scale))} or less"


def open_image(source: bytes | str | Path | BinaryIO, max_pixels: int | None = None) -> Image.Image:
    """Open an image for reading: its format and header are checked, its pixels not yet decoded.

    The one function of the app that calls ``PIL.Image.open``. Use it as a context manager
    (``with open_image(path) as img: ...``) and ``load()`` or convert the image inside.

    Args:
        source: the file's bytes, a path, or an open binary file.
        max_pixels: images whose header declares more pixels are refused before
            decoding; ``limits().max_image_pixels`` when omitted.

    Returns:
        A lazily loaded Pillow image whose format is one of ``IMAGE_FORMATS``.

    Raises:
        ImageDecodeError: not one of those formats, a header too damaged to read,
            too many pixels, or a decompression bomb.
    """
    max_pixels = limits().max_image_pixels if max_pixels is None else int(max_pixels)
    fp = io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else source
    try:
        with warnings.catch_warnings():
            # Pillow warns from 89 MP; our own limit, checked below, is the one that decides.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(fp, formats=IMAGE_FORMATS)
    except UnidentifiedImageError as exc:
        raise ImageDecodeError(f"This file is not an image we can read. Expected {SUPPORTED}. "
                               f"Received: {describe_file(read_head(source))}.") from exc
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError("The image declares far more pixels than its file size allows "
                               "(a decompression bomb); refused.") from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error) as exc:
        raise ImageDecodeError(f"The image file is damaged or truncated and cannot be decoded ({exc}).") from exc
    width, height = img.size
    if width * height > max_pixels:
        img.close()
        raise _too_many_pixels(width, height, max_pixels)
    return img


def read_image_file(path: str | Path) -> bytes:
    """The bytes of an image file, refused (``ImageDecodeError``) when it is over ``MAX_BYTES`` before any is read."""
    try:
        size = os.stat(path).st_size
        if size > MAX_BYTES:
            raise ImageDecodeError(f"The file is {size / 2**20:.0f} MB; images up to {MAX_BYTES // 2**20} MB are accepted.")
        with open(path, "rb") as fh:
            # the size found, and one byte more: a file that grew since is caught by decode_image. Not MAX_BYTES + 1,
            # which allocated a 50 MB buffer for every image read, however small.
            return fh.read(size + 1)
    except OSError as exc:
        raise ImageDecodeError(f"The file cannot be read ({exc.strerror or exc}).") from exc


def decode_image(data: bytes, max_pixels: int | None = None) -> Image.Image:
    """Decode bytes into a fully loaded, upright Pillow image.

    Args:
        data: the raw file bytes.
        max_pixels: images that declare more pixels than this are refused before
            they are decoded; ``limits().max_image_pixels`` when omitted.

    Raises:
        ImageDecodeError: empty, not an image, damaged, or too large.
    """
    if data is None or len(data) == 0:
        raise ImageDecodeError("The file is empty (0 bytes). Choose an image file.")
    if len(data) > MAX_BYTES:
        raise ImageDecodeError(f"The file is {len(data) / 2**20:.0f} MB; images up to {MAX_BYTES // 2**20} MB are accepted.")
    img = open_image(data, max_pixels)
    try:
        frames = int(getattr(img, "n_frames", 1) or 1)
        source_format, source_mode = img.format, img.mode
        transparent = source_mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
        img.seek(0)  # animated images: the first frame
        img.load()
        if img.mode == "I" and img.format == "PPM":
            # Pillow scales every PGM with maxval > 255 onto 0..65535 in mode "I"; say so
            # in the mode, or a dark picture (all samples <= 255) would be read as 8-bit.
            img = Image.fromarray(np.asarray(img, np.uint16))  # mode "I;16"
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error) as exc:
        raise ImageDecodeError(f"The image file is damaged or truncated and cannot be decoded ({exc}).") from exc
    orientation = 1
    try:
        orientation = int(img.getexif().get(0x0112, 1) or 1)
        img = ImageOps.exif_transpose(img)
    except Exception:  # a broken EXIF block should not cost the user their picture
        pass
    if img.width < 1 or img.height < 1:
        raise ImageDecodeError(f"Expected an image at least 1x1. Received: {img.width}x{img.height}")
    img.info[NOTES_KEY] = _notes(source_format, source_mode, frames, orientation, transparent, img.size)
    return img


NOTES_KEY = "cnnlab_notes"
_ORIENTATIONS = {2: "mirrored", 3: "turned 180°", 4: "flipped upside down", 5: "mirrored and turned 90°",
                 6: "turned 90° clockwise", 7: "mirrored and turned 90°", 8: "turned 90° anticlockwise"}


def _notes(fmt: str | None, mode: str, frames: int, orientation: int, transparent: bool,
           size: tuple[int, int]) -> list[str]:
    notes = []
    kind = fmt or "image"
    if frames > 1:
        notes.append(f"Animated {kind} with {frames} frames: the first frame is used.")
    if orientation in _ORIENTATIONS:
        notes.append(f"Set upright from the camera's EXIF orientation ({_ORIENTATIONS[orientation]}).")
    if mode.startswith("I;16") or (mode == "I" and fmt == "PPM"):
        notes.append("16-bit greyscale: scaled to 8 bits.")
    elif mode in ("I", "F"):
        notes.append(f"{'32-bit' if mode == 'I' else 'Floating-point'} greyscale: scaled to 8 bits.")
    if mode == "CMYK":
        notes.append("CMYK (print) colours: converted to RGB.")
    if transparent:
        notes.append("Transparent pixels are shown over white.")
    if min(size) < 8:
        notes.append(f"Only {size[0]}×{size[1]} pixels: scaled up, it carries almost no detail.")
    return notes


def image_notes(img: Image.Image) -> list[str]:
    """What ``decode_image`` did to make the picture usable (first frame, EXIF turn, bit depth...), for the user."""
    return list(img.info.get(NOTES_KEY, []))


def _to_8bit(img: Image.Image) -> Image.Image:
    """16-bit integer and float greyscale images to 8 bits."""
    # 0..65535 onto 0..255 by 257, rounding down. In integers (16 MP of 16-bit samples: 32 MB, where
    # float64 took 400 MB at the peak); float32 where samples may be negative or over 65535, which is
    # exact for the 0..65535 that are not clipped.
    if img.mode.startswith("I;16"):
        return Image.fromarray((np.asarray(img, dtype=np.uint16) // 257).astype(np.uint8), "L")
    if img.mode.startswith("I"):
        arr = np.asarray(img, dtype=np.int32)
        if arr.max() > 255:
            arr = arr.astype(np.float32) / np.float32(257.0)
        return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        if lo >= 0.0 and hi <= 1.0:
            arr = arr * 255.0
        elif hi > lo:
            arr = (arr - lo) / (hi - lo) * 255.0
        return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")
    return img


def _flatten_alpha(img: Image.Image) -> Image.Image:
    """Composite transparent pixels over white, as a viewer would show them."""
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba).convert("RGB")
    return img


def to_model_input(img: Image.Image, input_shape: tuple[int, int, int],
                   fit: Literal["crop", "pad", "stretch"] = "crop", invert: bool = False) -> np.ndarray:
    """Convert a decoded image into what a model with ``input_shape`` takes.

    Args:
        img: a Pillow image of any mode.
        input_shape: (height, width, channels) with 1 or 3 channels.
        fit: ``"crop"`` cuts the centre to the model's aspect ratio, ``"pad"``
            adds borders of the edge colour, ``"stretch"`` ignores the aspect ratio.
        invert: turn dark-on-light into light-on-dark (MNIST digits are white on black).

    Returns:
        float32 array of ``input_shape`` with values in [0, 1].
    """
    height, width, channels = (int(v) for v in input_shape)
    if channels not in (1, 3):
        raise ImageDecodeError(f"Expected a model input with 1 or 3 channels. Received: shape={tuple(input_shape)}")
    img = _flatten_alpha(_to_8bit(img))
    img = img.convert("L" if channels == 1 else "RGB")
    if fit == "crop":
        img = ImageOps.fit(img, (width, height), Image.Resampling.LANCZOS)
    elif fit == "pad":
        fill = img.getpixel((0, 0))
        img = ImageOps.pad(img, (width, height), Image.Resampling.LANCZOS, color=fill)
    elif fit == "stretch":
        img = img.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
    else:
        raise ValueError(f"Expected fit in ('crop', 'pad', 'stretch'). Received: {fit!r}")
    arr = np.asarray(img, dtype=np.float32) / 255.0
    if arr.ndim == 2:
        arr = arr[..., None]
    if invert:
        arr = 1.0 - arr
    return arr


def load_image(data: bytes, input_shape: tuple[int, int, int], **kwargs) -> np.ndarray:
    """``decode_image`` then ``to_model_input``: bytes in, model-ready array out."""
    return to_model_input(decode_image(data), input_shape, **kwargs)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """A float image in [0, 1] (HxW, HxWx1 or HxWx3) as uint8 for display."""
    arr = np.clip(np.asarray(image, np.float32), 0.0, 1.0)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    return (arr * 255.0 + 0.5).astype(np.uint8)


def encode_png(image: np.ndarray, compress_level: int = 6) -> bytes:
    """Encode a float image in [0, 1] or a uint8 image as PNG bytes.

    ``compress_level`` 1 encodes about twice as fast for 2 % more bytes: the choice for pictures
    drawn afresh on every rerun and sent over localhost; 6 (zlib's default) for files kept.
    """
    arr = image if image.dtype == np.uint8 else to_uint8(image)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()

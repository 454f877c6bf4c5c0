"""Real hostile files, built in memory, for the tests of the server's limits.

Each is a file an untrusted student could send: nothing is mocked, every one opens in an
ordinary viewer (or archive tool) as what it claims to be.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import numpy as np
from PIL import Image


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png16_zeros(width: int, height: int) -> bytes:
    """A real, valid 16-bit greyscale PNG of ``width`` x ``height`` black pixels.

    Its rows of zeros compress about a thousand-fold, so 7000x7000 (98 MB of samples) is a
    95 KB file: Pillow decodes it correctly, at the cost of the full 98 MB and then some.
    """
    pack = zlib.compressobj(9)
    row = bytes(1 + 2 * width)  # filter byte 0, then 2 bytes a pixel
    idat = b"".join(pack.compress(row) for _ in range(height)) + pack.flush()
    header = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)  # 16-bit greyscale, no interlace
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def strip_png(width: int = 100_000, height: int = 12) -> bytes:
    """A real PNG strip, 100000x12 by default: 1.2 MP, well under the pixel limit, yet no photo of a face."""
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def eps_file() -> bytes:
    """A real Encapsulated PostScript file of a small picture, as Pillow writes it (no Ghostscript needed to write)."""
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(buf, "EPS")
    return buf.getvalue()


def blank_bmp(width: int = 1024, height: int = 341) -> bytes:
    """A white 24-bit BMP; 1024x341 is 1,047,606 bytes, just under 1 MiB."""
    buf = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buf, "BMP")
    return buf.getvalue()


def bmp_zip(count: int = 100, classes: tuple[str, ...] = ("a", "b"), bmp: bytes | None = None) -> bytes:
    """``count`` blank BMPs in class folders, deflated at level 9: 100 make a 116 KB zip that unpacks to 105 MB."""
    bmp = blank_bmp() if bmp is None else bmp
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for i in range(count):
            zf.writestr(f"{classes[i % len(classes)]}/img{i}.bmp", bmp)
    return buf.getvalue()


def small_png(seed: int = 0, size: int = 8) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def zip_of(entries: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buf.getvalue()

"""What a file someone sent instead of an image seems to be, to say so in the refusal.

``core.data.images`` opens only the formats the app documents; a file that is none of them is
refused with what it looks like, from its first bytes: "Received: a PostScript (EPS) file",
"a HEIC or AVIF photo (save it as JPEG first)", "a damaged PNG file". Nothing here decodes anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

# Kinds of files people upload by mistake, told apart by their first bytes, to say what was received.
_KNOWN_KINDS = (
    (b"%!PS", "a PostScript (EPS) file"),
    (b"\xc5\xd0\xd3\xc6", "a PostScript (EPS) file"),
    (b"%PDF", "a PDF document"),
    (b"8BPS", "a Photoshop (PSD) file"),
    (b"\x00\x00\x01\x00", "an icon (ICO) file"),
    (b"\xff\x4f\xff\x51", "a JPEG 2000 file"),
    (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 file"),
    (b"PK\x03\x04", "a zip archive"),
)
# The signatures of the formats core.data.images reads: a file that starts like one and cannot be opened is damaged.
_OUR_KINDS = ((b"\x89PNG", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF8", "GIF"), (b"BM", "BMP"),
              (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"))


def describe_file(head: bytes) -> str:
    """What a file that is not a readable image seems to be, from its first bytes (``a PDF document``)."""
    for magic, kind in _OUR_KINDS:
        if head.startswith(magic):
            return f"a damaged {kind} file"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "a damaged WebP file"
    for magic, kind in _KNOWN_KINDS:
        if head.startswith(magic):
            return kind
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif", b"ftyphevc"):
        return "a HEIC or AVIF photo (save it as JPEG first)"
    text = head.lstrip().lower()
    if text.startswith((b"<svg", b"<?xml")) and b"<svg" in head.lower():
        return "an SVG drawing"
    if text.startswith((b"<!doctype html", b"<html")):
        return "a web page"
    return "a file of another kind"


def read_head(source: bytes | str | Path | BinaryIO, size: int = 64) -> bytes:
    """The first bytes of ``source``, to say what kind of file it is; empty when they cannot be read."""
    try:
        if isinstance(source, (bytes, bytearray, memoryview)):
            return bytes(source[:size])
        if isinstance(source, (str, Path)):
            with open(source, "rb") as fh:
                return fh.read(size)
        position = source.tell()
        source.seek(0)
        head = source.read(size)
        source.seek(position)
        return head
    except (OSError, ValueError, AttributeError):
        return b""

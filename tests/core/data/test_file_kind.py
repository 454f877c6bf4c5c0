"""core.data.file_kind: what a file that is not a readable image seems to be, from real files of each kind."""

from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image

from bad_files import eps_file, small_png
from core.data.file_kind import describe_file, read_head


def pillow(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (9, 9, 9)).save(buf, fmt)
    return buf.getvalue()


def a_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.txt", "x")
    return buf.getvalue()


CASES = [
    (eps_file, "a PostScript (EPS) file"),
    (lambda: pillow("PDF"), "a PDF document"),
    (lambda: pillow("ICO"), "an icon (ICO) file"),
    (lambda: pillow("JPEG2000"), "a JPEG 2000 file"),
    (a_zip, "a zip archive"),
    (lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "a HEIC or AVIF photo (save it as JPEG first)"),
    (lambda: b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "an SVG drawing"),
    (lambda: b"<!DOCTYPE html><html></html>", "a web page"),
    (lambda: small_png()[:30], "a damaged PNG file"),
    (lambda: pillow("WEBP")[:20], "a damaged WebP file"),
    (lambda: b"hello", "a file of another kind"),
    (lambda: b"", "a file of another kind"),
]


@pytest.mark.parametrize("build, kind", CASES, ids=[c[1] for c in CASES])
def test_describe_file(build, kind):
    assert describe_file(read_head(build())) == kind


def test_read_head_from_bytes_a_path_and_an_open_file_leaving_its_position(tmp_path):
    data = eps_file()
    (tmp_path / "x.eps").write_bytes(data)
    stream = io.BytesIO(data)
    stream.seek(10)
    assert read_head(data) == read_head(tmp_path / "x.eps") == read_head(stream) == data[:64]
    assert stream.tell() == 10
    assert read_head(tmp_path / "missing") == b""

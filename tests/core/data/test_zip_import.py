"""core.data.zip_import: hostile and broken zips are refused cleanly; good ones load with load_folder."""

from __future__ import annotations

import io
import struct
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.data.folder import load_folder
from core.data.zip_import import ZipImportError, ZipLimits, extract_image_zip


def image_bytes(seed: int, fmt: str = "PNG", size: int = 8) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(buf, format=fmt)
    return buf.getvalue()


def make_zip(entries) -> bytes:
    """A zip of (name or ZipInfo, bytes) pairs, deflated."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns on duplicate names, which one case wants
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in entries:
                if isinstance(name, zipfile.ZipInfo):
                    name.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(name, data)
    return buf.getvalue()


def two_classes(prefix: str = "", per_class: int = 6) -> list[tuple[str, bytes]]:
    return [(f"{prefix}{cls}/{cls}{i}.png", image_bytes(seed * 100 + i))
            for seed, cls in enumerate(["cats", "dogs"]) for i in range(per_class)]


def patch_member(data: bytes, name: str, central_offset: int, local_offset: int, change) -> bytes:
    """Rewrite one little-endian field of ``name``'s central and local headers with ``change(old)``."""
    fmt = "<H" if central_offset == 8 else "<I"
    buf, encoded, pos, hits = bytearray(data), name.encode(), 0, 0
    while (pos := buf.find(b"PK\x01\x02", pos)) >= 0:
        name_len = struct.unpack_from("<H", buf, pos + 28)[0]
        if bytes(buf[pos + 46:pos + 46 + name_len]) == encoded:
            struct.pack_into(fmt, buf, pos + central_offset, change(struct.unpack_from(fmt, buf, pos + central_offset)[0]))
            local = struct.unpack_from("<I", buf, pos + 42)[0]
            struct.pack_into(fmt, buf, local + local_offset, change(struct.unpack_from(fmt, buf, local + local_offset)[0]))
            hits += 1
        pos += 4
    assert hits == 1
    return bytes(buf)


def with_member(name, data: bytes = b"x") -> bytes:
    return make_zip(two_classes() + [(name, data)])


def symlink_zip() -> bytes:
    info = zipfile.ZipInfo("cats/link.png")
    info.create_system = 3  # Unix, so the mode bits mean what they say
    info.external_attr = 0o120777 << 16
    return with_member(info, b"/etc/passwd")


def lying_size_zip() -> bytes:
    # The central directory says 100 bytes; the member inflates to a whole PNG.
    data = make_zip(two_classes() + [("cats/liar.png", image_bytes(7, size=64))])
    return patch_member(data, "cats/liar.png", 24, 22, lambda old: 100)


def encrypted_zip() -> bytes:
    return patch_member(make_zip(two_classes()), "dogs/dogs3.png", 8, 6, lambda old: old | 0x1)


def bomb_zip() -> bytes:
    return with_member("cats/bomb.png", bytes(100 * 2**20))


REFUSED = [
    ("traversal", lambda: with_member("../evil.png", image_bytes(1)), None, "'..'"),
    ("traversal_deep", lambda: with_member("cats/../../evil.png", image_bytes(1)), None, "'..'"),
    ("traversal_in_macosx", lambda: with_member("__MACOSX/../../evil.png"), None, "'..'"),
    ("absolute", lambda: with_member("/etc/x.png", image_bytes(1)), None, "absolute path"),
    ("windows_drive", lambda: with_member("C:\\x.png", image_bytes(1)), None, "drive letter"),
    ("windows_drive_slash", lambda: with_member("C:/x.png", image_bytes(1)), None, "drive letter"),
    ("windows_traversal", lambda: with_member("..\\x.png", image_bytes(1)), None, "'..'"),
    ("windows_absolute", lambda: with_member("\\evil\\x.png", image_bytes(1)), None, "absolute path"),
    ("symlink", symlink_zip, None, "symbolic link"),
    ("too_many_files", lambda: make_zip(two_classes(per_class=3)), ZipLimits(max_files=5), "at most 5 files"),
    ("zip_bomb", bomb_zip, None, "zip bomb"),
    ("member_too_big", lambda: with_member("cats/big.png", image_bytes(1, size=64)), ZipLimits(max_file_bytes=1000),
     "files of at most"),
    ("total_too_big", lambda: make_zip(two_classes()), ZipLimits(max_total_bytes=1000), "uncompressed"),
    ("header_lies_about_size", lying_size_zip, None, "match its header"),
    ("encrypted", encrypted_zip, None, "without a password"),
    ("duplicate_member", lambda: with_member("cats/cats0.png", image_bytes(5)), None, "twice"),
    ("not_a_zip", lambda: image_bytes(1), None, "not a zip"),
    ("truncated", lambda: make_zip(two_classes())[: len(make_zip(two_classes())) // 2], None, "not a zip"),
    ("empty_bytes", lambda: b"", None, "empty file"),
    ("empty_archive", lambda: make_zip([]), None, "empty zip archive"),
    ("single_class", lambda: make_zip([(f"cats/{i}.png", image_bytes(i)) for i in range(6)]), None,
     "at least 2 class folders"),
    ("single_class_wrapped", lambda: make_zip([(f"data/cats/{i}.png", image_bytes(i)) for i in range(6)]), None,
     "at least 2 class folders"),
    ("second_class_not_images", lambda: make_zip(two_classes()[:6] + [("dogs/a.txt", b"hi")]), None,
     "Received: 1 (cats)"),
    ("second_class_unreadable", lambda: make_zip(two_classes()[:6] + [("dogs/a.png", b"\x89PNG broken")]), None,
     "readable images"),
    ("split_without_test_images", lambda: make_zip(two_classes("train/") + [("test/cats/notes.txt", b"hi")]), None,
     "images in the zip's test/"),
    ("split_with_one_train_class", lambda: make_zip(two_classes("test/") + two_classes("train/")[:6]), None,
     "(in train/)"),
]


def tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


@pytest.mark.parametrize("build, limits, fragment", [case[1:] for case in REFUSED], ids=[case[0] for case in REFUSED])
def test_refused_zip_leaves_nothing_behind(tmp_path, build, limits, fragment):
    # The target sits two levels down, so "../x" or "../../x" would land inside tmp_path where we can see it.
    target = tmp_path / "a" / "b" / "target"
    target.mkdir(parents=True)
    with pytest.raises(ZipImportError) as info:
        extract_image_zip(build(), target, limits)
    assert fragment in str(info.value)
    assert tree(tmp_path) == ["a", "a/b", "a/b/target"]


def test_refused_zip_does_not_create_a_missing_target(tmp_path):
    target = tmp_path / "new"
    with pytest.raises(ZipImportError, match="'..'"):
        extract_image_zip(with_member("../evil.png", image_bytes(1)), target)
    assert tree(tmp_path) == []


def test_non_empty_target_is_refused_and_untouched(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(ZipImportError, match="Expected a missing or empty target folder"):
        extract_image_zip(make_zip(two_classes()), target)
    assert tree(tmp_path) == ["target", "target/keep.txt"]


def test_wrapped_zip_with_junk_extracts_and_loads(tmp_path):
    entries = [
        (zipfile.ZipInfo("dataset/"), b""),
        (zipfile.ZipInfo("dataset/cats/"), b""),
        *two_classes(prefix="dataset/"),
        ("dataset/dogs/dogs_jpeg.jpg", image_bytes(42, fmt="JPEG")),
        ("dataset/notes.txt", b"collected in 2024"),
        ("dataset/cats/readme.txt", b"cats"),
        ("dataset/dogs/bad.png", b"\x89PNG\r\n\x1a\n this is not really a png"),
        ("__MACOSX/dataset/cats/._cats0.png", b"\x00\x05\x16\x07 resource fork"),
        ("dataset/.DS_Store", b"\x00\x00\x00\x01Bud1"),
        ("dataset/cats/.hidden.png", image_bytes(9)),
    ]
    target = tmp_path / "target"
    report = extract_image_zip(make_zip(entries), target)

    assert report.root == target
    assert report.class_counts == {"cats": 6, "dogs": 7}
    assert report.small_classes == []
    # Listed in the zip's order, with core.data.images' message for the broken PNG; junk is not listed.
    assert report.skipped == [
        "dataset/notes.txt: not inside a class folder",
        "dataset/cats/readme.txt: not an image file type",
        "dataset/dogs/bad.png: This file is not an image we can read. Expected PNG, JPEG, BMP, GIF, TIFF, WebP or PGM/PPM. "
        "Received: a damaged PNG file.",
    ]
    assert report.total_bytes == sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    # Only the images, at the root of the target: no wrapper, no junk, no leftover temporary folder.
    assert tree(tmp_path) == ["target", "target/cats", *[f"target/cats/cats{i}.png" for i in range(6)],
                              "target/dogs", *[f"target/dogs/dogs{i}.png" for i in range(6)],
                              "target/dogs/dogs_jpeg.jpg"]

    ds = load_folder(report.root, image_size=16)
    assert ds.class_names == ["cats", "dogs"]
    train, test = ds.class_counts("train"), ds.class_counts("test")
    assert {c: train[c] + test[c] for c in ds.class_names} == report.class_counts
    assert ds.input_shape == (16, 16, 3)
    assert ds.warnings == []


def test_small_class_is_flagged_not_refused(tmp_path):
    entries = two_classes() + [("birds/b0.png", image_bytes(500)), ("birds/b1.png", image_bytes(501)),
                               ("readme.md", b"top-level file")]
    report = extract_image_zip(make_zip(entries), tmp_path / "target")
    assert report.class_counts == {"birds": 2, "cats": 6, "dogs": 6}
    assert report.small_classes == ["birds"]
    assert report.skipped == ["readme.md: not inside a class folder"]
    ds = load_folder(report.root, image_size=16)
    assert ds.class_names == ["birds", "cats", "dogs"]
    assert len(ds.x_train) + len(ds.x_test) == 14


def test_compressible_small_images_pass_the_ratio_check(tmp_path):
    # A blank 200x200 BMP compresses several hundred-fold; it is a plain image, not a bomb.
    buf = io.BytesIO()
    Image.new("RGB", (200, 200), "white").save(buf, format="BMP")
    blank = buf.getvalue()
    data = make_zip([(f"{c}/{i}.bmp", blank) for c in ("a", "b") for i in range(5)])
    info = zipfile.ZipFile(io.BytesIO(data)).infolist()[0]
    assert info.file_size / info.compress_size > ZipLimits().max_ratio
    report = extract_image_zip(data, tmp_path / "target")
    assert report.class_counts == {"a": 5, "b": 5}


def split_zip(prefix: str = "") -> list[tuple[str, bytes]]:
    """train/<class>/ with 6 images per class and test/<class>/ with 2, under ``prefix``."""
    return [(f"{prefix}{split}/{cls}/{cls}{i}.png", image_bytes(1000 * (split == "test") + 100 * seed + i))
            for split, n in (("train", 6), ("test", 2)) for seed, cls in enumerate(["cats", "dogs"]) for i in range(n)]


@pytest.mark.parametrize("prefix", ["", "dataset/"])
def test_a_zip_with_train_and_test_folders_keeps_its_split(tmp_path, prefix):
    entries = split_zip(prefix) + [(f"{prefix}test/birds/b0.png", image_bytes(900)),
                                   (f"{prefix}train/notes.txt", b"not in a class folder")]
    report = extract_image_zip(make_zip(entries), tmp_path / "target")
    assert report.class_counts == {"cats": 6, "dogs": 6}  # not two classes called train and test
    assert report.test_counts == {"cats": 2, "dogs": 2}
    assert report.small_classes == []
    assert report.skipped == [f"{prefix}train/notes.txt: not inside a class folder of train/ or test/",
                              f"{prefix}test/birds/b0.png: test/birds has no train/birds"]
    assert tree(tmp_path / "target")[:3] == ["test", "test/cats", "test/cats/cats0.png"]

    ds = load_folder(report.root, image_size=16)
    assert ds.class_names == ["cats", "dogs"]
    assert ds.class_counts("train") == report.class_counts
    assert ds.class_counts("test") == report.test_counts
    assert ds.warnings == []


def test_a_zip_without_a_split_has_no_test_counts(tmp_path):
    assert extract_image_zip(make_zip(two_classes()), tmp_path / "target").test_counts == {}
    # only train/ is a wrapper folder, not a split
    report = extract_image_zip(make_zip(two_classes("train/")), tmp_path / "other")
    assert report.class_counts == {"cats": 6, "dogs": 6} and report.test_counts == {}


def test_a_folder_split_lists_test_classes_it_cannot_label(tmp_path):
    for split, classes in (("train", ("a", "b")), ("test", ("a", "b", "c"))):
        for cls in classes:
            (tmp_path / split / cls).mkdir(parents=True)
            for i in range(2):
                Image.fromarray(np.full((4, 4), 40 * i, np.uint8)).save(tmp_path / split / cls / f"{i}.png")
    ds = load_folder(str(tmp_path), image_size=4)
    assert ds.class_names == ["a", "b"] and len(ds.x_test) == 4
    assert ds.warnings == ["test/c: no train/c folder, so its images are left out"]


# --- limits over the whole archive, the room the caller allows, the pixel limit -------------------

import time  # noqa: E402
import tracemalloc  # noqa: E402

from bad_files import blank_bmp, bmp_zip, png16_zeros, small_png, zip_of  # noqa: E402


def listing(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_a_zip_of_100_blank_bmps_is_refused_before_anything_is_written(tmp_path):
    data = bmp_zip(100)
    infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    declared = sum(i.file_size for i in infos)
    # Every member is under 1 MiB, where the per-file ratio check does not look; the archive is 116 KB for 105 MB.
    assert len(data) < 130_000 and declared > 100_000_000 and max(i.file_size for i in infos) < 2**20
    tracemalloc.start()
    start = time.thread_time()  # CPU time of this thread: other work on the machine does not count
    with pytest.raises(ZipImportError, match=r"unpacks to at most 200 times its size.*zip bomb") as info:
        extract_image_zip(data, tmp_path / "target")
    seconds, peak = time.thread_time() - start, tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert "Save the images as PNG or JPEG" in str(info.value)
    assert listing(tmp_path) == []  # no target, no partial folder
    assert seconds < 0.5 and peak < 5 * 2**20, (seconds, peak)


def test_blank_bmps_under_the_archive_ratio_floor_pass(tmp_path):
    # 15 of them unpack to 15.7 MB, under the 16 MiB below which a zip's ratio is not checked.
    report = extract_image_zip(bmp_zip(15), tmp_path / "target")
    assert report.class_counts == {"a": 8, "b": 7}
    assert report.total_bytes == 15 * len(blank_bmp())


def test_the_room_the_caller_allows_refuses_a_zip_before_writing(tmp_path):
    entries = [(f"{c}/{i}.png", small_png(10 * j + i)) for j, c in enumerate("ab") for i in range(4)]
    data = zip_of(entries + [("a/notes.txt", b"x" * 5000)])  # not an image: never written, not counted
    images = sum(len(b) for _, b in entries)
    with pytest.raises(ZipImportError, match=r"the room left for your uploads.*Delete uploads"):
        extract_image_zip(data, tmp_path / "target", room_bytes=images - 1)
    assert listing(tmp_path) == []
    report = extract_image_zip(data, tmp_path / "target", room_bytes=images)  # exactly enough
    assert report.total_bytes == images and sum(report.class_counts.values()) == 8


def test_the_server_limits_are_read_when_the_zip_is_imported(tmp_path, monkeypatch):
    data = zip_of([(f"{c}/{i}.png", small_png(10 * j + i)) for j, c in enumerate("ab") for i in range(3)])
    monkeypatch.setenv("CNNLAB_MAX_ZIP_FILES", "5")
    with pytest.raises(ZipImportError, match="at most 5 files in the zip. Received: 6"):
        extract_image_zip(data, tmp_path / "t1")
    monkeypatch.setenv("CNNLAB_MAX_ZIP_FILES", "6")
    monkeypatch.setenv("CNNLAB_MAX_UNPACKED_BYTES", "100")
    with pytest.raises(ZipImportError, match="at most 100 bytes uncompressed"):
        extract_image_zip(data, tmp_path / "t2")
    monkeypatch.delenv("CNNLAB_MAX_UNPACKED_BYTES")
    assert sum(extract_image_zip(data, tmp_path / "t3").class_counts.values()) == 6
    assert [p.name for p in tmp_path.iterdir()] == ["t3"]  # the refused ones left nothing behind


def test_an_image_over_the_pixel_limit_is_skipped_with_the_reason_not_decoded(tmp_path):
    entries = [(f"{c}/{i}.png", small_png(10 * j + i)) for j, c in enumerate("ab") for i in range(3)]
    data = zip_of(entries + [("a/huge.png", png16_zeros(7000, 7000))])
    start = time.thread_time()
    report = extract_image_zip(data, tmp_path / "target")
    assert time.thread_time() - start < 1.0
    assert report.class_counts == {"a": 3, "b": 3}
    assert report.skipped == ["a/huge.png: The image declares 7000x7000 pixels (49 MP); at most 16 MP are accepted. "
                              "Expected a smaller picture: scale it down, to 4000x4000 or less, and try again."]
    assert not (tmp_path / "target" / "a" / "huge.png").exists()


def test_a_zip_with_one_image_per_class_is_refused_and_a_single_one_is_warned(tmp_path):
    one_each = zip_of([("a/1.png", small_png(1)), ("b/1.png", small_png(2))])
    with pytest.raises(ZipImportError, match=r"Each class needs at least 2 images to keep one for testing\. "
                                             r"Received: a=1, b=1"):
        extract_image_zip(one_each, tmp_path / "t1")
    assert listing(tmp_path) == []
    mixed = zip_of([("a/1.png", small_png(1))] + [(f"b/{i}.png", small_png(10 + i)) for i in range(3)])
    report = extract_image_zip(mixed, tmp_path / "t2")
    assert report.warnings == ["Each class needs at least 2 images to keep one for testing; a has only one, "
                               "so the test accuracy says nothing about it."]
    ds = load_folder(report.root, image_size=8)
    assert len(ds.x_test) == 1  # b's

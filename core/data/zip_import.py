"""Safe import of a user's zip of images as a class-per-folder dataset.

A zip from the internet is hostile until proven otherwise: it may try to write
outside the target (``../x``, ``/etc/x``, ``C:\\x``), plant symlinks, or
expand into gigabytes (a zip bomb). ``extract_image_zip`` refuses all of that
with a ``ZipImportError`` whose message is written for the user, and leaves
the target folder untouched: the tree is built in a temporary folder next to
it and renamed into place only once every check has passed.

    >>> report = extract_image_zip(upload.getvalue(), Path("data/my_zip"), room_bytes=room_left(user_folder))
    >>> ds = load_folder(report.root, image_size=64)

Somewhat over 300 lines: every check on the way from the upload to the folder is here, in the
order they run, so that what a hostile zip can and cannot do is read in one place.
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from core.data.images import IMAGE_SUFFIXES, ImageDecodeError, decode_image
from core.settings import human_bytes, limits as server_limits

# Bytes read from a member at a time: small enough that a lying header is
# caught after at most one chunk beyond a limit.
_CHUNK = 64 * 1024
# Files that operating systems drop into folders; never part of a dataset.
_JUNK_NAMES = {"thumbs.db", "desktop.ini"}


@dataclass
class ZipLimits:
    """What a zip may hold before it is refused. ``None``: the server's limit (``core.settings``), read at import."""

    max_files: int | None = None  # members of any kind (limits().max_zip_files); bounds the work and the inode count
    max_total_bytes: int | None = None  # uncompressed, all members together (limits().max_unpacked_bytes)
    max_file_bytes: int = 50 * 1024 * 1024  # one member; matches core.data.images.MAX_BYTES, larger images are refused anyway
    # Uncompressed / compressed, for one member and for the whole archive. Photos hardly compress (PNG and
    # JPEG are compressed already), bombs reach 1000: 100 blank BMPs make a 116 KB zip that unpacks to 105 MB.
    max_ratio: float = 200.0
    min_images_per_class: int = 5  # fewer leaves little to hold out for testing; flagged, not refused
    # Members, and whole zips, that unpack to less than this skip the ratio check: a few blank BMPs
    # compress 500-fold yet cannot hurt; the size limits still bound them.
    ratio_min_bytes: int = 1024 * 1024
    archive_ratio_min_bytes: int = 16 * 1024 * 1024

    def resolved(self) -> "ZipLimits":
        """These limits with the server's in place of every ``None``."""
        current = server_limits()
        return dataclasses.replace(
            self, max_files=current.max_zip_files if self.max_files is None else self.max_files,
            max_total_bytes=current.max_unpacked_bytes if self.max_total_bytes is None else self.max_total_bytes)


class ZipImportError(ValueError):
    """The zip cannot be imported; the message is meant for the user."""


@dataclass
class ZipReport:
    """What ``extract_image_zip`` kept and what it left out."""

    root: Path  # the extracted class-per-folder tree, ready for load_folder
    class_counts: dict[str, int]  # class name -> images kept (for training, when the zip has its own split)
    skipped: list[str] = field(default_factory=list)  # "member: reason" for files left out
    small_classes: list[str] = field(default_factory=list)  # classes below min_images_per_class
    total_bytes: int = 0  # bytes of the images written
    test_counts: dict[str, int] = field(default_factory=dict)  # class -> images of the zip's own test/; empty without one
    warnings: list[str] = field(default_factory=list)  # sentences for the user: what will go wrong when training


def _natural_key(name: str):
    """Sort s2 before s10, as load_folder does."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def _safe_parts(name: str) -> tuple[str, ...]:
    """The path components of a member name, or ZipImportError if it could leave the target."""
    posix = name.replace("\\", "/")  # zips made on Windows may use backslashes
    if posix.startswith("/"):
        raise ZipImportError(f"Expected relative paths inside the zip. Received: an absolute path {name!r}")
    if re.match(r"^[A-Za-z]:", posix):
        raise ZipImportError(f"Expected relative paths inside the zip. Received: a drive letter in {name!r}")
    parts = tuple(p for p in posix.split("/") if p not in ("", "."))
    if ".." in parts:
        raise ZipImportError(f"Expected paths that stay inside the zip's folder. Received: '..' in {name!r}")
    if any(":" in p or "\x00" in p for p in parts):
        # Windows would read "a:b" as an alternate data stream.
        raise ZipImportError(f"Expected plain file names inside the zip. Received: {name!r}")
    return parts


def _check_members(infos: list[zipfile.ZipInfo], limits: ZipLimits, archive_bytes: int) -> dict[str, tuple[str, ...]]:
    """Refuse the zip on any unsafe member header, or on sizes over the limits summed over the whole
    archive; return the safe parts of every member name."""
    if len(infos) > limits.max_files:
        raise ZipImportError(f"Expected at most {limits.max_files} files in the zip. Received: {len(infos)}")
    if not infos:
        raise ZipImportError("Expected a zip with image folders inside. Received: an empty zip archive")
    parts_of: dict[str, tuple[str, ...]] = {}
    total = 0
    for info in infos:
        parts_of[info.filename] = _safe_parts(info.filename)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ZipImportError(f"Expected regular files in the zip. Received: a symbolic link {info.filename!r}")
        if info.flag_bits & 0x1:
            raise ZipImportError(f"Expected a zip without a password. Received: encrypted member {info.filename!r}")
        if info.is_dir():
            continue
        if info.file_size >= limits.ratio_min_bytes and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            ratio = info.file_size / max(info.compress_size, 1)
            raise ZipImportError(
                f"Expected a compression ratio of at most {limits.max_ratio:.0f} per file. "
                f"Received: {ratio:.0f} for {info.filename!r} (a zip bomb?)")
        if info.file_size > limits.max_file_bytes:
            raise ZipImportError(
                f"Expected files of at most {human_bytes(limits.max_file_bytes)}. "
                f"Received: {human_bytes(info.file_size)} for {info.filename!r}")
        total += info.file_size
    if total > limits.max_total_bytes:
        raise ZipImportError(
            f"Expected at most {human_bytes(limits.max_total_bytes)} uncompressed. Received: {human_bytes(total)}")
    # Per member, a small blank image may compress 500-fold; a hundred of them are what a bomb is made of.
    if total >= limits.archive_ratio_min_bytes and total > limits.max_ratio * max(archive_bytes, 1):
        raise ZipImportError(
            f"Expected a zip that unpacks to at most {limits.max_ratio:.0f} times its size. Received: "
            f"{human_bytes(archive_bytes)} that unpack to {human_bytes(total)}, {total / max(archive_bytes, 1):.0f} "
            "times (a zip bomb?). Save the images as PNG or JPEG, which are compressed already.")
    return parts_of


def _is_junk(parts: tuple[str, ...]) -> bool:
    """macOS resource forks, hidden files and folders, OS thumbnails."""
    return (parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts)
            or parts[-1].lower() in _JUNK_NAMES)


def _strip_wrappers(files: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Drop top folders that wrap the class folders (``dataset/cats/1.png`` -> ``cats/1.png``)."""
    while files:
        tops = {parts[0] for parts in files.values()}
        if len(tops) != 1 or not any(len(parts) >= 3 for parts in files.values()):
            break
        # Files directly inside the wrapper become root files, outside any class folder.
        files = {name: parts[1:] or parts for name, parts in files.items()}
    return files


def _has_given_split(files: dict[str, tuple[str, ...]]) -> bool:
    """Whether the class folders sit in ``train/`` and ``test/``, the split ``load_folder`` keeps."""
    return {parts[0] for parts in files.values() if len(parts) >= 2} == {"train", "test"}


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ZipLimits, budget: int) -> bytes:
    """Read one member in chunks, enforcing the limits on the bytes actually produced.

    Headers can lie: the count, not ``info.file_size``, decides. Python's zipfile
    also stops at the declared size and then fails the CRC check, which we report
    as a damaged member.
    """
    cap = min(limits.max_file_bytes, budget)
    chunks, count = [], 0
    try:
        with zf.open(info) as member:
            while chunk := member.read(_CHUNK):
                count += len(chunk)
                if count > info.file_size:
                    raise ZipImportError(
                        f"Expected {info.filename!r} to hold the {info.file_size} bytes its header declares. "
                        f"Received: more than that")
                if count > cap:
                    raise ZipImportError(
                        f"Expected at most {human_bytes(max(cap, 0))} more uncompressed data. "
                        f"Received: more from {info.filename!r}")
                chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise ZipImportError(
            f"Expected {info.filename!r} to match its header (size and checksum). "
            f"Received: a damaged or forged member ({exc})") from exc
    except NotImplementedError as exc:
        raise ZipImportError(
            f"Expected a zip made with standard compression (deflate, bzip2, lzma). "
            f"Received: {info.filename!r} ({exc})") from exc
    return b"".join(chunks)


def _class_summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{c}={n}" for c, n in counts.items()) or "none"


def extract_image_zip(data: bytes, target_dir: Path, limits: ZipLimits | None = None,
                      room_bytes: int | None = None) -> ZipReport:
    """Extract a zip of images into a class-per-folder tree that ``load_folder`` reads.

    The zip holds one folder per class (``cats/1.png``, ``dogs/2.jpg``), possibly
    wrapped in one top folder (``dataset/cats/1.png``), or a given split:
    ``train/<class>/`` and ``test/<class>/``, kept as it is (``class_counts`` then
    counts ``train/``, ``test_counts`` counts ``test/``). ``__MACOSX/``, hidden
    files and ``.DS_Store`` are ignored; files outside a class folder, files that
    are not images and images that do not decode are skipped and listed.

    Args:
        data: the zip file's bytes.
        target_dir: where the tree goes; it must be missing or empty. On any error
            it is left as it was and nothing is written next to it.
        limits: size and count limits; ``ZipLimits()`` (the server's) when omitted.
        room_bytes: the disk space the caller allows the images to take, usually
            ``core.quota.room_left(user_folder)``; ``None``: no bound but the limits.
            A zip whose images declare more is refused before anything is written,
            and the bytes actually written are counted against it too.

    Returns:
        A ``ZipReport`` whose ``root`` is ``target_dir``.

    Raises:
        ZipImportError: not a zip, damaged, unsafe (paths leaving the target,
            symlinks, encryption, zip bombs), over the limits or the room, fewer
            than 2 classes with readable images, or no image to keep for testing.
    """
    limits = (limits or ZipLimits()).resolved()
    target_dir = Path(target_dir)
    if not data:
        raise ZipImportError("Expected a zip file. Received: an empty file (0 bytes)")
    if target_dir.exists() and (not target_dir.is_dir() or any(target_dir.iterdir())):
        raise ZipImportError(f"Expected a missing or empty target folder. Received: {target_dir}, which is not empty")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except Exception as exc:  # zipfile raises many types on garbage; all mean the same to the user
        raise ZipImportError(f"Expected a zip file. Received: a file that is not a zip or is damaged ({exc})") from exc

    target_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target_dir.name}-", suffix=".partial", dir=target_dir.parent))
    try:
        with zf:
            report = _extract(zf, work, limits, len(data), room_bytes)
        if target_dir.exists():
            target_dir.rmdir()  # empty, checked above; rename cannot replace a folder everywhere
        os.rename(work, target_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    report.root = target_dir
    return report


def _extract(zf: zipfile.ZipFile, work: Path, limits: ZipLimits, archive_bytes: int, room: int | None) -> ZipReport:
    """Check and extract every member of ``zf`` into the empty folder ``work``."""
    infos = zf.infolist()
    parts_of = _check_members(infos, limits, archive_bytes)
    candidates = {i.filename: parts_of[i.filename] for i in infos
                  if not i.is_dir() and parts_of[i.filename] and not _is_junk(parts_of[i.filename])}
    layout = _strip_wrappers(candidates)
    split = _has_given_split(layout)
    depth = 3 if split else 2  # train/<class>/1.png, or <class>/1.png
    skipped: list[str] = []
    planned: list[tuple[zipfile.ZipInfo, tuple[str, ...]]] = []
    for info in infos:
        parts = layout.get(info.filename)
        if parts is None:
            continue
        if len(parts) < depth:
            skipped.append(f"{info.filename}: not inside a class folder" + (" of train/ or test/" if split else ""))
        elif Path(parts[-1]).suffix.lower() not in IMAGE_SUFFIXES:
            skipped.append(f"{info.filename}: not an image file type")
        else:
            planned.append((info, parts))
    classes = sorted({parts[depth - 2] for _, parts in planned if not split or parts[0] == "train"}, key=_natural_key)
    if split:
        # load_folder takes the classes from train/; a test/ folder of another class would be ignored silently.
        skipped += [f"{info.filename}: test/{parts[1]} has no train/{parts[1]}"
                    for info, parts in planned if parts[1] not in classes]
        planned = [(info, parts) for info, parts in planned if parts[1] in classes]
    if len(classes) < 2:
        raise ZipImportError(
            f"Expected at least 2 class folders with images in the zip{' (in train/)' if split else ''}. "
            f"Received: {len(classes)} ({', '.join(classes) or 'none'})")
    declared = sum(info.file_size for info, _ in planned)
    if room is not None and declared > room:
        raise ZipImportError(_no_room(room, f"a zip whose images unpack to {human_bytes(declared)}"))

    root = work.resolve()
    counts = {c: 0 for c in classes}
    test_counts = {c: 0 for c in classes} if split else {}
    seen: set[str] = set()
    read_total = written = 0
    for info, parts in planned:
        dest = root.joinpath(*parts)
        # Belt and braces: _safe_parts already refused anything that could leave root.
        if not dest.resolve().is_relative_to(root):
            raise ZipImportError(f"Expected paths that stay inside the zip's folder. Received: {info.filename!r}")
        key = str(PurePosixPath(*parts)).lower()
        if key in seen:
            raise ZipImportError(f"Expected each file once in the zip. Received: {info.filename!r} twice")
        seen.add(key)
        content = _read_member(zf, info, limits, limits.max_total_bytes - read_total)
        read_total += len(content)
        if room is not None and written + len(content) > room:
            # Headers can lie; the bytes written, not the sizes declared, decide.
            raise ZipImportError(_no_room(room, f"more than that from {info.filename!r}"))
        try:
            decode_image(content)
        except ImageDecodeError as exc:
            skipped.append(f"{info.filename}: {exc}")
            continue
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            with open(dest, "xb") as fh:  # "x": never overwrite what another member wrote
                fh.write(content)
        except OSError as exc:
            raise ZipImportError(f"Expected a file name this server can store. Received: {info.filename!r} ({exc})") from exc
        if split and parts[0] == "test":
            test_counts[parts[1]] += 1
        else:
            counts[parts[depth - 2]] += 1
        written += len(content)

    counts = {c: n for c, n in counts.items() if n > 0}
    if len(counts) < 2:
        raise ZipImportError(
            f"Expected at least 2 class folders with readable images. Received: {_class_summary(counts)}")
    if split and not any(test_counts.values()):
        raise ZipImportError("Expected readable images in the zip's test/ class folders. Received: none")
    test_counts = {c: n for c, n in test_counts.items() if c in counts}
    warnings = []
    if not split:
        # load_folder keeps one image of each class for testing, and none of a class that has only one.
        single = [c for c, n in counts.items() if n < 2]
        if len(single) == len(counts):
            raise ZipImportError("Each class needs at least 2 images to keep one for testing. "
                                 f"Received: {_class_summary(counts)}")
        if single:
            warnings.append("Each class needs at least 2 images to keep one for testing; "
                            f"{', '.join(single)} {'has' if len(single) == 1 else 'have'} only one, "
                            "so the test accuracy says nothing about "
                            f"{'it' if len(single) == 1 else 'them'}.")
    # Folders are made only for images that decoded, so a class with none leaves no empty folder behind.
    small = [c for c, n in counts.items() if n < limits.min_images_per_class]
    return ZipReport(root=work, class_counts=counts, skipped=skipped, small_classes=small, total_bytes=written,
                     test_counts=test_counts, warnings=warnings)


def _no_room(room: int, received: str) -> str:
    return (f"Expected at most {human_bytes(room)} of images, the room left for your uploads. Received: {received}. "
            "Delete uploads you no longer need, or upload fewer images.")

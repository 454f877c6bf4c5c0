"""How much one user may still write: their quota and the server's free disk space.

Everything a user keeps (unpacked zips, My classes photos, models in classroom mode) lives in
their workspace folder. Before a write, the caller asks ``check_room(folder, incoming_bytes)``,
or ``room_left(folder)`` to bound a write whose size is only known as it goes (a zip being
unpacked). Two limits hold (``core.settings.Limits``):

- ``user_quota``: the bytes the user's folder may hold;
- ``free_space_floor``: the bytes left free on the disk, so that one class's uploads never
  fill the disk the server, and everyone else, writes to.

    >>> check_room(workspace.folder, len(photo_bytes))     # QuotaError with what to delete
    >>> report = extract_image_zip(data, target, room_bytes=room_left(workspace.folder))
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from core.settings import Limits, human_bytes, limits

# Entries looked at by one walk of a user's folder. A workspace holds a few thousand files (a
# zip's images, photos, models); 100,000 are walked in about 0.2 s. Past it the folder is
# treated as full rather than walked for longer on every write.
MAX_WALK_ENTRIES = 100_000


class QuotaError(ValueError):
    """A write would take more than the user's quota or the server's free space; the message says what to do."""


@dataclass(frozen=True)
class Usage:
    """What a user's folder takes and what the disk has left, in bytes."""

    used: int  # by the user's folder
    quota: int  # limits().user_quota
    free: int  # on the disk holding the folder
    floor: int  # limits().free_space_floor

    @property
    def room(self) -> int:
        """Bytes the user may still write: the smaller of what the quota and the disk allow, at least 0."""
        return max(0, min(self.quota - self.used, self.free - self.floor))


def folder_bytes(path: str | Path, max_entries: int = MAX_WALK_ENTRIES) -> int:
    """The disk space the files under ``path`` take, each file counted once.

    A file with several names (hard links, as the frozen copies of My classes are) takes its
    space once, so it is counted once. Symbolic links are not followed: what they point to
    is someone else's. A file takes at least its size and at least the blocks it occupies,
    so ten thousand tiny files count for the space they really hold.

    Args:
        path: a folder; a missing one takes 0 bytes.
        max_entries: entries looked at before giving up.

    Raises:
        QuotaError: the folder holds more than ``max_entries`` entries.
    """
    root = Path(path)
    total, seen, looked = 0, set(), 0
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = os.scandir(folder)
        except (FileNotFoundError, NotADirectoryError):
            continue  # removed while we walked, or never there
        with entries:
            for entry in entries:
                looked += 1
                if looked > max_entries:
                    raise QuotaError(f"Expected a workspace of at most {max_entries:,} files. Received: {root}, which "
                                     "holds more. Delete uploads or photos you no longer need.")
                try:
                    info = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if stat.S_ISDIR(info.st_mode):
                    stack.append(Path(entry.path))
                    continue
                if not stat.S_ISREG(info.st_mode):
                    continue
                if info.st_nlink > 1:
                    key = (info.st_dev, info.st_ino)
                    if key in seen:
                        continue
                    seen.add(key)
                total += max(info.st_size, getattr(info, "st_blocks", 0) * 512)
    return total


def _existing(path: Path) -> Path:
    """``path`` or its nearest existing parent: the disk a folder not yet made will be on."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def usage(user_folder: str | Path, limits_in_force: Limits | None = None) -> Usage:
    """What ``user_folder`` takes, its quota, and the free space of its disk."""
    current = limits_in_force or limits()
    free = shutil.disk_usage(_existing(Path(user_folder))).free
    return Usage(used=folder_bytes(user_folder), quota=current.user_quota, free=free, floor=current.free_space_floor)


def room_left(user_folder: str | Path, limits_in_force: Limits | None = None) -> int:
    """Bytes the user of ``user_folder`` may still write: min(quota - used, free space - floor), at least 0."""
    return usage(user_folder, limits_in_force).room


def check_room(user_folder: str | Path, incoming_bytes: int, limits_in_force: Limits | None = None) -> None:
    """Raise ``QuotaError`` unless ``incoming_bytes`` more fit in the user's quota and on the disk.

    The message says what is used and what the quota is, and what to delete; or, when the
    disk itself is nearly full, that the teacher must be told (no deletion of one user's
    files would be enough).
    """
    check_fits(usage(user_folder, limits_in_force), incoming_bytes)


def check_fits(now: Usage, incoming_bytes: int) -> None:
    """``check_room`` for a ``Usage`` measured already (a batch measures once, then counts what it writes)."""
    incoming = max(0, int(incoming_bytes))
    if now.used + incoming > now.quota:
        raise QuotaError(
            f"Expected at most {human_bytes(now.quota)} in your workspace (your quota). Received: "
            f"{human_bytes(incoming)} more, with {human_bytes(now.used)} used already. Delete uploads, "
            "My classes photos or saved models you no longer need, then try again.")
    if now.free - incoming < now.floor:
        raise QuotaError(
            f"The server's disk is nearly full: {human_bytes(now.free)} free, and {human_bytes(now.floor)} must stay "
            f"free, so {human_bytes(incoming)} more cannot be stored. Tell the teacher: deleting your own files "
            "will not be enough.")


def after_writing(now: Usage, written_bytes: int) -> Usage:
    """``now`` once ``written_bytes`` more are stored in the user's folder."""
    return Usage(used=now.used + written_bytes, quota=now.quota, free=now.free - written_bytes, floor=now.floor)

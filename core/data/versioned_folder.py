"""A folder of files read together, replaced whole: a reader sees the old set or the new set, never a mix.

The official dataset files (MNIST's four idx files, CIFAR-10's six batches) are kept in one
folder for every session, and may be replaced by an upload while another session reads them.
Replacing them file by file would let a reader take the old training images with the new
labels. So the set lives in a versioned folder and the name readers use is a symbolic link to it:

    datasets/mnist -> .mnist.v-3f2a9c1e      (a link: what readers open)
    datasets/.mnist.v-3f2a9c1e/               (the set in use)

``publish_folder`` renames a fully written and checked folder to a new version, points the link
at it with one ``rename`` (atomic on POSIX: a reader resolves the old link or the new one), then
deletes the versions no longer linked. ``read_folder`` resolves the link once and reads every file
through the resolved folder, so a swap in the middle of a read cannot mix two versions; should the
old version be deleted under it, the read starts again on the new one.

A folder that is not yet a link (files stored by an older version of the app, or a system without
symbolic links) is moved aside and the new one renamed in its place: two renames, between which the
name is missing for an instant. ``read_folder`` notices that the folder changed during the read
(its identity: the resolved path and inode) and reads again, so readers tolerate that instant too.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable, TypeVar

T = TypeVar("T")

# Reads started again when the folder was replaced under them; three swaps during one read
# of a few dozen megabytes would mean someone is replacing the files in a loop.
READ_ATTEMPTS = 4


def _version_prefix(target: Path) -> str:
    return f".{target.name}.v-"


def staging_folder(target: str | Path) -> Path:
    """A new, empty folder next to ``target`` to write a new set into (hidden, removed if unused)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{target.name}.part-", dir=target.parent))


def publish_folder(ready: str | Path, target: str | Path) -> Path:
    """Make the folder ``ready`` (written and checked) what ``target`` holds, in one step for readers.

    Args:
        ready: a folder on the same disk as ``target`` (``staging_folder(target)`` is); it is moved.
        target: the name readers use.

    Returns:
        The versioned folder ``target`` now points to.
    """
    ready, target = Path(ready), Path(target)
    version = target.parent / f"{_version_prefix(target)}{uuid.uuid4().hex[:12]}"
    os.rename(ready, version)
    link = target.parent / f".{target.name}.link-{uuid.uuid4().hex[:8]}"
    try:
        os.symlink(version.name, link, target_is_directory=True)  # relative: the folder may be moved whole
    except (OSError, NotImplementedError):
        link = None
    if link is not None and (target.is_symlink() or not target.exists()):
        os.replace(link, target)  # the atomic step
    else:
        # A real folder (or no symlinks here): move it aside, then the new one in; readers retry the instant between.
        aside = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
        if target.exists() or target.is_symlink():
            os.rename(target, aside)
        if link is not None:
            os.replace(link, target)
        else:
            os.rename(version, target)
            version = target
        _remove(aside)
    _remove_old_versions(target, keep=version)
    return version


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def _remove_old_versions(target: Path, keep: Path) -> None:
    """Delete the versions ``target`` no longer points to (a reader still in one starts again on the new one)."""
    current = os.readlink(target) if target.is_symlink() else None
    prefix = _version_prefix(target)
    for path in target.parent.iterdir():
        if path.name.startswith(prefix) and path.name != keep.name and path.name != current:
            _remove(path)


def _identity(path: Path) -> tuple[str, int] | None:
    """What ``path`` is now: the folder it resolves to and that folder's inode; None when missing."""
    try:
        real = path.resolve(strict=True)
        return str(real), os.stat(real).st_ino
    except (OSError, RuntimeError):
        return None


def read_folder(target: str | Path, read: Callable[[Path], T], attempts: int = READ_ATTEMPTS) -> T:
    """``read(folder)`` on the set ``target`` holds, read again if it was replaced meanwhile.

    Args:
        target: the name readers use (a link to a version, or a plain folder).
        read: reads every file it needs from the folder it is given, and nothing by ``target``'s name.
        attempts: reads tried before the last error is raised.

    Returns:
        What ``read`` returned for a folder that did not change while it read.
    """
    target = Path(target)
    for attempt in range(attempts):
        before = _identity(target)
        folder = Path(before[0]) if before is not None else target
        try:
            result = read(folder)
        except Exception:
            # Files deleted under the read (the old version) or a name missing for an instant: read again.
            if attempt + 1 < attempts and _identity(target) != before:
                continue
            if attempt + 1 < attempts and before is None:
                time.sleep(0.01)
                continue
            raise
        # A plain folder replaced during the read may have given files of both sets: read again. (A link's
        # version is read through its own name, so it cannot mix; the check costs two stat calls.)
        if _identity(target) == before or attempt + 1 == attempts:
            return result
    raise AssertionError("unreachable: the last attempt returns or raises")

"""What a user may open on this server: in classroom mode, only their own files and what the teacher allows.

A dataset is loaded from a folder in two ways: an image folder (``folder``, option ``path``) and
the official files of MNIST, Fashion-MNIST or CIFAR-10 (option ``folder``). In personal mode both
take any folder of the machine: it is the user's own. In classroom mode a folder must be:

- in the user's own workspace (their uploads and My classes photos);
- or inside one of the roots the teacher allows (``CNNLAB_FOLDER_ROOTS``);
- or, for official files, the folder where the teacher imported them.

The check runs where every dataset load starts (``ui.dataset_cache.get_dataset``), so no page
and no saved model's card (which records the folder its model was trained on) can go round it.
"""

from __future__ import annotations

from pathlib import Path

from core.data import DatasetError
from core.settings import classroom, folder_roots, inside

from .workspace import workspace

PATH_OPTIONS = ("path", "folder")


class AccessError(DatasetError):
    """A folder the user may not open on this server."""


def official_files_folder(name: str) -> Path:
    """Where the teacher's imported official files of ``name`` are kept for every user."""
    from core.workspace import data_root

    return data_root() / "datasets" / name


def allowed_folders(name: str) -> list[Path]:
    """The folders under which this session's user may open a dataset ``name`` from files (classroom mode)."""
    allowed = [workspace().store.folder, *folder_roots()]
    if name != "folder":
        allowed.append(official_files_folder(name))
    return allowed


def check_dataset(name: str, options: dict | None) -> None:
    """Raise AccessError when this session's user may not load ``name`` with ``options`` (classroom mode only)."""
    if not classroom():
        return
    for key in PATH_OPTIONS:
        value = (options or {}).get(key)
        if value in (None, ""):
            continue
        if not isinstance(value, str) or not any(inside(value, root) for root in allowed_folders(name)):
            raise AccessError(_refusal())


def may_open(path: str | Path, name: str = "folder") -> bool:
    """True if this session's user may open the folder ``path`` as dataset ``name``."""
    try:
        check_dataset(name, {"path" if name == "folder" else "folder": str(path)})
    except AccessError:
        return False
    return True


def _refusal() -> str:
    roots = folder_roots()
    where = (" Folders you may open are inside: " + ", ".join(str(r) for r in roots) + ".") if roots else \
        " The teacher allows no folders of the server; upload a .zip of class folders instead."
    return ("This folder is not one you may open on this server: in a classroom, each user sees only their own "
            "uploads and the folders the teacher shares." + where)


def shown_source(source: str) -> str:
    """A dataset's source as a classroom user may see it: no path of the server, only what they chose."""
    if not classroom() or not source or not source.startswith("/"):
        return source
    own = workspace().store.uploads
    if inside(source, own):
        return f"your upload {Path(source).name}"
    for root in folder_roots():
        if inside(source, root):
            return f"{root.name}/{Path(source).resolve().relative_to(root)}".rstrip("/.")
    return Path(source).name

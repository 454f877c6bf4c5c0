"""Uploads on the Data page.

Image zips a user uploaded are extracted into their workspace's uploads folder
(``core.workspace``: it outlives the browser tab), listed and deletable. The official files of MNIST, Fashion-MNIST and CIFAR-10, once checked,
are kept in one folder for every user (``ui.access.official_files_folder``).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import streamlit as st

from core.data import DatasetError
from core.data.classic import save_cifar_upload
from core.data.download import CIFAR_DIR
from core.data.idx import IDX_FILES, save_idx_uploads
from core.data.zip_import import ZipImportError, ZipReport, extract_image_zip
from core.quota import QuotaError, room_left
from core.settings import classroom

from .access import official_files_folder
from .flash import flash
from .text import plain
from .workspace import workspace


def session_folder() -> Path:
    """The user's upload folder, in their workspace: a refreshed or second tab finds the same uploads."""
    return workspace().store.uploads


def is_upload(path) -> bool:
    """True if ``path`` is one of the user's uploads (a folder directly inside their upload folder)."""
    if not path:
        return False
    try:
        return Path(path).resolve().parent == session_folder().resolve()
    except OSError:
        return False


def list_uploads() -> list[Path]:
    folder = session_folder()
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")) if folder.is_dir() else []


def add_zip(data: bytes, filename: str) -> tuple[Path, ZipReport]:
    """Extract an uploaded zip into a new folder of this session; raises ZipImportError with the reason."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(filename).stem).strip("_") or "images"
    folder = session_folder()
    folder.mkdir(parents=True, exist_ok=True)
    target, n = folder / stem, 1
    while target.exists():
        n += 1
        target = folder / f"{stem}_{n}"
    # the user's quota and the disk's free-space floor: a zip that would pass either is refused before writing
    return target, extract_image_zip(data, target, room_bytes=room_left(workspace().store.folder))


def import_zip(key: str) -> tuple[str, Path, ZipReport] | None:
    """Unpack the zip in the file uploader ``key`` into the user's uploads (call from its ``on_change``).

    Returns the file's name, the folder and the report; None when the uploader is empty or the zip
    was refused, which is flashed to the slot named ``key``.
    """
    file = st.session_state.get(key)
    if file is None:
        return None
    try:
        return (file.name, *add_zip(file.getvalue(), file.name))
    except (ZipImportError, QuotaError) as exc:
        flash("error", f"{plain(file.name)} was refused: {plain(exc, 600)}", slot=key)
        return None


def delete_upload(path: Path) -> None:
    """Remove one of this session's uploads (and nothing outside its folder)."""
    path = Path(path).resolve()
    if path.parent != session_folder().resolve():
        raise ValueError(f"Expected a folder of this session's uploads. Received: {path}")
    shutil.rmtree(path, ignore_errors=True)


def official_files_upload(name: str) -> str | None:
    """Upload widget for the official files of ``name``; returns their folder once stored, else None."""
    return cifar_upload() if name == "cifar10" else idx_upload(name)


def idx_upload(name: str) -> str | None:
    """Upload the four official idx files; once checked they are kept for every session."""
    target = official_files_folder(name)
    files = st.file_uploader("The four official .gz files (train/t10k images and labels)", key="data_idx",
                             accept_multiple_files=True)
    if files:
        try:
            save_idx_uploads({f.name: f.getvalue() for f in files}, target)
        except DatasetError as exc:
            st.error(str(exc))
            return None
    if (target / IDX_FILES["x_train"]).is_file():
        st.caption(f"Stored {_where(target)}for every user. Press Load dataset.")
        return str(target)
    return None


def _where(target: Path) -> str:
    return "on the server " if classroom() else f"in {target} "


def cifar_upload() -> str | None:
    """Upload the official cifar-10-python.tar.gz; extracted safely, checked, then kept for every session."""
    target = official_files_folder("cifar10")
    file = st.file_uploader("The official cifar-10-python.tar.gz (163 MB)", key="data_cifar_tar",
                            max_upload_size=200)
    checked = st.session_state.get("data_cifar_checked")  # (file id, error or None): each upload is checked once
    if file is not None and (checked is None or checked[0] != file.file_id):
        bar = st.progress(0.0, text=f"Checking {file.name}")
        try:
            save_cifar_upload(file, target, progress=lambda f, m: bar.progress(f, text=f"{file.name}: {m}"))
            checked = (file.file_id, None)
        except DatasetError as exc:
            checked = (file.file_id, f"{file.name} was refused: {exc}")
        finally:
            bar.empty()
        st.session_state["data_cifar_checked"] = checked
    if file is not None and checked and checked[0] == file.file_id and checked[1]:
        st.error(checked[1])
    if (target / CIFAR_DIR / "test_batch").is_file():
        st.caption(f"Stored {_where(target)}for every user. Press Load dataset.")
        return str(target)
    return None


__all__ = ["ZipImportError", "add_zip", "delete_upload", "list_uploads",
           "import_zip", "is_upload", "official_files_upload", "session_folder"]

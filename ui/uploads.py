"""Image zips a session uploaded: extracted into a folder of that session's own, listed, deletable."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path

import streamlit as st

from core.zip_dataset import ZipImportError, ZipReport, extract_image_zip


def uploads_root() -> Path:
    """``$CNNLAB_DATA_DIR/uploads`` or ``~/.cnnlab/uploads``: one sub-folder per browser session."""
    base = Path(os.environ.get("CNNLAB_DATA_DIR", "~/.cnnlab")).expanduser()
    return base / "uploads"


def session_folder() -> Path:
    """This session's upload folder; another session never sees it (the id is random)."""
    sid = st.session_state.setdefault("upload_session_id", uuid.uuid4().hex)
    return uploads_root() / sid


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
    return target, extract_image_zip(data, target)


def delete_upload(path: Path) -> None:
    """Remove one of this session's uploads (and nothing outside its folder)."""
    path = Path(path).resolve()
    if path.parent != session_folder().resolve():
        raise ValueError(f"Expected a folder of this session's uploads. Received: {path}")
    shutil.rmtree(path, ignore_errors=True)


__all__ = ["ZipImportError", "add_zip", "delete_upload", "list_uploads", "session_folder", "uploads_root"]

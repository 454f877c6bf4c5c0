"""A user's workspace on disk: what they were doing, so a refresh, a new tab or a restart brings it back.

A workspace is one folder, ``<data root>/workspaces/<user>/``, holding:

- ``state.json``: the dataset chosen (name and loader options), the current model (a models-folder
  id, or the shipped model's id) and the model each page last trained (My classes);
- ``uploads/``: the image zips the user unpacked and the My classes photos;
- ``models/``: in classroom mode, the user's saved models (personal mode keeps them in the one
  models folder of the machine, ``core.storage.registry.models_dir``);
- ``.visited``: touched when the user opens the app (at most hourly), so a classroom server can
  delete the workspaces nobody opened for ``CNNLAB_WORKSPACE_DAYS`` days (``remove_stale``).

In personal mode, the default of ``make run`` on one's own machine, the user is the machine's user,
so every browser tab of the server opens the same workspace. The data root is ``$CNNLAB_DATA_DIR``,
or ``~/.cnnlab``. ``state.json`` is written atomically; a file that cannot be read (cut short, edited
by hand) gives the defaults, and is kept aside as ``state.json.unreadable`` for a person to look at.

    >>> ws = Workspace(personal_user())
    >>> state = ws.load_state()
    >>> state.dataset = {"name": "digits", "options": {}}
    >>> ws.save_state(state)
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.data.catalog import DEFAULT_DATASET

DATA_ENV = "CNNLAB_DATA_DIR"
DEFAULT_ROOT = Path("~/.cnnlab")
STATE_VERSION = 1
_USER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def data_root() -> Path:
    """``$CNNLAB_DATA_DIR`` if set, else ``~/.cnnlab``: uploads, datasets and workspaces live under it."""
    return Path(os.environ.get(DATA_ENV) or DEFAULT_ROOT).expanduser()


def personal_user() -> str:
    """The machine's user name as a workspace name (``local`` when it cannot be read or is not safe)."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "local"
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._-")
    return name[:64] if name and _USER_PATTERN.match(name[:64]) else "local"


def validate_user(user: str) -> str:
    """Return ``user`` if it names one folder (letters, digits, ``_ . -``; no leading dot), else raise ValueError."""
    if not isinstance(user, str) or not _USER_PATTERN.match(user) or ".." in user:
        raise ValueError(f"Expected a workspace name of letters, digits, '_', '.' or '-' (at most 64, no "
                         f"leading dot). Received: {user!r}")
    return user


@dataclass
class WorkspaceState:
    """What ``state.json`` holds."""

    dataset: dict = field(default_factory=lambda: {"name": DEFAULT_DATASET, "options": {}})  # name and options
    current_model: str | None = None  # a models-folder id, or "shipped:..."; None: the shipped default
    page_models: dict = field(default_factory=dict)  # page ("classes") -> models-folder id of its last run

    def to_dict(self) -> dict:
        return {"version": STATE_VERSION, "dataset": {"name": self.dataset["name"],
                                                      "options": dict(self.dataset.get("options") or {})},
                "current_model": self.current_model, "page_models": dict(self.page_models)}

    @classmethod
    def from_dict(cls, data) -> "WorkspaceState":
        """The state a file holds; fields missing or of the wrong type get their defaults."""
        state = cls()
        if not isinstance(data, dict):
            return state
        dataset = data.get("dataset")
        if isinstance(dataset, dict) and isinstance(dataset.get("name"), str):
            options = dataset.get("options")
            state.dataset = {"name": dataset["name"], "options": options if isinstance(options, dict) else {}}
        if isinstance(data.get("current_model"), str):
            state.current_model = data["current_model"]
        pages = data.get("page_models")
        if isinstance(pages, dict):
            state.page_models = {str(k): v for k, v in pages.items() if isinstance(v, str)}
        return state


class Workspace:
    """The folder of one user's workspace (created on first write)."""

    def __init__(self, user: str, root: str | Path | None = None):
        self.user = validate_user(user)
        self.root = Path(root).expanduser() if root is not None else data_root()
        self.folder = self.root / "workspaces" / self.user

    @property
    def uploads(self) -> Path:
        """The user's uploads: unpacked zips and the My classes photos."""
        return self.folder / "uploads"

    @property
    def models(self) -> Path:
        """The user's own models folder (classroom mode; personal mode uses the machine's models folder)."""
        return self.folder / "models"

    @property
    def visited_path(self) -> Path:
        return self.folder / ".visited"

    def mark_visit(self, every_s: float = 3600.0) -> None:
        """Record that the user opened the app now (a write at most every ``every_s`` seconds)."""
        try:
            if time.time() - self.visited_path.stat().st_mtime < every_s:
                return
        except OSError:
            pass
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.visited_path.touch()
        except OSError:  # a full or read-only disk: the workspace is only kept a little less surely
            pass

    def last_visit(self) -> float:
        """When the user last opened the app (seconds since the epoch): ``.visited``, else the folder's own time."""
        for path in (self.visited_path, self.state_path, self.folder):
            try:
                return path.stat().st_mtime
            except OSError:
                continue
        return 0.0

    @property
    def state_path(self) -> Path:
        return self.folder / "state.json"

    def load_state(self) -> WorkspaceState:
        """The saved state, or the defaults (a new workspace, or a file that cannot be read)."""
        try:
            text = self.state_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return WorkspaceState()
        except OSError:
            return WorkspaceState()
        try:
            return WorkspaceState.from_dict(json.loads(text))
        except ValueError:
            try:
                os.replace(self.state_path, self.state_path.with_name("state.json.unreadable"))
            except OSError:
                pass
            return WorkspaceState()

    def save_state(self, state: WorkspaceState) -> None:
        """Write ``state`` atomically (a crash leaves the old file or the new one, never half of one)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".state-", suffix=".json", dir=self.folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(state.to_dict(), f, indent=1, sort_keys=True)
            os.replace(tmp, self.state_path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise


def remove_stale(root: str | Path, days: float, keep: set[str] = frozenset(), now: float | None = None) -> list[str]:
    """Delete the workspaces under ``root`` nobody opened for ``days`` days; return their names.

    ``keep`` names workspaces in use in this process (never deleted, whatever their age). A
    classroom server calls this at start and once a day: the link of a student who never comes
    back must not hold their photos on the server for ever.
    """
    now = time.time() if now is None else now
    folder = Path(root).expanduser() / "workspaces"
    removed = []
    try:
        children = list(folder.iterdir())
    except OSError:
        return removed
    for child in children:
        if child.name in keep or not child.is_dir() or child.is_symlink() or not _USER_PATTERN.match(child.name):
            continue
        if now - Workspace(child.name, root).last_visit() > days * 86400:
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child.name)
    # Versions before workspaces kept each browser session's uploads in <root>/uploads/<session id>/:
    # nothing opens them any more, so they go once as old as a stale workspace.
    legacy = Path(root).expanduser() / "uploads"
    try:
        old_sessions = [c for c in legacy.iterdir() if c.is_dir() and not c.is_symlink()]
    except OSError:
        old_sessions = []
    for child in old_sessions:
        try:
            age = now - child.stat().st_mtime
        except OSError:
            continue
        if age > days * 86400:
            shutil.rmtree(child, ignore_errors=True)
            removed.append(f"uploads/{child.name}")
    return removed


def remove_unfinished_imports(root: str | Path, older_than_s: float = 3600.0, now: float | None = None) -> list[str]:
    """Delete the zip extractions a stopped server left half done under ``root``; return their paths (relative).

    A zip is unpacked into a hidden ``.NAME-XXXX.partial`` folder beside its upload and renamed when
    complete (``core.data.zip_import``); any error removes it, but a server killed meanwhile leaves it,
    hidden from its user and counted in their quota for ever. One untouched for ``older_than_s`` is not
    in progress: an extraction within the limits takes seconds.
    """
    now = time.time() if now is None else now
    root = Path(root).expanduser()
    removed = []
    for folder in sorted((root / "workspaces").glob("*/uploads/.*.partial")):
        try:
            if folder.is_symlink() or not folder.is_dir() or now - folder.stat().st_mtime <= older_than_s:
                continue
        except OSError:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(str(folder.relative_to(root)))
    return removed

"""The user's live workspace: their models, their run and their choices, shared by every tab they open.

A browser session (a tab) lasts until the tab is refreshed or closed; the user's work must
not. So the models a user trained or loaded, their training run, the dataset and the current
model live here, once per user in the server process, and the choices are also written to
disk (``core.workspace``) so a restarted server brings them back. A session reads them at
the start of every run (``ui.session.init_state``).

A run saves itself: its ``on_end`` hook (``run_hook``, calling ``finished``) runs in the training thread as the run
ends, adds the model to the workspace's models, writes it to the models folder (a model of
enrolled faces stays in memory until its user saves it) and makes it the current model, whatever
the tabs do, refreshed or closed.

Who the user is comes from ``ui.identity``: the machine's user in personal mode; a logged-in
account or a private workspace link in classroom mode. In classroom mode the user's models are
saved in their own workspace (``Workspace.models``); the gallery (``core.storage.gallery``) holds
the models the teacher published, read-only for everyone. A saved model is named by its id in
the user's models folder, or ``gallery:ID`` for one of the gallery.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import streamlit as st

from core.models.imagenet import NETWORKS, NetworkError, check_memory
from core.models.imagenet_weights import cached_weights, loaded_networks
from core.storage.card import ModelCard
from core.settings import classroom, limits
from core.storage.gallery import GALLERY_PREFIX, gallery_registry
from core.workspace import Workspace, WorkspaceState, personal_user  # noqa: F401  (the personal-mode user, for callers)

from .identity import gate
from .model_entry import ModelEntry
from .networks import KNOWS, ORIGIN, is_network, loaded_network, network_card, network_id, network_key, \
    network_loader
from .shipped import SHIPPED, SHIPPED_ID, is_shipped, loaded_shipped_model, shipped_card, shipped_ids, shipped_loader
from .text import plain

USER_KEY = "workspace_user"  # a test may set it to open another workspace in this session (AppTest)

_LIVE: dict[tuple[str, str], "LiveWorkspace"] = {}
_LIVE_LOCK = threading.Lock()


@dataclass
class Notice:
    """Something that happened outside the tab (a run ended), told once in every session that sees it."""

    id: str
    kind: str  # "success", "info", "warning" or "error"
    text: str
    time: float = field(default_factory=time.time)  # when it happened: a tab opened much later is not told


class LiveWorkspace:
    """One user's workspace in this server process (see the module docstring)."""

    def __init__(self, store: Workspace, private_models: bool = False):
        self.store = store
        self.private_models = private_models  # classroom mode: models saved in the workspace, not the machine's folder
        self.lock = threading.RLock()
        self.state: WorkspaceState = store.load_state()
        # replaced, never changed in place: a page iterating over it meanwhile sees one whole version
        self.models: dict[str, ModelEntry] = {
            i: ModelEntry(i, loaded_shipped_model(i), shipped_card(i), shipped=True, loader=shipped_loader(i),
                          knows=SHIPPED[i].knows)
            for i in shipped_ids()}
        self.current: str = SHIPPED_ID
        self.page_entries: dict[str, str] = {}  # page ("classes", "faces") -> id of the model its last run made
        self.job = None
        self.job_owner: str | None = None
        self.notices: list[Notice] = []
        self._discarded: set[str] = set()
        self._restored = False
        self.face_gallery = None  # the Who am I? faces, kept in memory only (ui.enrol_editor)

    # --- models ---------------------------------------------------------------------------

    def add_model(self, model, card: ModelCard, evolution: list | None = None, probe=None,
                  saved_id: str | None = None, loader=None) -> ModelEntry:
        """A new entry named after the card (``session:<name>``, ``-2`` etc. when taken).

        ``model`` may be None with a ``loader`` that loads it on first use.
        """
        with self.lock:
            base = card.name or "model"
            model_id, n = f"session:{base}", 1
            while model_id in self.models:
                n += 1
                model_id = f"session:{base}-{n}"
            entry = ModelEntry(model_id, model, card, evolution=evolution, probe=probe, saved_id=saved_id,
                               loader=loader)
            self.models = {**self.models, model_id: entry}
            return entry

    def add_network(self, key: str) -> ModelEntry:
        """An ImageNet network in this user's models (``imagenet:<key>``): shared by every user, loaded on first use."""
        with self.lock:
            model_id = network_id(key)
            if model_id not in self.models:
                entry = ModelEntry(model_id, loaded_network(key), network_card(key), shipped=True,
                                   loader=network_loader(key), knows=KNOWS, origin=ORIGIN)
                self.models = {**self.models, model_id: entry}
            return self.models[model_id]

    def remove_model(self, model_id: str) -> None:
        with self.lock:
            if is_shipped(model_id) or model_id not in self.models:
                return
            self.models = {k: v for k, v in self.models.items() if k != model_id}
            if self.current == model_id:
                self.set_current(SHIPPED_ID)
            self.page_entries = {k: v for k, v in self.page_entries.items() if v != model_id}

    def set_current(self, model_id: str) -> None:
        """Make ``model_id`` (a key of ``models``) the current model of every tab, and remember it on disk."""
        with self.lock:
            if model_id not in self.models:
                raise KeyError(model_id)
            self.current = model_id
            entry = self.models[model_id]
            if entry.card.private and not entry.saved_id:
                return  # a model of enrolled faces not saved: nothing of it goes to disk, its name neither
            self.state.current_model = entry.id if entry.shipped else (entry.saved_id or entry.id)
            self._save()

    def set_dataset(self, choice: dict) -> None:
        with self.lock:
            self.state.dataset = {"name": choice["name"], "options": dict(choice.get("options") or {})}
            self._save()

    def set_page_model(self, page: str, model_id: str) -> None:
        with self.lock:
            self.page_entries = {**self.page_entries, page: model_id}
            entry = self.models.get(model_id)
            if entry is not None and entry.saved_id:
                self.state.page_models = {**self.state.page_models, page: entry.saved_id}
                self._save()

    def page_model(self, page: str) -> ModelEntry | None:
        return self.models.get(self.page_entries.get(page, ""))

    def find_saved(self, saved_id: str) -> ModelEntry | None:
        """The entry of a models-folder model already loaded in this workspace."""
        return next((e for e in self.models.values() if e.saved_id == saved_id), None)

    def restore(self) -> None:
        """Once per process: the current model and the pages' models of the saved state, from the models folder
        (each loaded on first use).

        A model deleted from the folder meanwhile is dropped with a notice; the shipped model takes its place.
        """
        with self.lock:
            if self._restored:
                return
            self._restored = True
            wanted = self.state.current_model
            if wanted and is_network(wanted):
                net = NETWORKS[network_key(wanted)]
                try:  # its weights still here, and room for it beside the networks loaded (without loading it)
                    if cached_weights(net) is None:
                        raise NetworkError("its weights are not on this server any more.")
                    if loaded_network(net.key) is None:
                        check_memory(net, loaded_networks(), limits().max_imagenet_bytes)
                    self.current = self.add_network(net.key).id
                except NetworkError as exc:
                    self.notices.append(Notice("restore", "warning", f"The network you last used ({net.title}) "
                                               f"cannot be loaded now: {plain(exc, 300)} The shipped model is "
                                               "current."))
                    self.state.current_model = SHIPPED_ID
                    self._save()
            elif wanted and is_shipped(wanted):
                if wanted in self.models:
                    self.current = wanted
            elif wanted:
                entry = self._load_saved(wanted)
                if entry is not None:
                    self.current = entry.id
                else:
                    self.notices.append(Notice("restore", "warning", f"The model you last used ({plain(wanted)}) is no "
                                               "longer in the models folder: the shipped model is current."))
                    self.state.current_model = SHIPPED_ID
                    self._save()
            for page, saved in self.state.page_models.items():
                entry = self._load_saved(saved)
                if entry is not None:
                    self.page_entries = {**self.page_entries, page: entry.id}

    def registry(self):
        """The user's models folder: their own in classroom mode, the machine's in personal mode."""
        from core.storage.registry import ModelRegistry

        return ModelRegistry(self.store.models) if self.private_models else ModelRegistry()

    def check_room(self, incoming_bytes: int) -> None:
        """Raise ``core.quota.QuotaError`` when ``incoming_bytes`` more do not fit this user's models (classroom mode)."""
        if self.private_models:
            from core.quota import check_room

            check_room(self.store.folder, incoming_bytes)

    def registry_of(self, saved_id: str):
        """``(registry, id in it)`` of a saved model's id (``gallery:ID`` names one of the gallery)."""
        if saved_id.startswith(GALLERY_PREFIX):
            return gallery_registry(), saved_id[len(GALLERY_PREFIX):]
        return self.registry(), saved_id

    def _load_saved(self, saved_id: str) -> ModelEntry | None:
        from core.storage.files import ModelFileError

        known = self.find_saved(saved_id)
        if known is not None:
            return known
        try:
            registry, entry_id = self.registry_of(saved_id)
            card = registry.get(entry_id).card  # its JSON only: the first page draws without TensorFlow
            snapshots, probe = registry.load_replay(entry_id) or (None, None)
        except (ModelFileError, ValueError, OSError):
            return None
        return self.add_model(None, card, evolution=snapshots, probe=probe, saved_id=saved_id,
                              loader=lambda: registry.load(entry_id)[0])

    # --- the training run -------------------------------------------------------------------

    def run_hook(self, owner: str):
        """The ``on_end`` hook of a run the page ``owner`` starts in this workspace (pass it to the job)."""
        return lambda job: self.finished(job, owner)

    def adopt(self, job, owner: str) -> None:
        """Make ``job`` (started with ``run_hook(owner)``) this workspace's run."""
        with self.lock:
            self.job, self.job_owner = job, owner

    def discard(self, job) -> None:
        """``job``'s model must not stay among the models (its faces were deleted meanwhile)."""
        with self.lock:
            self._discarded.add(job.id)
            if job.model_id:
                self.remove_model(job.model_id)

    def finished(self, job, owner: str | None = None) -> None:
        """The run ended with a model (the training thread calls this): keep it, whatever the tabs do."""
        with self.lock:
            if job.id in self._discarded or job.card is None:
                return
            entry = self.add_model(job.model, job.card, evolution=list(job.snapshots), probe=job.probe)
            job.model_id = entry.id
        if not job.card.private:
            self.save_model(entry, replay=(list(job.snapshots), job.probe))
        with self.lock:
            if job.id in self._discarded:
                self.remove_model(entry.id)
                return
            previous = self.models[self.current].name if self.current in self.models else None
            self.set_current(entry.id)
            if owner:
                self.set_page_model(owner, entry.id)
            where = (" and saved in the models folder" if entry.saved_id else
                     " (kept in memory until you save it on Who am I?)" if job.card.private else "")
            self.notices = self.notices[-9:]
            self.notices.append(Notice(f"job:{job.id}", "success",
                                       f"Training of **{plain(entry.name)}** ended: it is now the current model on every "
                                       f"page{where}" + (f" (instead of {plain(previous)})." if previous else ".")))
            if getattr(job, "stop_kind", None) not in (None, "user"):  # stopped by a limit of the server: say why
                self.notices.append(Notice(f"job-stop:{job.id}", "warning", job.stop_reason))
            if entry.save_error:
                self.notices.append(Notice(f"job-save:{job.id}", "warning", entry.save_error))

    def _save(self) -> None:
        try:
            self.store.save_state(self.state)
        except OSError:  # a read-only or full disk: the choices still hold in this process
            pass


    def save_model(self, entry: ModelEntry, replay: tuple | None = None) -> None:
        """Keep a model in the user's models folder; the entry records its id there, or why it failed (never raised)."""
        try:
            self.check_room(4 * int(entry.model.count_params()) + 2**20)  # weights, and the file's own overhead
            entry.saved_id = self.registry().save(entry.model, entry.card, replay=replay).id
            entry.save_error = None
        except (OSError, ValueError) as exc:  # a full disk, or the user's quota (a ValueError)
            entry.save_error = f"Could not save it to your models: {exc}"


def workspace_for(user: str) -> LiveWorkspace:
    """The live workspace of ``user`` under the current data root (created on first use)."""
    store = Workspace(user)
    private = classroom()
    key = (str(store.root.resolve()), store.user, private)
    with _LIVE_LOCK:
        live = _LIVE.get(key)
        if live is None:
            live = _LIVE[key] = LiveWorkspace(store, private_models=private)
    return live


def live_users() -> set[str]:
    """The workspaces open in this process (never deleted as stale)."""
    with _LIVE_LOCK:
        return {key[1] for key in _LIVE}


def workspace() -> LiveWorkspace:
    """This session's workspace: its user's (``ui.identity``)."""
    user = st.session_state.get(USER_KEY) or gate().workspace
    return workspace_for(user)

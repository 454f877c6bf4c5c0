"""core.workspace: a user's state on disk, read back whatever the file holds."""

from __future__ import annotations

import json

import pytest

from core.workspace import Workspace, WorkspaceState, data_root, personal_user, validate_user


def test_the_state_round_trips_through_its_file(tmp_path):
    ws = Workspace("ada", root=tmp_path)
    assert ws.load_state() == WorkspaceState()  # a new workspace: the defaults, nothing written
    assert not ws.folder.exists()
    state = WorkspaceState(dataset={"name": "folder", "options": {"path": "/x/pets", "image_size": 32}},
                           current_model="pets-20261202-101010", page_models={"classes": "cls-1"})
    ws.save_state(state)
    assert ws.state_path.parent == tmp_path / "workspaces" / "ada"
    assert Workspace("ada", root=tmp_path).load_state() == state
    assert [p.name for p in ws.folder.iterdir()] == ["state.json"]  # no temporary file left


@pytest.mark.parametrize("text", ["{not json", json.dumps([1, 2]), json.dumps({"dataset": 3, "current_model": 4,
                                                                                "page_models": "x"})])
def test_a_state_file_that_cannot_be_read_gives_the_defaults(tmp_path, text):
    ws = Workspace("ada", root=tmp_path)
    ws.folder.mkdir(parents=True)
    ws.state_path.write_text(text)
    assert ws.load_state() == WorkspaceState()
    if text.startswith("{not"):  # not JSON: kept aside for a person to look at
        assert (ws.folder / "state.json.unreadable").read_text() == text


def test_a_partial_state_keeps_what_it_has():
    state = WorkspaceState.from_dict({"dataset": {"name": "digits"}, "page_models": {"classes": "a", "faces": 3}})
    assert state.dataset == {"name": "digits", "options": {}}
    assert state.page_models == {"classes": "a"} and state.current_model is None


@pytest.mark.parametrize("user", ["", ".hidden", "a/b", "..", "a..b", "x" * 65, "a b", "é"])
def test_a_workspace_name_is_one_plain_folder(user):
    with pytest.raises(ValueError, match="workspace name"):
        Workspace(user)


def test_the_personal_user_and_the_data_root(monkeypatch, tmp_path):
    assert validate_user(personal_user()) == personal_user()
    monkeypatch.setattr("getpass.getuser", lambda: "Jane Doe/..")
    assert personal_user() == "Jane_Doe"
    monkeypatch.setattr("getpass.getuser", lambda: "///")
    assert personal_user() == "local"
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path))
    assert data_root() == tmp_path
    monkeypatch.delenv("CNNLAB_DATA_DIR")
    assert str(data_root()).endswith(".cnnlab")


def test_workspaces_nobody_opened_for_days_are_removed_and_the_others_kept(tmp_path):
    import os
    import time

    from core.workspace import Workspace, remove_stale

    now = time.time()
    old, recent, live = Workspace("lold", tmp_path), Workspace("lrecent", tmp_path), Workspace("llive", tmp_path)
    for ws in (old, recent, live):
        (ws.uploads / "photos").mkdir(parents=True)
        ws.mark_visit()
    for ws, days in ((old, 31), (live, 40), (recent, 29)):
        os.utime(ws.visited_path, (now - days * 86400, now - days * 86400))
    (tmp_path / "workspaces" / "not a workspace").mkdir()
    legacy_old, legacy_new = tmp_path / "uploads" / "0f3a-session", tmp_path / "uploads" / "9b2c-session"
    for folder, days in ((legacy_old, 31), (legacy_new, 1)):
        (folder / "pets").mkdir(parents=True)
        os.utime(folder, (now - days * 86400, now - days * 86400))
    assert remove_stale(tmp_path, 30, keep={"llive"}, now=now) == ["lold", "uploads/0f3a-session"]
    assert not legacy_old.exists() and legacy_new.exists()
    assert not old.folder.exists() and recent.folder.exists() and live.folder.exists()
    assert (tmp_path / "workspaces" / "not a workspace").exists()


def test_a_visit_is_written_at_most_hourly(tmp_path):
    import os

    from core.workspace import Workspace

    ws = Workspace("lvisit", tmp_path)
    ws.mark_visit()
    os.utime(ws.visited_path, (1000, 1000))
    ws.mark_visit()  # an hour has passed since 1970: written
    assert ws.last_visit() > 1000
    stamp = ws.visited_path.stat().st_mtime
    ws.mark_visit()
    assert ws.visited_path.stat().st_mtime == stamp


def test_only_old_unfinished_zip_extractions_are_removed(tmp_path):
    import os
    import time

    from core.workspace import Workspace, remove_unfinished_imports

    now = time.time()
    ws = Workspace("lpartial", tmp_path)
    done = ws.uploads / "pets"  # a finished upload
    left = ws.uploads / ".pets-k2j4.partial"  # a server killed while it unpacked, two hours ago
    busy = ws.uploads / ".dogs-x8f1.partial"  # an extraction going on now
    for folder in (done, left, busy):
        (folder / "cats").mkdir(parents=True)
        (folder / "cats" / "1.png").write_bytes(b"x" * 100)
    for folder in (done, left):
        os.utime(folder, (now - 7200, now - 7200))
    outside = tmp_path / "elsewhere" / ".x.partial"
    outside.mkdir(parents=True)
    os.utime(outside, (now - 7200, now - 7200))
    (ws.uploads / ".link.partial").symlink_to(outside)
    os.utime(ws.uploads / ".link.partial", (now - 7200, now - 7200), follow_symlinks=False)

    assert remove_unfinished_imports(tmp_path, now=now) == ["workspaces/lpartial/uploads/.pets-k2j4.partial"]
    assert not left.exists() and done.exists() and busy.exists() and outside.exists()

"""Classroom mode under AppTest: private workspaces by link or login, the gallery, shared folders only.

Two AppTest sessions with two link keys are two students of one server; whatever B asks for,
A's models, uploads and folders stay out of B's reach.
"""

from __future__ import annotations

from pathlib import Path

import keras
import pytest
from streamlit.testing.v1 import AppTest

from core.storage.card import DatasetRef, ModelCard
from core.storage.gallery import gallery_registry
from core.storage.registry import ModelRegistry
from core.workspace import Workspace
from ui.identity import link_workspace, login_workspace, new_key

from tests.apptest_helpers import APP

TEACHER_KEY = "T" * 43


@pytest.fixture
def classroom(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNLAB_MODE", "classroom")
    shared = tmp_path / "shared"
    (shared / "pets" / "cat").mkdir(parents=True)
    (shared / "pets" / "dog").mkdir()
    monkeypatch.setenv("CNNLAB_FOLDER_ROOTS", str(shared))
    monkeypatch.setenv("CNNLAB_TEACHER_KEY", TEACHER_KEY)
    return shared


def session(key: str | None = None, page: str | None = None, user: dict | None = None, secrets: dict | None = None):
    at = AppTest.from_file(APP, default_timeout=120)
    if key is not None:
        at.query_params["ws"] = key
    if user is not None:
        at.user = user
    if secrets is not None:
        at.secrets = secrets
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    if page:
        at.switch_page(page)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
    return at


def tiny_model():
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(2, 3, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(4, activation="softmax")(keras.layers.Flatten()(x)))


def save_model_of(key: str, name: str, path: str | None = None) -> str:
    """A model saved in the workspace of the link ``key`` (as its run would), trained on ``path`` if given."""
    ref = DatasetRef("folder", "Folder: mine", options={"path": path}) if path else DatasetRef("shapes")
    card = ModelCard(name=name, class_names=["a", "b", "c", "d"], input_shape=(32, 32, 3), dataset=ref)
    return ModelRegistry(Workspace(link_workspace(key)).models).save(tiny_model(), card).id


def test_a_first_visit_gets_a_private_link_to_bookmark(classroom):
    at = session()
    key = at.query_params["ws"]
    key = key[0] if isinstance(key, list) else key
    who = at.session_state["identity"]
    assert who.how == "link" and who.key == key and len(key) >= 43 and not who.teacher
    assert who.workspace == link_workspace(key) and key not in who.workspace  # the folder is named by a hash
    assert any("bookmark" in e.label.lower() or "private link" in e.label.lower() for e in at.expander)
    assert any(key in c.value for c in at.code)
    # the same link, later, opens the same workspace
    again = session(key)
    assert again.session_state["identity"].workspace == who.workspace and not again.session_state["identity"].new


@pytest.mark.parametrize("guess", ["alice", "a" * 31, "../../etc", "x" * 200])
def test_a_short_or_odd_key_is_not_a_workspace(classroom, guess):
    at = session(guess)
    who = at.session_state["identity"]
    assert who.key != guess and who.new and len(who.key) >= 43


def test_b_sees_none_of_a_models_and_cannot_load_them(classroom):
    a, b = new_key(), new_key()
    a_id = save_model_of(a, "alice_secret_model")
    at = session(b, "pages/models.py")
    assert all("alice_secret_model" not in str(df.value) for df in at.dataframe)
    assert at.selectbox(key="models_pick").options == []
    # even asked for by id, B's workspace looks in B's own folder
    from tests.apptest_helpers import workspace_of

    ws = workspace_of(at)
    registry, entry_id = ws.registry_of(a_id)
    with pytest.raises(Exception):
        registry.get(entry_id)
    assert registry.root == Workspace(link_workspace(b)).models
    # A sees it
    at_a = session(a, "pages/models.py")
    assert "alice_secret_model" in at_a.dataframe[0].value["name"].tolist()


def test_b_cannot_open_a_uploads_or_server_paths_as_a_dataset(classroom, tmp_path):
    a, b = new_key(), new_key()
    a_photos = Workspace(link_workspace(a)).uploads / "holiday"
    (a_photos / "me").mkdir(parents=True)
    at = session(b, "pages/data.py")
    at.selectbox(key="data_name").set_value("folder").run()
    # nobody types a path: the choices are a zip of one's own, or a folder the teacher shares
    assert not [t for t in at.text_input if t.key in ("data_path", "data_folder")]
    assert at.radio(key="data_where").options == ["A folder the teacher shares", "Upload a .zip of class folders"]
    from ui.access import AccessError

    # a saved model's card, or a session value, naming A's folder or any server path is refused at the load itself
    b_ws = Workspace(link_workspace(b))
    for path in (str(a_photos), str(a_photos.parent), "/", str(tmp_path), str(Path.home()),
                 str(classroom / ".." / "x"), str(b_ws.uploads / ".." / ".." / link_workspace(a))):
        with pytest.raises(AccessError, match="not one you may open"):
            access_check_as(b_ws.user, "folder", {"path": path})
        with pytest.raises(AccessError):
            access_check_as(b_ws.user, "mnist", {"folder": path})
    access_check_as(b_ws.user, "folder", {"path": str(classroom / "pets")})  # shared by the teacher
    access_check_as(b_ws.user, "folder", {"path": str(b_ws.uploads / "mine")})  # B's own


def access_check_as(user: str, name: str, options: dict) -> None:
    """``ui.access.check_dataset`` in a session of ``user`` (the workspace a session's identity opens)."""
    from unittest import mock

    import ui.access as access
    from ui.workspace import workspace_for

    with mock.patch.object(access, "workspace", lambda: workspace_for(user)):
        access.check_dataset(name, options)


def test_the_shared_folders_are_offered_by_name(classroom):
    at = session(new_key(), "pages/data.py")
    at.selectbox(key="data_name").set_value("folder").run()
    at.radio(key="data_where").set_value("shared").run()
    assert at.selectbox(key="data_shared").options == ["shared", "shared/pets"]


def test_a_shared_folder_loads_and_no_server_path_is_shown(classroom):
    import numpy as np
    from PIL import Image

    for cls, value in (("cat", 40), ("dog", 200)):
        for i in range(4):
            Image.fromarray(np.full((16, 16, 3), value + i, np.uint8)).save(classroom / "pets" / cls / f"{i}.png")
    at = session(new_key(), "pages/data.py")
    at.selectbox(key="data_name").set_value("folder").run()
    at.radio(key="data_where").set_value("shared").run()
    at.selectbox(key="data_shared").set_value("shared/pets").run()
    at.button(key="data_load").click().run()
    assert not at.exception and not at.error
    assert at.session_state["dataset"]["options"]["path"] == str(classroom / "pets")
    shown = " ".join(e.value for e in (*at.caption, *at.markdown, *at.info))
    assert "Source: shared/pets" in shown and str(classroom) not in shown


def test_only_the_teacher_imports_official_files(classroom):
    student = session(new_key(), "pages/data.py")
    student.selectbox(key="data_name").set_value("mnist").run()
    assert student.radio(key="data_source").options == ["Download (once, then kept for every session)"]
    teacher = session(TEACHER_KEY, "pages/data.py")
    assert teacher.session_state["identity"].teacher
    teacher.selectbox(key="data_name").set_value("mnist").run()
    assert "Upload the official files" in teacher.radio(key="data_source").options


def test_the_teacher_publishes_and_everyone_loads_but_nobody_else_changes(classroom):
    a = new_key()
    private = str(Workspace(link_workspace(TEACHER_KEY)).uploads / "class_photos")
    entry_id = save_model_of(TEACHER_KEY, "teacher_demo", path=private)
    teacher = session(TEACHER_KEY, "pages/models.py")
    teacher.selectbox(key="models_pick").set_value(entry_id).run()
    teacher.button(key="models_publish").click().run()
    assert any("Published" in s.value for s in teacher.success)
    [published] = gallery_registry().list_entries()
    assert published.name == "teacher_demo" and "path" not in published.card.dataset.options  # private path dropped

    student = session(a, "pages/models.py")
    assert not [b for b in student.button if b.key in ("models_publish", "models_withdraw")]
    assert student.selectbox(key="models_gallery_pick").options == [
        f"teacher_demo · {published.created[:10]} · {published.id}"]
    student.selectbox(key="models_gallery_pick").set_value(published.id).run()
    student.button(key="models_gallery_load").click().run()
    assert not student.exception
    current = student.session_state["models"][student.session_state["current_model"]]
    assert current.name == "teacher_demo" and current.saved_id == "gallery:" + published.id
    # the student's own list is still empty: rename and delete act on it alone
    assert student.selectbox(key="models_pick").options == []


def test_login_names_the_workspace_after_the_account(classroom):
    secrets = {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
                        "client_id": "id", "client_secret": "secret",
                        "server_metadata_url": "http://localhost:9/.well-known/openid-configuration"}}
    out = session(user={"is_logged_in": False}, secrets=secrets)
    assert out.button(key="identity_login") and "identity" not in out.session_state
    alice = session(user={"is_logged_in": True, "email": "Alice@Uni.edu"}, secrets=secrets)
    who = alice.session_state["identity"]
    assert who.how == "login" and who.workspace == login_workspace("alice@uni.edu") and not who.teacher
    assert "ws" not in alice.query_params


def test_personal_mode_has_no_link_and_no_gallery_section(monkeypatch):
    at = session(page="pages/models.py")
    assert at.session_state["identity"].how == "personal"
    assert "ws" not in at.query_params
    assert not [s for s in at.subheader if s.value == "Gallery"]

"""The user's work outlives the tab: a refreshed tab (a new session) and a restarted server find it again."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from apptest_helpers import APP, open_page
from core.storage.registry import ModelRegistry
from ui import workspace as live


def start_digits_run(at, name: str, epochs: int):
    at.selectbox(key="data_name").set_value("digits").run()
    at = open_page("pages/train.py", at)
    at.number_input(key="train_epochs").set_value(epochs).run()
    at.text_input(key="train_name").input(name).run()
    at.button(key="train_start").click().run()
    assert not at.exception
    return at, at.session_state["job"]


def test_a_run_saves_itself_and_a_refreshed_tab_finds_the_run_the_dataset_and_the_model():
    at = open_page("pages/data.py")
    at, job = start_digits_run(at, "refreshed_run", epochs=3)
    job.pause()

    # refreshed while it runs: the new session shows the same run on the Train page, with its curves
    tab = open_page("pages/train.py")
    assert tab.session_state["job"] is job and tab.session_state["dataset"]["name"] == "digits"
    assert tab.button(key="train_start").disabled  # one run at a time: the same one
    texts = " ".join(s.value for s in tab.subheader)
    assert job.name in texts
    job.resume()

    # no tab redraws until it has ended: it saved itself
    job.join(120)
    assert job.state == "done"
    saved = ModelRegistry().list_entries()
    assert [e.name for e in saved] == ["refreshed_run"]
    ws = live.workspace_for(live.personal_user())
    assert ws.models[ws.current].saved_id == saved[0].id == job_model_saved_id(ws, job)

    # the old tab and a new one both show it as the current model; the sidebar says that it ended
    at.run()
    assert not at.exception and at.session_state["current_model"] == job.model_id
    new = AppTest.from_file(APP, default_timeout=60)
    new.run()
    assert not new.exception and new.selectbox(key="sidebar_model").value == job.model_id
    assert any("refreshed_run" in t.value and "saved in the models folder" in t.value for t in new.toast)
    new.run()
    assert not new.toast  # once


def job_model_saved_id(ws, job) -> str:
    return ws.models[job.model_id].saved_id


def test_a_restarted_server_brings_back_the_dataset_and_the_current_model(monkeypatch):
    at = open_page("pages/data.py")
    at, job = start_digits_run(at, "before_restart", epochs=1)
    job.join(120)
    saved_id = live.workspace_for(live.personal_user()).models[job.model_id].saved_id
    assert saved_id

    monkeypatch.setattr(live, "_LIVE", {})  # a new server process: nothing in memory
    after = open_page("pages/activations.py")
    assert not after.exception
    assert after.session_state["dataset"] == {"name": "digits", "options": {}}
    entry = after.session_state["models"][after.session_state["current_model"]]
    assert entry.saved_id == saved_id and entry.card.name == "before_restart"
    assert entry.model.output_shape[-1] == 10 and entry.evolution  # with its replay

    # the model deleted meanwhile: the shipped model is current, and the page says why
    ModelRegistry().delete(saved_id)
    monkeypatch.setattr(live, "_LIVE", {})
    again = AppTest.from_file(APP, default_timeout=60)
    again.run()
    assert again.session_state["current_model"] == live.SHIPPED_ID
    assert any(saved_id in t.value for t in again.toast)


def test_two_tabs_of_one_user_share_their_dataset():
    a = open_page("pages/data.py")
    b = open_page("pages/data.py")
    a.selectbox(key="data_name").set_value("digits").run()
    b = open_page("pages/home.py", b)
    assert b.session_state["dataset"]["name"] == "digits"
    b = open_page("pages/data.py", b)  # its own choice was Shapes: it now starts on the dataset in use
    assert b.selectbox(key="data_name").value == "digits" and b.session_state["dataset"]["name"] == "digits"
    b.selectbox(key="data_name").set_value("shapes").run()
    a = open_page("pages/home.py", a)
    assert a.session_state["dataset"]["name"] == "shapes"

"""The Train page says in plain words why a run stopped by itself, and why a second run was not started."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from apptest_helpers import APP, open_page
from training_models import wait_until


def start_digits_run(at: AppTest, name: str) -> tuple[AppTest, object]:
    at.selectbox(key="data_name").set_value("digits").run()
    at = open_page("pages/train.py", at)
    at.number_input(key="train_epochs").set_value(40).run()
    at.select_slider(key="train_batch").set_value(16).run()
    at.text_input(key="train_name").input(name).run()
    at.button(key="train_start").click().run()
    assert not at.exception
    return at, at.session_state["job"]


def test_a_run_paused_too_long_stops_and_the_train_page_says_why(monkeypatch):
    at, job = start_digits_run(open_page("pages/data.py"), "held")
    wait_until(lambda: len(job.snapshot().batch_log) >= 2)
    at.button(key="train_pause").click().run()
    wait_until(lambda: job.state == "paused")
    touched = []
    monkeypatch.setattr(type(job), "touch", lambda self: touched.append(self))
    at.run()
    assert not at.exception
    assert touched and all(t is job for t in touched)  # an open tab tells its run that its user is there
    assert any(i.value.startswith("Paused: the training slot goes to the next run meanwhile. Resume within ")
               and i.value.endswith("or the run stops by itself (the model it has learned so far is kept).")
               for i in at.info)

    monkeypatch.setenv("CNNLAB_JOB_PAUSED_MAX_TIME", "1s")  # read at every check: the pause is now too long
    job.join(60)
    at.run()
    assert not at.exception and job.state == "stopped"
    [reason] = [w.value for w in at.warning if w.value.startswith("Stopped")]
    assert reason == f"Stopped after 1 s paused: the model of epoch {job.card.epochs_done} is kept."
    assert any("test accuracy" in s.value for s in at.success)  # the model kept, and current
    assert at.session_state["current_model"] == "session:held"

    # a tab opened afterwards is told too, once (the sidebar's notices)
    tab = AppTest.from_file(APP, default_timeout=60)
    tab.run()
    assert not tab.exception and any(t.value == reason for t in tab.toast)


def test_in_classroom_mode_a_second_run_is_refused_with_the_first_named(monkeypatch):
    monkeypatch.setenv("CNNLAB_MODE", "classroom")
    from core.data import load_dataset
    from core.training.config import TrainConfig
    from core.training.launch import new_run
    from training_models import TWO_BLOCKS

    at = open_page("pages/train.py", user="dora")
    # a run of dora's that this tab's page was drawn without: started a moment ago in another tab
    shapes = load_dataset("shapes", {"n_train": 320, "n_test": 64})
    other = new_run(TWO_BLOCKS, shapes, TrainConfig(epochs=50, batch_size=8), name="other_tab", user="dora")
    try:
        at.button(key="train_start").click().run()
        assert not at.exception
        [refusal] = [e.value for e in at.error]
        assert refusal.startswith("Not started: on this server each person has one training run at a time, and "
                                  "**other_tab** is ")
        assert "Stop" in refusal and "in another tab" in refusal
        assert at.session_state["job"] is None  # nothing started, nothing replaced
    finally:
        other.stop()
        other.join(60)
    at.button(key="train_start").click().run()  # once it has ended
    assert not at.exception and not at.error and at.session_state["job"] is not None
    at.session_state["job"].stop()
    at.session_state["job"].join(60)

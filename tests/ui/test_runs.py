"""ui.runs: what a page says when a run is not started because its user has one going on."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from core.training.user_jobs import JobLimitError
from ui.runs import refusal_text


@pytest.mark.parametrize("state, doing", [("running", "training"), ("paused", "paused"),
                                          ("queued", "waiting for a training slot")])
def test_the_refusal_names_the_run_in_the_way_its_page_and_how_to_stop_it(state, doing):
    job = SimpleNamespace(name="digits_cnn", state=state)
    text = refusal_text(JobLimitError("ada", [job], 1), workspace_job=job, workspace_owner="classes")
    assert text == (f"Not started: on this server each person has one training run at a time, and **digits_cnn** is "
                    f"{doing} (started on the My classes page). Stop it with its **Stop** button on the My classes "
                    "page (the model it has learned so far is kept), or wait for it to end, then start this one.")


def test_a_run_the_workspace_does_not_hold_was_started_in_another_tab():
    job = SimpleNamespace(name="other", state="running")
    text = refusal_text(JobLimitError("ada", [job], 2), workspace_job=None, workspace_owner="train")
    assert "each person has 2 training runs at a time" in text and "(started in another tab)" in text
    assert "**Stop** button there" in text

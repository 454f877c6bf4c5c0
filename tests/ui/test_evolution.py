"""ui.evolution: the replay slider follows training as epochs arrive, and stays where the user puts it."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest



def replay_script():
    import numpy as np
    import streamlit as st

    from core.training.progress import Snapshot
    from ui.evolution import show_evolution

    rng = np.random.default_rng(0)
    snaps = [Snapshot(e, rng.normal(size=(3, 3, 1, 4)).astype(np.float32),
                      {"conv1": rng.random((8, 8, 4)).astype(np.float32)}) for e in range(st.session_state["epochs"])]
    show_evolution(snaps, key="evo")


def test_the_replay_follows_new_epochs_until_the_user_picks_one():
    at = AppTest.from_function(replay_script, default_timeout=60)
    at.session_state["epochs"] = 2
    at.run()
    assert not at.exception and at.select_slider(key="evo_epoch").value == 1
    for done in (3, 6):  # training goes on: the slider moves to the newest epoch
        at.session_state["epochs"] = done + 1
        at.run()
        assert at.select_slider(key="evo_epoch").value == done
        assert any(f"after {done} epoch(s)" in str(img.proto) for img in at.get("image"))
    at.select_slider(key="evo_epoch").set_value(2).run()  # the user looks back at epoch 2
    at.session_state["epochs"] = 9
    at.run()
    assert not at.exception and at.select_slider(key="evo_epoch").value == 2
    assert any("after 2 epoch(s)" in str(img.proto) for img in at.get("image"))
    at.select_slider(key="evo_epoch").set_value(8).run()  # back on the newest: following again
    at.session_state["epochs"] = 11
    at.run()
    assert at.select_slider(key="evo_epoch").value == 10


def drawn_epochs(at) -> set[str]:
    """The epochs the replay's pictures are captioned with."""
    import re

    return {m for img in at.get("image") for m in re.findall(r"after (\d+) epoch\(s\)", str(img.proto))}


def test_the_slider_is_always_sent_the_epoch_drawn():
    # A slider the server sends no value keeps the browser's: a run that started from a value the
    # browser held before the newest epoch reached it must still move the slider to what it draws.
    at = AppTest.from_function(replay_script, default_timeout=60)
    at.session_state["epochs"] = 6
    at.run()
    slider = at.select_slider(key="evo_epoch")
    for browser_value, epochs in ((5, 7), (3, 7), (6, 8), (9, 11)):
        at.select_slider(key="evo_epoch").set_value(browser_value)
        at.session_state["epochs"] = epochs
        at.run()
        slider = at.select_slider(key="evo_epoch")
        assert not at.exception
        drawn = drawn_epochs(at)
        assert len(drawn) == 1, drawn  # the filters and the maps show one and the same epoch
        assert slider.proto.set_value and list(slider.proto.raw_value) == list(drawn), (browser_value, drawn)
        assert str(slider.value) in drawn

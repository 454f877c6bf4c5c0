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

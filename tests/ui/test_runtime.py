"""The Streamlit runtime adjustment that keeps Keras state alive between reruns."""

from __future__ import annotations

import keras
from streamlit.runtime.scriptrunner import script_runner

from ui.runtime import keep_keras_state_between_reruns


def test_script_run_cleanup_no_longer_clears_the_keras_session(monkeypatch):
    calls = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *a, **k: calls.append(1))
    original = script_runner._clean_problem_modules
    monkeypatch.setattr(script_runner, "_clean_problem_modules", original)
    if not getattr(original, "_cnn_lab_keeps_keras", False):
        # Streamlit's own cleanup clears the Keras session: this is what the fix removes.
        original()
        assert calls == [1]
        calls.clear()
    keep_keras_state_between_reruns()
    keep_keras_state_between_reruns()  # idempotent
    script_runner._clean_problem_modules()
    assert calls == []
    assert script_runner._clean_problem_modules._cnn_lab_keeps_keras

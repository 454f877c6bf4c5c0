"""Adjustments to the Streamlit runtime that a live training job needs."""

from __future__ import annotations

import sys


def keep_keras_state_between_reruns() -> None:
    """Stop Streamlit from calling ``keras.backend.clear_session()`` after every script run.

    Streamlit's script runner "cleans problem modules" when a run ends: if Keras
    is imported it clears the Keras session, which resets Keras's global state
    and TensorFlow's kernel caches for the whole process. With a training job in
    a background thread and a progress fragment rerunning every second, that
    cleared the caches under the running ``fit`` once a second and cut training
    speed several-fold (measured: about 180 instead of 1,000+ images per second
    on 2 cores). CNN Lab keeps every model it uses alive on purpose (the shipped
    model, each session's models, running jobs), so there is nothing to clear.
    """
    from streamlit.runtime.scriptrunner import script_runner

    if getattr(script_runner._clean_problem_modules, "_cnn_lab_keeps_keras", False):
        return

    def clean_problem_modules() -> None:
        """Streamlit's cleanup without the Keras part."""
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            pyplot.close("all")

    clean_problem_modules._cnn_lab_keeps_keras = True
    script_runner._clean_problem_modules = clean_problem_modules

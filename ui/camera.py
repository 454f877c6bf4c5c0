"""The webcam snapshot widget every page uses: ``st.camera_input`` asking the camera for a fixed resolution.

Without ``resolution``, Streamlit asks the camera for frames as wide as the widget, and the width it
first measures is not the final one: about a second after the widget appears (and after any change of
the window's width) it stops the camera and starts it again at the new width. While the new stream
starts, the video has no frame, and a click on Take Photo then takes nothing and runs nothing: the
video stays live, as if the click was lost. In Chromium the restart came 1.2 s after the camera first
showed frames, and left 0.1 s without any on an idle machine, much longer on a busy one. A fixed
resolution keeps the camera's settings whatever the width, so the stream is never restarted; 480
lines are more than any model here takes in (at most 128 px a side) and than face detection needs.
"""

from __future__ import annotations

import streamlit as st

RESOLUTION = "480p"


def camera_snapshot(label: str, key: str, **kwargs):
    """``st.camera_input(label, key=key, **kwargs)`` at a fixed resolution: the photo taken, or None."""
    return st.camera_input(label, key=key, resolution=RESOLUTION, **kwargs)

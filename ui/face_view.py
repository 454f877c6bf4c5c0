"""The face pipeline, stage by stage: detection, alignment, CNN input, activations, answer.

Shared by the Predict page's face mode and the Who am I? page. ``core.faces.enrol``
does the work; this draws it, one row per face, with the stages side by side.
"""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from core.faces.detect import DEFAULT_MARGIN, Face, FaceError, align_face, detect_faces, draw_faces
from core.faces.enrol import Recognition, recognise_faces
from core.faces.openset import OpenSetReference
from core.inspection.layers import activations, conv_layers
from core.visuals.figures import probability_bar
from core.visuals.tiles import feature_map_grid, image_tile

from .widget_memory import persist
from .widgets import picture

STAGE_PX = 128  # display side of the detection and alignment crops


def face_controls(key: str, margin: float | None = None) -> tuple[float, float]:
    """The unknown-face threshold and the crop margin sliders; returns (threshold, margin)."""
    cols = st.columns(2)
    threshold = cols[0].slider("Name a face only when the model is more than (%) sure", 0, 100, step=5,
                               key=persist(f"{key}_threshold", 60),
                               help="Below this, the face is called \"unknown\". Its probabilities always add up to "
                                    "100 % over the people the model knows, so a stranger can get a high one too: "
                                    "for a face model, the distance to the enrolled faces decides that.") / 100
    default_margin = int(round(100 * (DEFAULT_MARGIN if margin is None else margin)))
    chosen = cols[1].slider("Margin around the face (%)", 0, 60, step=5, key=persist(f"{key}_margin", default_margin),
                            help="How much of the hair, chin and background the crop keeps, as a share of the "
                                 "face's height. Crop faces as the model's training faces were cut: the enrolled "
                                 "faces with the value they were taken with, ORL photos with about 10 to 15%.") / 100
    return threshold, chosen


@st.cache_data(max_entries=16, show_spinner=False)
def _detected(_photo: np.ndarray, digest: str) -> list[Face]:
    # MTCNN takes about 0.3 s for a 640x480 photo: moving the threshold or the margin slider does not find the
    # faces again. The photo is keyed by a digest of all its bytes: Streamlit hashes a sample of big arrays only.
    return detect_faces(_photo)


def show_face_pipeline(model, class_names: list[str], photo: np.ndarray, key: str, threshold: float,
                       margin: float = DEFAULT_MARGIN, reference: OpenSetReference | None = None) -> list[Recognition]:
    """Find, align and identify every face of ``photo`` and draw each stage; returns the recognitions.

    With ``reference`` (a face model's card keeps one), a face far from every enrolled face of
    the person the CNN names is unknown, and the answer shows that distance and the threshold.
    """
    try:
        with st.spinner("Finding faces…"):
            photo = np.ascontiguousarray(photo)
            digest = hashlib.blake2b(photo.tobytes() + repr(photo.shape).encode(), digest_size=16).hexdigest()
            found = recognise_faces(model, class_names, photo, threshold=threshold, margin=margin,
                                    faces=_detected(photo, digest), reference=reference)
    except FaceError as exc:
        st.error(str(exc))
        return []
    if not found:
        st.warning("No face found in this picture. Faces smaller than 20 pixels, in profile or in the dark are "
                   "missed; try a photo where the face looks at the camera.", icon=":material/face:")
        return []
    labels = [f"{i}: {r.identity}" for i, r in enumerate(found, 1)]
    st.image(draw_faces(photo, [r.face for r in found], labels),
             caption=f"MTCNN found {len(found)} face{'s' if len(found) != 1 else ''}: boxes, eyes (red), nose and "
                     "mouth corners (blue)", width=min(640, photo.shape[1]))
    first_conv = next(iter(conv_layers(model)), None)
    for i, r in enumerate(found, 1):
        with st.container(border=True, key=f"{key}_face_{i}"):
            st.markdown(f"**Face {i}**")
            cols = st.columns(5)
            x, y, w, h = r.face.box
            cols[0].image(photo[y:y + h, x:x + w], width=STAGE_PX,
                          caption=f"1 · Detection: {r.face.confidence:.1%} a face, eyes tilted {r.face.eye_angle:+.0f}°")
            big = align_face(photo, r.face, (STAGE_PX, round(STAGE_PX * r.cnn_input.shape[1] / r.cnn_input.shape[0])),
                             margin)
            cols[1].image(_with_eye_line(big, r.face), width=STAGE_PX,
                          caption=f"2 · Alignment: turned {r.aligned.angle:+.0f}° so the eyes are level, "
                                  f"margin {margin:.0%}")
            ih, iw, ic = r.cnn_input.shape
            picture(cols[2], image_tile(r.cnn_input, max(1, STAGE_PX // ih)), width=STAGE_PX,
                    caption=f"3 · CNN input: {ih}×{iw} {'grey' if ic == 1 else 'colour'} pixels")
            if first_conv is not None:
                maps = activations(model, r.cnn_input)[first_conv.name]
                picture(cols[3], feature_map_grid(maps, tile_px=32, cols=int(np.ceil(np.sqrt(min(maps.shape[-1], 64))))), width=STAGE_PX,
                        caption=f"4 · Activations: the {maps.shape[-1]} maps of {first_conv.name}")
            with cols[4]:
                st.metric("5 · Answer", r.identity,
                          f"{r.confidence:.0%} sure" if r.known else f"closest: {r.best}, {r.confidence:.0%}",
                          delta_color="off", delta_arrow="off")
                for line in answer_reasons(r, threshold):
                    st.caption(line)
            st.plotly_chart(probability_bar(r.probabilities, class_names), key=f"{key}_face_probs_{i}")
    return found


def answer_reasons(r: Recognition, threshold: float) -> list[str]:
    """What decided a face's answer, in plain words: the distance to the enrolled faces and the softmax."""
    lines = []
    if r.distance is not None:
        verdict = r.best if r.near else "unknown"
        lines.append(f"Distance {r.distance:.2f}, threshold {r.distance_threshold:.2f}: {verdict}. "
                     + (f"Within the threshold of an enrolled photo of {r.best}."
                        if r.near else f"The CNN's best guess is {r.best}, but this face is further from every "
                                       f"enrolled photo of {r.best} than the threshold."))
    if not r.sure:
        lines.append(f"Not over the {threshold:.0%} threshold: the model's best guess, {r.best}, is not sure enough.")
    return lines


def _with_eye_line(aligned, face) -> np.ndarray:
    """The aligned crop with a thin line through both eyes: level once aligned."""
    import cv2

    canvas = aligned.image.copy()
    eyes = aligned.landmarks(face)
    (lx, ly), (rx, ry) = eyes["left_eye"], eyes["right_eye"]
    cv2.line(canvas, (round(lx), round(ly)), (round(rx), round(ry)), (255, 60, 60), 1)
    return canvas

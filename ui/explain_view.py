"""The "Why this class?" panel: four explanation maps for one image and one class."""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from core.inspection.explain import gradcam, occlusion, overlay, saliency, smoothgrad
from core.inspection.layers import is_big
from core.visuals.tiles import upscale

from .model_entry import ModelEntry
from .session import model_key
from .widget_memory import persist
from .widgets import picture

EXPLANATIONS = {
    "Grad-CAM": "Which regions of the last conv layer's maps pushed the score for this class up "
                "(gradient-weighted maps, coarse but class-specific).",
    "Saliency": "How much each pixel would change the score if it changed a little (the raw gradient).",
    "SmoothGrad": "The saliency averaged over 25 noisy copies of the image: less speckle, same idea.",
    "Occlusion": "How far the class probability drops when a grey square hides each region.",
}


OCCLUSION_FLOOR = 0.05  # a probability drop drawn at full strength at the least


@st.cache_data(max_entries=32, show_spinner="Computing Grad-CAM and the saliency map…")
def _maps(_model, key: str, image_bytes: bytes, shape: tuple, class_index: int) -> dict[str, np.ndarray]:
    image = np.frombuffer(image_bytes, np.float32).reshape(shape)
    cam, _ = gradcam(_model, image, class_index)
    return {"Grad-CAM": cam, "Saliency": saliency(_model, image, class_index)}


@st.cache_data(max_entries=32, show_spinner="Computing SmoothGrad (25 noisy copies) and occlusion (a grey square at "
                                             "each place)…")
def _slow_maps(_model, key: str, image_bytes: bytes, shape: tuple, class_index: int) -> dict[str, np.ndarray]:
    image = np.frombuffer(image_bytes, np.float32).reshape(shape)
    return {"SmoothGrad": smoothgrad(_model, image, class_index), "Occlusion": occlusion(_model, image, class_index)}


def show_explanations(entry: ModelEntry, image: np.ndarray, probs: np.ndarray, key: str) -> None:
    names = entry.class_names
    best = int(np.argmax(probs))
    st.subheader("Why this class?")
    st.caption("Each map highlights the pixels that mattered for one class. Red and yellow matter most. "
               "They explain the model, not the world: a model that looks at the background will show it.")
    image = np.ascontiguousarray(image, np.float32)
    # One widget per model and image, so a new photo starts on its own predicted class, not the last photo's choice.
    digest = hashlib.blake2b(image.tobytes() + model_key(entry).encode(), digest_size=8).hexdigest()
    class_index = st.selectbox("Explain the class", range(len(names)), key=persist(f"{key}_explain_class_{digest}", best),
                               format_func=lambda i: f"{names[i]} ({probs[i]:.1%})" + (" · predicted" if i == best else ""))
    maps = _maps(entry.model, model_key(entry), image.tobytes(), image.shape, int(class_index))
    # SmoothGrad and occlusion run the network 25 and about 50 times: seconds on a small model, half a minute on
    # ResNet50 or VGG16 on two cores, so a big network computes them when asked
    if not is_big(entry.model) or st.toggle("Also SmoothGrad and occlusion", key=persist(f"{key}_explain_slow", False),
                                            help="They run this big network about 75 times: tens of seconds."):
        maps.update(_slow_maps(entry.model, model_key(entry), image.tobytes(), image.shape, int(class_index)))
    factor = max(1, 160 // image.shape[0])
    cols = st.columns(len(maps))
    for col, (name, heat) in zip(cols, maps.items()):
        if name == "Occlusion":  # probability drops: scaled to the largest, rises shown as none
            drop = np.clip(heat, 0, None)
            # Drops under 5 points stay faint instead of being stretched to full red: hiding nothing mattered.
            shown = drop / max(float(drop.max()), OCCLUSION_FLOOR)
            note = f" Largest drop here: {float(heat.max()):.0%}."
        else:
            shown, note = heat, ""
        # a short image caption: a caption wider than the image stretches the image with it
        picture(col, upscale(overlay(image, shown), factor), caption=name)
        col.caption(EXPLANATIONS[name] + note)

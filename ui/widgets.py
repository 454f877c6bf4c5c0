"""Input widgets that return plain values to the pages."""

from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image

from core.data import Dataset
from core.data.images import SUPPORTED, ImageDecodeError, decode_image, encode_png, image_notes, to_model_input
from core.data.sample_photos import SAMPLE_PHOTOS, load_sample_photo

from .camera import camera_snapshot
from .model_entry import ModelEntry
from .widget_memory import persist


def image_input(entry: ModelEntry, key: str, sources: tuple[str, ...] = ("sample", "upload", "camera"),
                dataset: Dataset | None = None):
    """Let the user pick an image for ``entry``'s model.

    ``dataset`` holds the test images offered as samples: the ones the page shows the model with
    (``ui.dataset_fit.context_bar``); without it there are no samples.

    Returns:
        ``(image, caption, original)``: the model-ready float array, a caption,
        and the original picture (uint8 array) when it came from a file or camera;
        ``None`` while nothing usable is chosen. Bad files show an error here.
    """
    labels = {"sample": "Dataset sample", "photo": "Sample photo", "upload": "Upload a photo",
              "camera": "Webcam snapshot"}
    # An ImageNet network knows no dataset of the app's: it gets sample photos instead (core.data.sample_photos).
    imagenet = entry.card.dataset is not None and entry.card.dataset.name == "imagenet"
    sources = tuple("photo" if s == "sample" and imagenet else s for s in sources)
    available = [s for s in sources if s != "sample" or dataset is not None]
    if st.session_state.get(f"{key}_source") not in (None, *available):
        st.session_state[f"{key}_source"] = available[0]  # a source of the model used before (samples, photos)
    source = st.radio("Image source", available, format_func=labels.get, horizontal=True,
                      key=persist(f"{key}_source", available[0]))

    if source == "sample":
        n = len(dataset.x_test)
        cols = st.columns([4, 1])
        cols[1].button("Random", key=f"{key}_random", on_click=_pick_random, args=(f"{key}_index", n))
        index = cols[0].slider("Test image", 0, n - 1, key=persist(f"{key}_index", 0))
        label = entry.class_names[int(dataset.y_test[index])]
        return dataset.x_test[index], f"Test image {index} of {dataset.title} · true class: {label}", None

    if source == "photo":
        name = st.selectbox("Photo", list(SAMPLE_PHOTOS), key=persist(f"{key}_photo", next(iter(SAMPLE_PHOTOS))),
                            format_func=lambda k: SAMPLE_PHOTOS[k].title)
        original = load_sample_photo(name)
        image = to_model_input(Image.fromarray(original), entry.input_shape, fit="crop")
        known = SAMPLE_PHOTOS[name].expected
        return image, (f"{SAMPLE_PHOTOS[name].title} · a right answer: {', '.join(known)}" if known else
                       f"{SAMPLE_PHOTOS[name].title} · ImageNet has no class for people"), original

    if source == "upload":
        # No type= filter: Streamlit would refuse other names with its own error box;
        # decode_image gives every bad file a clear message instead.
        uploaded = st.file_uploader("Photo", key=f"{key}_upload", help=f"{SUPPORTED} files.")
        data = uploaded.getvalue() if uploaded is not None else None
        name = uploaded.name if uploaded is not None else ""
    else:
        shot = camera_snapshot("Take a snapshot", key=f"{key}_camera")
        data = shot.getvalue() if shot is not None else None
        name = "webcam snapshot"
    if data is None:
        st.info("Choose a picture to continue.")
        return None

    fit_labels = {"crop": "Crop the centre", "pad": "Fit with borders", "stretch": "Stretch"}
    cols = st.columns(2)
    fit = cols[0].radio("Fit to the model's input", list(fit_labels), format_func=fit_labels.get,
                        key=persist(f"{key}_fit", "crop"))
    invert = cols[1].checkbox("Invert brightness", key=persist(f"{key}_invert", False),
                              help="MNIST-style models expect a light drawing on a dark background.")
    try:
        picture = decode_image(data)
        image = to_model_input(picture, entry.input_shape, fit=fit, invert=invert)
    except ImageDecodeError as exc:
        st.error(f"Could not use {name or 'this file'}: {exc}")
        return None
    for note in image_notes(picture):
        st.caption(f":material/info: {note}")
    preview = np.asarray(picture.convert("RGB"))
    return image, f"{name} ({picture.width}×{picture.height})", preview


def _pick_random(slider_key: str, n: int) -> None:
    st.session_state[slider_key] = int(np.random.default_rng().integers(n))


def picture(target, image, **kwargs):
    """Show a picture the app drew (feature maps, filters, enlarged tiles) pixel for pixel, as a PNG.

    ``target`` is ``st`` or a column. Left to choose, ``st.image`` sends an RGB array, or PNG bytes
    without transparency, as a JPEG of quality 90: that smears the sharp edges of enlarged pixels,
    and costs a decode and an encode per picture on every rerun (40 of the Activations page's
    200 ms). Photos keep ``st.image``'s JPEG.
    """
    data = image if isinstance(image, bytes) else encode_png(np.asarray(image), compress_level=1)
    return target.image(data, output_format="PNG", **kwargs)

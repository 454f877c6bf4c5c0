"""Predict: classify an uploaded photo or a webcam snapshot, or each face in it (face mode)."""

import numpy as np
import streamlit as st

from core.data.images import to_uint8
from core.inspection.novelty import assess
from core.inspection.predict import class_probabilities, top_k
from core.visuals.figures import probability_bar
from core.visuals.tiles import image_tile
from ui.dataset_fit import context_bar
from ui.explain_view import show_explanations
from ui.face_view import face_controls, show_face_pipeline
from ui.novelty_view import calibration_for, show_novelty, show_softmax_meaning
from ui.photo_gallery import note_input, remember, show_back_button, show_gallery, shown_item
from ui.router import require_router
from ui.session import current_model, model_key
from ui.widget_memory import persist
from ui.widgets import image_input, picture
from ui.text import plain

require_router(__file__)

entry = current_model()
st.title("Predict")
st.caption("The model only ever sees a small square of pixels: your picture is cropped, resized and converted to "
           f"{entry.input_shape[0]}×{entry.input_shape[1]} {'colour' if entry.input_shape[2] == 3 else 'grey'} pixels first. "
           "Its last layer, the softmax, turns the scores into probabilities that add up to 100%.")
dataset = context_bar(entry, key="pred_ctx")
names = entry.class_names
if len(names) > 40:  # ImageNet's 1,000: a few, and the whole list folded away
    with st.expander(f"Classes: {', '.join(plain(c) for c in names[:8])} and {len(names) - 8:,} more"):
        st.markdown(", ".join(plain(c) for c in names))
else:
    st.markdown(f"Classes: {', '.join(plain(c) for c in names)}")

face_mode = st.toggle("Face mode", key=persist(f"pred_face_mode_{entry.id}", entry.card.is_face_model),
                      help="Find every face in the picture, level and cut it out, and identify each one, "
                           "instead of classifying the whole picture.")
picked = image_input(entry, key="pred", sources=("upload", "camera", "sample"), dataset=dataset)

if face_mode:
    if picked is None:
        st.stop()
    image, caption, original = picked
    st.caption("Face mode: detection (MTCNN), alignment, the CNN's input, the first layer's activations and the "
               "answer, for each face in the picture.")
    threshold, margin = face_controls("pred_face", margin=entry.card.face_margin)
    photo = original if original is not None else to_uint8(image)
    show_face_pipeline(entry.model, entry.class_names, photo, key="pred_face", threshold=threshold, margin=margin,
                       reference=entry.card.face_reference)
    st.stop()

gallery_id = model_key(entry)
if picked is not None:
    note_input(picked[0], gallery_id)
again = shown_item(gallery_id)
if again is not None:
    image, caption, original = again.image, again.caption, None
    st.info(f"Showing a picture from the gallery again: {again.caption}.", icon=":material/photo_library:")
    show_back_button()
elif picked is None:
    show_gallery(gallery_id)
    st.stop()
else:
    image, caption, original = picked

probs = class_probabilities(entry.model, image)
best = int(np.argmax(probs))
calibration = calibration_for(entry, dataset)
report = assess(entry.model, image, probs, calibration.values) if calibration is not None else None
verdict = "not checked" if report is None else "unlike its data" if report.novel else "like its data"
remember(gallery_id, image, caption, original, entry.class_names[best], float(probs[best]), verdict)

c1, c2, c3 = st.columns([1, 1, 2])
if again is not None:
    c1.image(again.preview, caption=caption)
elif original is not None:
    c1.image(original, caption=caption)
picture(c2, image_tile(image, max(1, 160 // image.shape[0])), caption="What the model sees")
with c3:
    st.metric("Prediction", entry.class_names[best], f"softmax {probs[best]:.1%}", delta_color="off", delta_arrow="off")
    k = min(3, len(entry.class_names))
    st.caption(f"Top {k}: " + " · ".join(f"{plain(name)} {p:.1%}" for name, p in top_k(probs, entry.class_names, k)))
    st.plotly_chart(probability_bar(probs, entry.class_names), key="pred_probs")

show_softmax_meaning(entry)
show_novelty(entry, report, calibration)
show_gallery(gallery_id)
show_explanations(entry, image, probs, key="pred")

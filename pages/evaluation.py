"""Evaluation: where the model is right and wrong on the test split."""

import numpy as np
import streamlit as st

from core.inspection.evaluation import evaluate
from core.inspection.explain import gradcam, overlay
from core.visuals.figures import confusion_matrix, per_class_accuracy_bars
from core.visuals.tiles import grid, image_grid, upscale
from ui.dataset_fit import require_dataset
from ui.router import require_router
from ui.session import current_model, dataset_key, model_key
from ui.widget_memory import persist
from ui.widgets import picture
from ui.text import plain

require_router(__file__)

entry = current_model()
st.title("Evaluation")
st.caption("Accuracy is one number; the confusion matrix shows which classes the model mixes up. Each row is "
           "the true class, each column what the model answered: the diagonal is right, everything else a "
           "mistake. Looking at the mistakes themselves often shows why they happen.")

dataset = require_dataset(entry, key="eval")


@st.cache_data(max_entries=8, show_spinner="Scoring every test image…")
def cached_evaluation(_model, model_key: str, _dataset, dataset_key: str):
    return evaluate(_model, _dataset)


@st.cache_data(max_entries=32, show_spinner=False)
def cached_cams(_model, model_key: str, _dataset, dataset_key: str, indices: tuple, class_index: int) -> list:
    # Grad-CAM of up to 8 images: about 0.4 s, on every run of this page before it was kept.
    return [overlay(_dataset.x_test[i], gradcam(_model, _dataset.x_test[i], class_index)[0]) for i in indices]


ev = cached_evaluation(entry.model, model_key(entry), dataset, dataset_key(dataset))
names = entry.class_names
m = st.columns(3)
m[0].metric("Test accuracy", f"{ev.accuracy:.1%}")
m[1].metric("Test images", f"{len(ev.y_true):,}")
m[2].metric("Mistakes", f"{int((ev.y_true != ev.y_pred).sum()):,}")

left, right = st.columns([3, 2])
with left:
    st.subheader("Confusion matrix")
    st.plotly_chart(confusion_matrix(ev.cm, names), key="eval_cm")
with right:
    st.subheader("Accuracy per class")
    st.plotly_chart(per_class_accuracy_bars(ev.per_class_accuracy, names), key="eval_per_class")

st.subheader("Look at one cell")
off = ev.cm.copy()
np.fill_diagonal(off, -1)
worst = np.unravel_index(int(np.argmax(off)), off.shape)
c1, c2 = st.columns(2)
# The cell starts on the most frequent mistake of this model; a cell picked by hand is kept per model.
true_c = c1.selectbox("True class", range(len(names)), format_func=names.__getitem__,
                      key=persist(f"eval_true_{entry.id}", int(worst[0])))
pred_c = c2.selectbox("Predicted as", range(len(names)), format_func=names.__getitem__,
                      key=persist(f"eval_pred_{entry.id}", int(worst[1])))
idx = ev.cell(true_c, pred_c)
if len(idx) == 0:
    st.caption(f"No test image of {plain(names[true_c])} was predicted as {plain(names[pred_c])}.")
else:
    shown = idx[:8]
    picture(st, image_grid(dataset.x_test[shown], cols=8, tile_px=72),
            caption=f"{len(idx)} images of {names[true_c]} predicted as {names[pred_c]}"
                    + (f" (first {len(shown)})" if len(idx) > len(shown) else "") + "; confidence: "
                    + ", ".join(f"{ev.probs[i, pred_c]:.0%}" for i in shown))
    cams = cached_cams(entry.model, model_key(entry), dataset, dataset_key(dataset), tuple(int(i) for i in shown),
                       int(pred_c))
    picture(st, grid(np.stack([upscale(c, int(np.ceil(72 / c.shape[0]))) for c in cams]), cols=8, pad=2),
            caption=f"Grad-CAM for “{names[pred_c]}”: where the model saw that class")

st.subheader("Most confident mistakes")
st.caption("Wrong answers given with high confidence: often mislabelled or truly ambiguous images.")
mistakes = ev.mistakes(8)
if not mistakes:
    st.success("No mistakes on the test split.")
else:
    cols = st.columns(len(mistakes))
    for col, mk in zip(cols, mistakes):
        picture(col, image_grid(dataset.x_test[[mk["index"]]], tile_px=96),
                caption=f"{names[mk['true']]} → {names[mk['predicted']]} ({mk['confidence']:.0%})")

"""Evaluation: where the model is right and wrong on the test split."""

import numpy as np
import pandas as pd
import streamlit as st

from core.inspection.evaluation import evaluate, evaluate_network
from core.inspection.explain import gradcam, overlay
from core.inspection.imagenet_labels import image_limit, map_labels, mapping_rows, no_match_message
from core.models.imagenet import imagenet_class_names
from core.visuals.figures import confusion_matrix, per_class_accuracy_bars
from core.visuals.tiles import grid, image_grid, upscale
from ui.dataset_fit import NETWORK_USE, is_imagenet, require_dataset
from ui.networks import network_key
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

dataset = require_dataset(entry, key="eval", network_use=NETWORK_USE)


@st.cache_data(max_entries=4, show_spinner="Scoring the images at 224×224…")
def cached_network_evaluation(_model, model_key: str, _dataset, dataset_key: str, mapping: tuple, limit: int):
    return evaluate_network(_model, _dataset, {name: list(ix) for name, ix in mapping}, limit=limit)


def network_evaluation():
    """An ImageNet network on the chosen dataset: its classes that have an ImageNet name, the others left out."""
    mapping = map_labels(dataset.class_names)
    st.subheader("Your classes as ImageNet's")
    st.caption("The network answers with ImageNet's 1,000 classes. Each of your classes is matched to them by name "
               "(cat: the 5 kinds of house cat, dog: the 118 dog breeds); it scores the sum of their probabilities, "
               "and the answer is the best of your classes that matched, so the network only chooses among them.")
    st.dataframe(pd.DataFrame(mapping_rows(mapping)), hide_index=True)
    if not any(mapping.values()):
        st.warning(no_match_message([plain(name, 60) for name in dataset.class_names]))
        return
    net = cached_network_evaluation(entry.model, model_key(entry), dataset, dataset_key(dataset),
                                    tuple((name, tuple(ix)) for name, ix in mapping.items()),
                                    image_limit(network_key(entry.id)))
    ev, names = net.evaluation, net.evaluation.class_names
    if not len(ev.y_true):
        st.info("The test split has no image of the classes that matched: nothing to score.")
        return
    left_out = [name for name, ix in mapping.items() if not ix]
    m = st.columns(3)
    m[0].metric("Accuracy over the matched classes", f"{ev.accuracy:.1%}")
    m[1].metric("Images scored", f"{len(ev.y_true):,}")
    m[2].metric("Mistakes", f"{int((ev.y_true != ev.y_pred).sum()):,}")
    capped = net.available > len(ev.y_true)
    st.caption((f"{len(ev.y_true):,} of the {net.available:,} test images of the matched classes, spread evenly over "
                "them: each is enlarged to 224×224 for the network, which takes time. " if capped
                else "Every test image of the matched classes. ")
               + (f"Left out, with no ImageNet class: {', '.join(plain(n) for n in left_out)}." if left_out else ""))
    left, right = st.columns([3, 2])
    with left:
        st.subheader("Confusion matrix")
        st.plotly_chart(confusion_matrix(ev.cm, names), key="eval_net_cm")
    with right:
        st.subheader("Accuracy per class")
        st.plotly_chart(per_class_accuracy_bars(ev.per_class_accuracy, names), key="eval_net_per_class")
    mistakes = ev.mistakes(8)
    if mistakes:
        st.subheader("Most confident mistakes")
        imagenet = imagenet_class_names()
        for col, mk in zip(st.columns(len(mistakes)), mistakes):
            picture(col, image_grid(dataset.x_test[[int(net.indices[mk["index"]])]], tile_px=96),
                    caption=f"{names[mk['true']]} → {names[mk['predicted']]} ({mk['confidence']:.0%}); ImageNet's "
                            f"best: {imagenet[int(net.top_imagenet[mk['index']])]}")


if is_imagenet(entry):
    network_evaluation()
    st.stop()


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

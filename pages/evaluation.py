"""Evaluation: where the model is right and wrong on the test split."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core.evaluation import evaluate
from core.explain import gradcam, overlay
from core.tiles import grid, image_grid, upscale
from ui import state
from ui.widgets import picture

state.require_router(__file__)

entry = state.current_model()
st.title("Evaluation")
st.caption("Accuracy is one number; the confusion matrix shows which classes the model mixes up. Each row is "
           "the true class, each column what the model answered: the diagonal is right, everything else a "
           "mistake. Looking at the mistakes themselves often shows why they happen.")

dataset = state.require_dataset(entry)


@st.cache_data(max_entries=8, show_spinner="Scoring every test image…")
def cached_evaluation(_model, model_key: str, _dataset, dataset_key: str):
    return evaluate(_model, _dataset)


ev = cached_evaluation(entry.model, state.model_key(entry), dataset,
                       repr((dataset.name, dataset.options, len(dataset.x_test))))
names = entry.class_names
m = st.columns(3)
m[0].metric("Test accuracy", f"{ev.accuracy:.1%}")
m[1].metric("Test images", f"{len(ev.y_true):,}")
m[2].metric("Mistakes", f"{int((ev.y_true != ev.y_pred).sum()):,}")

left, right = st.columns([3, 2])
with left:
    st.subheader("Confusion matrix")
    fig = go.Figure(go.Heatmap(z=ev.cm, x=names, y=names, colorscale="Blues", text=ev.cm, texttemplate="%{text}",
                               hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>"))
    fig.update_layout(xaxis_title="predicted", yaxis_title="true", height=120 + 36 * len(names),
                      margin=dict(l=10, r=10, t=10, b=40))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category")
    st.plotly_chart(fig, key="eval_cm")
with right:
    st.subheader("Accuracy per class")
    acc = np.nan_to_num(ev.per_class_accuracy)
    bars = go.Figure(go.Bar(x=acc, y=names, orientation="h", text=[f"{a:.0%}" for a in acc], textposition="auto"))
    bars.update_layout(xaxis=dict(range=[0, 1], tickformat=".0%"), height=120 + 28 * len(names),
                       margin=dict(l=10, r=10, t=10, b=40))
    bars.update_yaxes(autorange="reversed", type="category")
    st.plotly_chart(bars, key="eval_per_class")

st.subheader("Look at one cell")
off = ev.cm.copy()
np.fill_diagonal(off, -1)
worst = np.unravel_index(int(np.argmax(off)), off.shape)
c1, c2 = st.columns(2)
true_c = c1.selectbox("True class", range(len(names)), index=int(worst[0]), format_func=names.__getitem__, key="eval_true")
pred_c = c2.selectbox("Predicted as", range(len(names)), index=int(worst[1]), format_func=names.__getitem__, key="eval_pred")
idx = ev.cell(true_c, pred_c)
if len(idx) == 0:
    st.caption(f"No test image of {names[true_c]} was predicted as {names[pred_c]}.")
else:
    shown = idx[:8]
    picture(st, image_grid(dataset.x_test[shown], cols=8, tile_px=72),
            caption=f"{len(idx)} images of {names[true_c]} predicted as {names[pred_c]}"
                    + (f" (first {len(shown)})" if len(idx) > len(shown) else "") + "; confidence: "
                    + ", ".join(f"{ev.probs[i, pred_c]:.0%}" for i in shown))
    cams = [overlay(dataset.x_test[i], gradcam(entry.model, dataset.x_test[i], pred_c)[0]) for i in shown]
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

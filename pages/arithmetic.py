"""Convolution and pooling, step by step: one output value computed by hand and checked against the layer."""

import numpy as np
import streamlit as st

from core.inspection.arithmetic import conv_step, pool_step
from core.inspection.layers import activations, conv_layers
from core.visuals.figures import number_grid
from ui.router import require_router
from ui.session import current_model
from ui.widget_memory import persist
from ui.widgets import image_input

require_router(__file__)


SAME = ":green[:material/check_circle: the same]"
DIFFERENT = ":red[:material/cancel: different]"

entry = current_model()
st.title("Convolution and pooling, step by step")
st.caption("Every number in a feature map comes from a small sum. Pick one output value: see the patch of the "
           "input it looks at, the filter's weights, their products, and how the sum plus the bias becomes the "
           "value the layer really outputs.")

picked = image_input(entry, key="arith")
if picked is None:
    st.stop()
image = picked[0]
acts = activations(entry.model, image)



def pick_position(layer_label: str, channel_label: str, names: list[str], key: str) -> tuple[str, int, int, int]:
    """Widgets for a layer and one output value in it: (layer name, channel, row, column)."""
    c = st.columns(4)
    name = c[0].selectbox(layer_label, names, key=persist(f"{key}_layer", names[0]))
    h, w, ch = acts[name].shape
    picks = [c[1].number_input(channel_label, 0, ch - 1, key=persist(f"{key}_channel", 0)),
             c[2].number_input("Row", 0, h - 1, key=persist(f"{key}_row", 0)),
             c[3].number_input("Column", 0, w - 1, key=persist(f"{key}_col", 0))]
    # a value kept from a larger layer is clipped to this one
    return name, *(min(int(v), limit - 1) for v, limit in zip(picks, (ch, h, w)))


st.header("Convolution")
convs = [layer.name for layer in conv_layers(entry.model)]
if not convs:
    st.info("This model has no convolution layer.")
else:
    layer_name, channel, row, col = pick_position("Conv layer", "Output channel", convs, "arith_conv")
    step = conv_step(entry.model, layer_name, image, channel, row, col)
    n_in = step["patch"].shape[-1]
    shown_in = 0
    if n_in > 1:
        shown_in = st.slider("Input channel shown", 0, n_in - 1, key=persist("arith_conv_in", 0),
                             help=f"The filter has a {step['kernel'].shape[0]}×{step['kernel'].shape[1]} slice for each "
                                  f"of the {n_in} input channels; all of them are summed.")
    a, b, d = st.columns(3)
    patch = np.where(step["valid"][..., None], step["patch"], np.nan)  # padding cells read "pad"
    a.plotly_chart(number_grid(patch[..., shown_in], f"input patch (channel {shown_in})"), key="arith_patch")
    b.plotly_chart(number_grid(step["kernel"][..., shown_in], f"filter {channel} weights"), key="arith_kernel")
    d.plotly_chart(number_grid(step["products"][..., shown_in], "patch × weights"), key="arith_products")
    matches = np.isclose(step["postactivation"], step["layer_output"], rtol=1e-4, atol=1e-5)
    st.markdown(
        f"Sum of all {step['products'].size} products ({n_in} input channel{'s' if n_in > 1 else ''}): "
        f"**{step['sum']:.4f}**  \nSum plus the bias {step['bias']:.4f}: pre-activation **{step['preactivation']:.4f}**  \n"
        f"{step['activation']}({step['preactivation']:.4f}) = **{step['postactivation']:.4f}**  \n"
        f"The layer's own output at row {row}, column {col}, channel {channel}: **{step['layer_output']:.4f}** "
        + (SAME if matches else DIFFERENT))

st.header("Pooling")
pools = [layer.name for layer in entry.model.layers if "Pooling2D" in type(layer).__name__]
if not pools:
    st.info("This model has no pooling layer.")
else:
    pool_name, p_channel, p_row, p_col = pick_position("Pooling layer", "Channel", pools, "arith_pool")
    pstep = pool_step(entry.model, pool_name, image, p_channel, p_row, p_col)
    a, b = st.columns(2)
    taken = tuple(pstep["argmax"]) if pstep["kind"] == "max" else None
    a.plotly_chart(number_grid(pstep["window"], "input window", highlight=taken, scale="Viridis"), key="arith_window")
    if pstep["kind"] == "max":
        how = f"the largest value, {pstep['value']:.4f}, outlined"
    else:
        how = f"the average of its {pstep['count']} values, {pstep['value']:.4f}"
    b.markdown(f"**{pool_name}** keeps {how}.  \nThe layer's own output at row {p_row}, column {p_col}: "
               f"**{pstep['layer_output']:.4f}** "
               + (SAME if np.isclose(pstep["value"], pstep["layer_output"], rtol=1e-5, atol=1e-6) else DIFFERENT))
    b.caption("Pooling shrinks each map: a window slides with a stride, and each step keeps one number. Max pooling "
              "keeps the strongest response, so the feature survives small shifts; average pooling smooths.")

"""Convolution and pooling, step by step: one output value computed by hand and checked against the layer."""

import hashlib
from functools import partial

import numpy as np
import streamlit as st

from core.inspection.arithmetic import busiest_position, conv_step, pool_step, window_maps, window_spec
from core.inspection.layers import conv_layers
from core.visuals.sliding_window import cell_size, map_picture
from core.visuals.value_grid import value_grid
from ui.clickable_map import clickable_map
from ui.dataset_fit import context_bar
from ui.router import require_router
from ui.session import current_model, model_key
from ui.widget_memory import ephemeral, persist, set_widget_values
from ui.widgets import image_input
from ui.text import plain

require_router(__file__)


SAME = ":green[:material/check_circle: the same]"
DIFFERENT = ":red[:material/cancel: different]"

entry = current_model()
st.title("Convolution and pooling, step by step")
st.caption("Every number in a feature map comes from a small sum. Pick one output value, or click on the input to "
           "move the window there: see the patch of the input it looks at, the filter's weights, their products, "
           "and how the sum plus the bias becomes the value the layer really outputs.")
dataset = context_bar(entry, key="arith_ctx")

picked = image_input(entry, key="arith", dataset=dataset)
if picked is None:
    st.stop()
image = picked[0]
image_id = (model_key(entry), hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest())


# Each is a TensorFlow call, the same at every move of the window or click elsewhere on the page.
@st.cache_data(max_entries=32, show_spinner=False)
def cached_maps(_model, image_id: tuple, layer_name: str, _image) -> tuple[np.ndarray, np.ndarray]:
    return window_maps(_model, layer_name, _image)


@st.cache_data(max_entries=64, show_spinner=False)
def cached_step(_model, image_id: tuple, layer_name: str, channel: int, row: int, col: int, _image, pool: bool) -> dict:
    return (pool_step if pool else conv_step)(_model, layer_name, _image, channel, row, col)


def _clicked(key: str, spec, on_input: bool, y: int, x: int) -> None:
    """Move the window to a clicked cell: of the input (the window centred there) or of the output."""
    if on_input:
        row, col = spec.position_at(y, x)
    else:
        row, col = (int(np.clip(v, 0, limit - 1)) for v, limit in zip((y, x), spec.out_shape[:2]))
    set_widget_values({f"{key}_row": row, f"{key}_col": col})


def pick_position(layer_label: str, channel_label: str, names: list[str], key: str, per_channel: bool = False):
    """Widgets for a layer and one output value in it: (layer name, channel, row, column, spec, input, output)."""
    c = st.columns(4)
    name = c[0].selectbox(layer_label, names, key=persist(f"{key}_layer", names[0]))
    spec = window_spec(entry.model, name)
    layer_in, layer_out = cached_maps(entry.model, image_id, name, image)
    h, w, ch = spec.out_shape
    # Each layer, and each new image, starts where the input has content, not on the padding in a corner;
    # a pooling window reads one channel, so there it starts on that channel's content.
    reads = slice(None)
    if per_channel:
        kept = min(int(st.session_state.get(f"{key}_channel") or 0), ch - 1)
        reads = slice(kept, kept + 1)
    placed = (name, image_id, reads.start)
    if st.session_state.get(f"{key}_placed") != placed:
        st.session_state[f"{key}_placed"] = placed
        set_widget_values(dict(zip((f"{key}_row", f"{key}_col"), busiest_position(layer_in[..., reads], spec))))
    picks = [c[1].number_input(channel_label, 0, ch - 1, key=persist(f"{key}_channel", 0)),
             c[2].number_input("Row", 0, h - 1, key=persist(f"{key}_row", 0)),
             c[3].number_input("Column", 0, w - 1, key=persist(f"{key}_col", 0))]
    # a value kept from a larger layer is clipped to this one
    channel, row, col = (min(int(v), limit - 1) for v, limit in zip(picks, (ch, h, w)))
    return name, channel, row, col, spec, layer_in, layer_out


def sliding_window(column, key: str, spec, shown: np.ndarray, row: int, col: int, title: str, cell_px: int) -> None:
    """The input map with the window at (row, col), padding drawn; a click moves the window."""
    (kh, kw), (pt, pl) = spec.size, spec.pad_before
    in_h, in_w = spec.in_shape[:2]
    # the padding that windows reach: 'same' may add a row or column more after than before
    pb = max(0, (spec.out_shape[0] - 1) * spec.stride[0] - pt + kh - in_h)
    pr = max(0, (spec.out_shape[1] - 1) * spec.stride[1] - pl + kw - in_w)
    top, left = spec.origin(row, col)
    pad = (pt, pb, pl, pr)
    clickable_map(column, map_picture(shown, cell_px, (top, left, kh, kw), pad), shown, pad, cell_px, title,
                  key=ephemeral(f"{key}_input_chart"), on_click=partial(_clicked, key, spec, True))


def output_map(column, key: str, spec, values: np.ndarray, row: int, col: int, title: str, cell_px: int) -> None:
    clickable_map(column, map_picture(values, cell_px, (row, col, 1, 1)), values, (0, 0, 0, 0), cell_px, title,
                  key=ephemeral(f"{key}_output_chart"), on_click=partial(_clicked, key, spec, False))


st.header("Convolution")
convs = [layer.name for layer in conv_layers(entry.model)]
if not convs:
    st.info("This model has no convolution layer.")
else:
    layer_name, channel, row, col, spec, layer_in, layer_out = pick_position(
        "Conv layer", "Output channel", convs, "arith_conv")
    step = cached_step(entry.model, image_id, layer_name, channel, row, col, image, pool=False)
    n_in = step["patch"].shape[-1]
    shown_in = 0
    if n_in > 1:
        shown_in = st.slider("Input channel shown", 0, n_in - 1, key=persist("arith_conv_in", 0),
                             help=f"The filter has a {step['kernel'].shape[0]}×{step['kernel'].shape[1]} slice for each "
                                  f"of the {n_in} input channels; all of them are summed.")
    reads_image = layer_in.shape == image.shape and np.array_equal(layer_in, image)
    cell_px = cell_size([spec.in_shape[:2]])
    left, right = st.columns([3, 2])
    shown = layer_in if reads_image and n_in == 3 else layer_in[..., shown_in]
    what = "the image" if reads_image else f"input channel {shown_in}"
    sliding_window(left, "arith_conv", spec, shown, row, col, f"{what}: the {spec.size[0]}×{spec.size[1]} window "
                   f"at row {row}, column {col}", cell_px)
    output_map(right, "arith_conv", spec, layer_out[..., channel], row, col, f"{layer_name}, channel {channel}",
               cell_px * spec.stride[0])
    right.caption(f"Stride {spec.stride[0]}×{spec.stride[1]}, padding '{step['padding']}'"
                  + (": the grey frame is the zeros it adds" if any(spec.pad_before) else "")
                  + ". Click on either map to move the window.")
    a, b, d = st.columns(3)
    patch = np.where(step["valid"][..., None], step["patch"], np.nan)  # padding cells read "pad"
    # tables of numbers, not charts: three more Plotly charts cost the browser more than the page's run
    a.html(value_grid(patch[..., shown_in], f"input patch (channel {shown_in})", numbers=True))
    b.html(value_grid(step["kernel"][..., shown_in], f"filter {channel} weights", numbers=True))
    d.html(value_grid(step["products"][..., shown_in], "patch × weights", numbers=True))
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
    pool_name, p_channel, p_row, p_col, pspec, pool_in, pool_out = pick_position(
        "Pooling layer", "Channel", pools, "arith_pool", per_channel=True)
    pstep = cached_step(entry.model, image_id, pool_name, p_channel, p_row, p_col, image, pool=True)
    # one cell size for both maps: the output is drawn at its true size beside its input
    cell_px = cell_size([pspec.in_shape[:2]])
    (in_h, in_w), (out_h, out_w) = pspec.in_shape[:2], pspec.out_shape[:2]
    a, b = st.columns([in_w + 2, out_w + 2])
    sliding_window(a, "arith_pool", pspec, pool_in[..., p_channel], p_row, p_col,
                   f"input, channel {p_channel}: {in_h}×{in_w}", cell_px)
    output_map(b, "arith_pool", pspec, pool_out[..., p_channel], p_row, p_col, f"{pool_name}: {out_h}×{out_w}", cell_px)
    a, b = st.columns(2)
    taken = tuple(pstep["argmax"]) if pstep["kind"] == "max" else None
    a.html(value_grid(pstep["window"], "input window", numbers=True, highlight=taken, scale="viridis"))
    if pstep["kind"] == "max":
        how = f"the largest value, {pstep['value']:.4f}, outlined"
    else:
        how = f"the average of its {pstep['count']} values, {pstep['value']:.4f}"
    b.markdown(f"**{plain(pool_name)}** keeps {how}.  \nThe layer's own output at row {p_row}, column {p_col}: "
               f"**{pstep['layer_output']:.4f}** "
               + (SAME if np.isclose(pstep["value"], pstep["layer_output"], rtol=1e-5, atol=1e-6) else DIFFERENT))
    b.caption("Pooling shrinks each map: a window slides with a stride, and each step keeps one number. Max pooling "
              "keeps the strongest response, so the feature survives small shifts; average pooling smooths. "
              "Both maps are drawn at the same scale, so you see how much smaller the output is.")

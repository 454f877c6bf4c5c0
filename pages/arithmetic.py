"""Convolution, pooling and batch norm, step by step: one output value computed by hand and checked against the layer.

Conv2D (a 1×1 one explained as pointwise), DepthwiseConv2D, max and average pooling and batch
normalization, the layers of small CNNs and of the ImageNet networks; the model's other layers
(Add, ReLU, global pooling, ...) are named as not explained here rather than offered.
"""

import hashlib
from functools import partial

import numpy as np
import streamlit as st

from core.inspection.arithmetic import busiest_position, conv_step, pool_step, window_maps, window_spec
from core.inspection.arithmetic_layers import batchnorm_maps, batchnorm_step, depthwise_step, describe, \
    input_channel_of, largest_terms, step_layers, unexplained_layers
from core.visuals.markdown_table import markdown_table
from core.visuals.sliding_window import cell_size, map_picture
from core.visuals.value_grid import value_grid
from ui.clickable_map import clickable_map
from ui.dataset_fit import context_bar
from ui.layer_picker import pick_layer
from ui.router import require_router
from ui.session import current_model, model_key
from ui.widget_memory import ephemeral, persist, set_widget_values
from ui.widgets import image_input
from ui.text import plain

require_router(__file__)


SAME = ":green[:material/check_circle: the same]"
DIFFERENT = ":red[:material/cancel: different]"
STEPS = {"conv": conv_step, "pointwise": conv_step, "depthwise": depthwise_step, "pool": pool_step,
         "batchnorm": batchnorm_step}
TERMS_SHOWN = 8  # of a pointwise sum over hundreds of channels, the largest products; the rest in one number

entry = current_model()
st.title("Convolution and pooling, step by step")
st.caption("Every number in a feature map comes from a small sum. Pick one output value, or click on the input to "
           "move the window there: see the patch of the input it looks at, the filter's weights, their products, "
           "and how the sum plus the bias becomes the value the layer really outputs.")
dataset = context_bar(entry, key="arith_ctx")
kinds = step_layers(entry.model)
labels = {name: f"{name} · {describe(entry.model.get_layer(name))}" for name in kinds}
others = unexplained_layers(entry.model)
if others:
    st.caption(":material/info: Explained here: convolutions (pointwise and depthwise too), pooling and batch "
               "normalization. Not step by step: this model's " + ", ".join(
                   f"{n} {plain(kind)}" for kind, n in others.most_common()) + " layers.")

picked = image_input(entry, key="arith", dataset=dataset)
if picked is None:
    st.stop()
image = picked[0]
image_id = (model_key(entry), hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest())


# Each is a TensorFlow call (of the sub-model up to the layer), the same at every move of the window or click
# elsewhere on the page.
@st.cache_data(max_entries=32, show_spinner=False)
def cached_maps(_model, image_id: tuple, layer_name: str, _image, batchnorm: bool = False):
    return (batchnorm_maps if batchnorm else window_maps)(_model, layer_name, _image)


@st.cache_data(max_entries=64, show_spinner=False)
def cached_step(_model, image_id: tuple, layer_name: str, kind: str, channel: int, row: int, col: int, _image) -> dict:
    return STEPS[kind](_model, layer_name, _image, channel, row, col)


def _clicked(key: str, spec, on_input: bool, y: int, x: int) -> None:
    """Move the window to a clicked cell: of the input (the window centred there) or of the output."""
    if on_input:
        row, col = spec.position_at(y, x)
    else:
        row, col = (int(np.clip(v, 0, limit - 1)) for v, limit in zip((y, x), spec.out_shape[:2]))
    set_widget_values({f"{key}_row": row, f"{key}_col": col})


def choose_layer(column, label: str, names: list[str], key: str) -> str:
    """The explainable layers, each named with what it is; a big network's grouped by block, with a search."""
    return pick_layer(label, entry.model, f"{key}_layer", only=names, format_func=labels.get, container=column)


def pick_position(layer_label: str, channel_label: str, names: list[str], key: str):
    """Widgets for a layer and one output value in it: (layer name, channel, row, column, spec, input, output)."""
    c = st.columns(4)
    name = choose_layer(c[0], layer_label, names, key)
    spec = window_spec(entry.model, name)
    layer_in, layer_out = cached_maps(entry.model, image_id, name, image)
    h, w, ch = spec.out_shape
    # Each layer, and each new image, starts where the input has content, not on the padding in a corner;
    # a pooling or depthwise window reads one channel, so there it starts on that channel's content.
    kept = min(int(st.session_state.get(f"{key}_channel") or 0), ch - 1)
    source = input_channel_of(entry.model, name, kept)
    reads = slice(None) if source is None else slice(source, source + 1)
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


def filter_numbers(step: dict, kind: str, channel: int, shown_in: int, n_in: int) -> str:
    """The patch, the weights and their products in numbers; returns the line that sums them."""
    if kind == "pointwise":
        terms = largest_terms(step, TERMS_SHOWN)
        st.markdown(f"**Pointwise (1×1) convolution: it mixes the channels at one pixel.** Output channel {channel} "
                    f"reads input pixel (row {step['top']}, column {step['left']}) only, in all its {n_in} channels: "
                    "the sum over the input channels of value × weight, plus the bias. No neighbouring pixel takes "
                    "part.")
        four = {"value": "{:.4f}", "weight": "{:.4f}", "value × weight": "{:+.4f}"}
        st.markdown(markdown_table({"input channel": [int(c) for c in terms["channels"]], "value": terms["values"],
                                    "weight": terms["weights"], "value × weight": terms["products"]},
                                   {h: f.format for h, f in four.items()}))
        st.caption(f"The {len(terms['channels'])} largest of the {n_in} products, by size"
                   + (f"; the other {terms['rest_count']} add up to {terms['rest_sum']:+.4f}" if terms["rest_count"]
                      else "") + f". Of all {n_in}: {terms['positive_count']} positive (together "
                   f"{terms['positive_sum']:+.4f}), {terms['negative_count']} negative ({terms['negative_sum']:+.4f}).")
        return f"Sum of all {n_in} products, one per input channel: **{step['sum']:.4f}**"
    depthwise = kind == "depthwise"
    patch = np.where(step["valid"] if depthwise else step["valid"][..., None], step["patch"], np.nan)  # "pad" cells
    pick = (lambda a: a) if depthwise else (lambda a: a[..., shown_in])
    a, b, d = st.columns(3)
    # tables of numbers, not charts: three more Plotly charts cost the browser more than the page's run
    a.html(value_grid(pick(patch), f"input patch (channel {shown_in})", numbers=True))
    b.html(value_grid(pick(step["kernel"]), f"{'depthwise ' if depthwise else ''}filter {channel} weights",
                      numbers=True))
    d.html(value_grid(pick(step["products"]), "patch × weights", numbers=True))
    if depthwise:
        m, (kh, kw) = step["depth_multiplier"], step["kernel"].shape
        st.caption(f"A depthwise convolution filters each channel alone: output channel {channel} reads input channel "
                   f"{shown_in} only, with its own {kh}×{kw} filter"
                   + (f" (one of that channel's {m} filters: depth multiplier {m})" if m > 1 else "")
                   + ". Nothing is summed across channels; the pointwise convolution after it mixes them.")
        return f"Sum of the {step['products'].size} products (input channel {shown_in} only): **{step['sum']:.4f}**"
    return (f"Sum of all {step['products'].size} products ({n_in} input channel{'s' if n_in > 1 else ''}): "
            f"**{step['sum']:.4f}**")


st.header("Convolution")
convs = [name for name, kind in kinds.items() if kind in ("conv", "pointwise", "depthwise")]
if not convs:
    st.info("This model has no convolution layer.")
else:
    layer_name, channel, row, col, spec, layer_in, layer_out = pick_position(
        "Conv layer", "Output channel", convs, "arith_conv")
    kind = kinds[layer_name]
    step = cached_step(entry.model, image_id, layer_name, kind, channel, row, col, image)
    n_in = layer_in.shape[-1]
    shown_in = step.get("in_channel", 0)  # a depthwise filter reads one input channel
    if kind != "depthwise" and n_in > 1:
        if st.session_state.get("arith_conv_in", 0) > n_in - 1:
            set_widget_values({"arith_conv_in": n_in - 1})  # kept from a layer with more input channels
        help_text = (f"The filter has one weight for each of the {n_in} input channels; all of them are summed."
                     if kind == "pointwise" else f"The filter has a {spec.size[0]}×{spec.size[1]} slice for each "
                                                 f"of the {n_in} input channels; all of them are summed.")
        shown_in = st.slider("Input channel shown", 0, n_in - 1, key=persist("arith_conv_in", 0), help=help_text)
    rgb = kind != "depthwise" and n_in == 3 and layer_in.shape == image.shape and np.array_equal(layer_in, image)
    cell_px = cell_size([spec.in_shape[:2]])
    left, right = st.columns([3, 2])
    shown = layer_in if rgb else layer_in[..., shown_in]
    what = "the image" if rgb else f"input channel {shown_in}"
    sliding_window(left, "arith_conv", spec, shown, row, col, f"{what}: the {spec.size[0]}×{spec.size[1]} window "
                   f"at row {row}, column {col}", cell_px)
    output_map(right, "arith_conv", spec, layer_out[..., channel], row, col, f"{layer_name}, channel {channel}",
               cell_px * spec.stride[0])
    right.caption(f"Stride {spec.stride[0]}×{spec.stride[1]}, padding '{step['padding']}'"
                  + (": the grey frame is the zeros it adds" if any(spec.pad_before) else "")
                  + ". Click on either map to move the window.")
    summed = filter_numbers(step, kind, channel, shown_in, n_in)
    matches = np.isclose(step["postactivation"], step["layer_output"], rtol=1e-4, atol=1e-5)
    st.markdown(
        f"{summed}  \nSum plus the bias {step['bias']:.4f}: pre-activation **{step['preactivation']:.4f}**  \n"
        f"{step['activation']}({step['preactivation']:.4f}) = **{step['postactivation']:.4f}**  \n"
        f"The layer's own output at row {row}, column {col}, channel {channel}: **{step['layer_output']:.4f}** "
        + (SAME if matches else DIFFERENT))

st.header("Pooling")
pools = [name for name, kind in kinds.items() if kind == "pool"]  # not global pooling: no window to show
if not pools:
    st.info("This model has no pooling layer.")
else:
    pool_name, p_channel, p_row, p_col, pspec, pool_in, pool_out = pick_position(
        "Pooling layer", "Channel", pools, "arith_pool")
    pstep = cached_step(entry.model, image_id, pool_name, "pool", p_channel, p_row, p_col, image)
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

norms = [name for name, kind in kinds.items() if kind == "batchnorm"]
if norms:  # most small CNNs have none: no section rather than an empty one
    st.header("Batch normalization")
    c = st.columns(4)
    bn_name = choose_layer(c[0], "Batch-norm layer", norms, "arith_bn")
    bn_in, bn_out = cached_maps(entry.model, image_id, bn_name, image, batchnorm=True)
    limits = dict(zip(("channel", "row", "col"), (bn_out.shape[2], *bn_out.shape[:2])))
    # a value kept from a larger layer is clipped to this one before its widget is drawn
    set_widget_values({f"arith_bn_{what}": limit - 1 for what, limit in limits.items()
                       if int(st.session_state.get(f"arith_bn_{what}") or 0) > limit - 1})
    b_channel, b_row, b_col = (
        int(c[i + 1].number_input(label, 0, limits[what] - 1, key=persist(f"arith_bn_{what}", 0)))
        for i, (label, what) in enumerate(zip(("Channel", "Row", "Column"), limits)))
    bstep = cached_step(entry.model, image_id, bn_name, "batchnorm", b_channel, b_row, b_col, image)
    left, right = st.columns(2)
    px = cell_size([bn_out.shape[:2]], target_px=220)
    for column, values, title in ((left, bn_in, "input"), (right, bn_out, "output")):
        column.image(map_picture(values[..., b_channel], px, (b_row, b_col, 1, 1)),
                     caption=f"{title}, channel {b_channel}: the value at row {b_row}, column {b_col} outlined")
    gamma = f"{bstep['gamma']:.4f}" if bstep["scale"] else "1 (scale=False: no γ)"
    beta = f"{bstep['beta']:.4f}" if bstep["center"] else "0 (center=False: no β)"
    st.markdown(
        f"Input x = **{bstep['x']:.4f}**  \nMoving mean μ = {bstep['mean']:.4f}, moving variance σ² = "
        f"{bstep['variance']:.4f}, ε = {bstep['epsilon']:g}  \nγ = {gamma}, β = {beta}  \n"
        f"y = γ · (x − μ) / √(σ² + ε) + β = {bstep['gamma']:.4f} · ({bstep['x']:.4f} − {bstep['mean']:.4f}) / "
        f"√({bstep['variance']:.4f} + {bstep['epsilon']:g}) + {bstep['beta']:.4f}  \n"
        f"= {bstep['gamma']:.4f} · ({bstep['x'] - bstep['mean']:.4f} / {bstep['std']:.4f}) + {bstep['beta']:.4f} "
        f"= {bstep['gamma']:.4f} · {bstep['normalized']:.4f} + "
        f"{bstep['beta']:.4f} = **{bstep['value']:.4f}**  \n"
        f"The layer's own output at row {b_row}, column {b_col}, channel {b_channel}: **{bstep['layer_output']:.4f}** "
        + (SAME if np.isclose(bstep["value"], bstep["layer_output"], rtol=1e-4, atol=1e-5) else DIFFERENT))
    st.caption(f"A trained network normalizes with the mean and variance it kept while training, not this image's: "
               f"every position of channel {b_channel}, in every image, gets the same scale and shift, "
               f"y = {bstep['slope']:.4f} · x {'+' if bstep['offset'] >= 0 else '−'} {abs(bstep['offset']):.4f}. "
               "So the two maps look alike"
               + (", light and dark swapped (the scale is negative)" if bstep["slope"] < 0 else "")
               + ": only their numbers differ.")

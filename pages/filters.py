"""Filters: the learned weights of every convolution layer, as pictures."""

import numpy as np
import streamlit as st

from core.inspection.featurevis import cached_maximize, top_activating
from core.inspection.filter_summary import strongest_first, summarise_filters
from core.inspection.layers import conv_filters, conv_layers, is_big
from core.visuals.filter_sheet import filter_sheet
from core.visuals.markdown_table import markdown_table
from core.visuals.tiles import feature_map_grid, grid, image_tile
from ui.dataset_fit import context_bar
from ui.evolution import show_evolution
from ui.layer_picker import pick_layer
from ui.router import require_router
from ui.session import current_model, dataset_key, model_key
from ui.transfer_view import transfer_note
from ui.widget_memory import persist
from ui.widgets import picture
from ui.text import plain

require_router(__file__)


@st.cache_data(max_entries=64, show_spinner=False)
def cached_top_activating(_model, model_key: str, _dataset, dataset_key: str, layer_name: str, filter_index: int,
                          n: int) -> list[dict]:
    # the filter's maps of 1,000 test images: 50 to 150 ms of the page's run, at every click before it was kept
    return top_activating(_model, layer_name, filter_index, _dataset.x_test[:n], k=9)


def _same_size(images: list, shape: tuple) -> list:
    """Nearest-neighbour resize of small RGB tiles to ``shape`` (height, width) for a tidy grid."""
    import cv2

    return [cv2.resize(im, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST) for im in images]


entry = current_model()
st.title("Filters")
st.caption("A filter is a small grid of weights the network learned. It slides over its input and responds "
           "strongly wherever the input looks like it. First-layer filters of an image model often become edge, "
           "colour and corner detectors; deeper filters combine the maps of the layer before.")
dataset = context_bar(entry, key="filt")  # None when no test images fit the model

layers = conv_layers(entry.model)
if not layers:
    st.warning(f"{plain(entry.name)} has no convolution layers to show.")
    st.stop()

names = [layer.name for layer in layers]
c1, c2 = st.columns([2, 1])
layer_name = pick_layer("Convolution layer", entry.model, key="filters_layer", only=names, container=c1,
                        format_func=lambda n: f"{n} ({names.index(n) + 1} of {len(names)})")
normalise = c2.radio("Scale", ["filter", "layer"], horizontal=True, key=persist("filters_norm", "filter"),
                     format_func={"filter": "per filter", "layer": "whole layer"}.get,
                     help="Per filter shows every pattern clearly; whole layer shows which filters have the largest weights.")
kernel, bias = conv_filters(entry.model, layer_name)
kh, kw, n_in, n_out = kernel.shape
rgb = n_in == 3
reads_image = names.index(layer_name) == 0 and n_in == entry.input_shape[-1]
summaries = summarise_filters(kernel, bias)

st.markdown(f"**{plain(layer_name)}**: {n_out} filters of {kh}×{kw}×{n_in} weights"
            + (" plus one bias each" if bias is not None else "") + f", {kernel.size + (0 if bias is None else bias.size):,} parameters.")
transfer_note(entry, layer_name)
c1, c2 = st.columns([2, 1])
order_by = c1.radio("Order", ["strength", "number"], horizontal=True, key=persist("filters_order", "strength"),
                    format_func={"strength": "strongest first", "number": "by number"}.get,
                    help="Strength is a filter's L2 norm, the size of all its weights together: the filters with "
                         "the largest weights shape the next layer most.")
counts = [n for n in (8, 16, 32) if n < n_out] + [n_out]
shown_key = persist("filters_shown", 16)
if st.session_state[shown_key] not in counts:  # a count kept from a layer with more or fewer filters
    st.session_state[shown_key] = min(counts, key=lambda n: abs(n - int(st.session_state[shown_key] or 0)))
n_shown = c2.select_slider("Filters shown", counts, key=shown_key) if len(counts) > 1 else n_out
order = strongest_first(summaries) if order_by == "strength" else list(range(n_out))
sheet = filter_sheet(kernel, order[:n_shown], normalise=normalise)
if rgb:
    st.caption("This layer sees the colour image, so each filter is drawn as a small colour picture, its number "
               "above it: bright where it wants that colour, dark where it wants its absence.")
else:
    what = "the grey image" if reads_image else f"the {n_in} maps of the layer before"
    st.caption(f"Each labelled block is one filter: its {kh}×{kw} weights for each input channel it reads ({what}"
               + (f"; the first {len(sheet.inputs)} of {n_in} drawn" if len(sheet.inputs) < n_in else "")
               + "). Red weights excite, blue weights inhibit, white is zero.")
picture(st, sheet.image, caption=f"{n_shown} of {n_out} filters, " + (
    "strongest first" if order_by == "strength" else "by number"))

channel_names = ((["red", "green", "blue"] if rgb else ["grey"]) if reads_image
                 else [f"map {i}" for i in range(n_in)])
st.markdown("**What each filter weighs**")
ranked = [summaries[i] for i in order]
summary = {
    "filter": order,
    "strength (L2 norm)": [s.norm for s in ranked],
    "weights": [("mixed" if s.sign == "mixed" else f"mostly {s.sign}") + f" ({s.positive_share:.0%} positive)"
                for s in ranked],
    "weighs most": [", ".join(f"{channel_names[c]} {share:.0%}" for c, share in s.top_inputs) for s in ranked],
    "bias": [s.bias for s in ranked],
}
if n_in == 1:
    del summary["weighs most"]
number = "{:.3f}".format
# Markdown tables, not st.dataframe: the data grid's code cost the page's first visit in a tab about 0.5 s
with st.container(height=min(60 + 36 * n_out, 400), border=False):
    st.markdown(markdown_table(summary, {"strength (L2 norm)": number, "bias": number}))
st.caption("Weighs most: the input channels holding the largest share of the filter's squared weights. "
           + ("In a deeper layer each input channel is a map of the layer before: a filter that weighs a few maps "
              "combines those features." if not reads_image else ""))

with st.expander("Per-filter statistics"):
    flat = kernel.reshape(-1, n_out)
    stats = {"filter": range(n_out), "mean": flat.mean(axis=0), "std": flat.std(axis=0), "min": flat.min(axis=0),
             "max": flat.max(axis=0), "L2 norm": np.linalg.norm(flat, axis=0),
             "bias": bias if bias is not None else np.zeros(n_out)}
    st.markdown(markdown_table(stats, {name: "{:.4f}".format for name in stats if name != "filter"}))

st.subheader("What does one filter look for?")
st.caption("Two ways to ask a filter what it wants to see. Left: start from grey noise and change the picture, "
           "step by step, in whatever direction makes this filter respond more (activation maximisation). "
           "Right: the test images that make it respond most, with the filter's map of each below.")
f1, f2 = st.columns([1, 3])
filter_index = min(int(f1.number_input("Filter", 0, n_out - 1, key=persist("filters_pick", 0))), n_out - 1)
# A deep layer of a big network costs a pass through most of it per step (0.4 s in ResNet50's last block on two
# cores): 20 steps instead of 60 keep the wait near ten seconds there
big = is_big(entry.model)
with st.spinner("Growing the picture this filter likes best" + (" (20 steps through this big network)…" if big else "…")):
    best = cached_maximize(entry.model, model_key(entry), layer_name, filter_index, **({"steps": 20} if big else {}))
picture(f1, image_tile(best, max(1, 128 // best.shape[0])), caption=f"{layer_name}, filter {filter_index}: "
        "what excites it most")
if dataset is None:
    f2.info("Choose a dataset this model fits on the Data page to see the test images that excite this filter.")
else:
    searched = dataset.x_test[:1000]
    top = cached_top_activating(entry.model, model_key(entry), dataset, dataset_key(dataset), layer_name, filter_index,
                                len(searched))
    tiles = [image_tile(dataset.x_test[t["index"]], max(1, 72 // dataset.input_shape[0])) for t in top]
    maps = _same_size([feature_map_grid(t["map"][..., None], "inferno", cols=1, tile_px=72) for t in top],
                      tiles[0].shape)
    picture(f2, grid(np.stack(tiles), cols=9, pad=3), caption=f"the {len(top)} test images it responds to most, of "
            + (f"all {len(searched):,} in the test split" if len(searched) == len(dataset.x_test)
               else f"the first {len(searched):,} of {len(dataset.x_test):,}"))
    picture(f2, grid(np.stack(maps), cols=9, pad=3),
            caption="its map on each: " + ", ".join(f"{entry.class_names[int(dataset.y_test[t['index']])]} {t['score']:.2f}"
                                                    for t in top))

if entry.evolution:
    st.subheader("Replay training")
    st.caption("These filters started as random noise. Slide through the epochs to watch them turn into "
               "detectors, and the feature maps of one test image sharpen with them.")
    show_evolution(entry.evolution, key="filters_evo", probe=entry.probe)

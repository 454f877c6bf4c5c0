"""Filters: the learned weights of every convolution layer, as pictures."""

import numpy as np
import pandas as pd
import streamlit as st

from core.inspection.featurevis import cached_maximize, top_activating
from core.inspection.layers import conv_filters, conv_layers
from core.visuals.tiles import feature_map_grid, filter_grid, grid, image_tile
from ui.dataset_fit import dataset_for
from ui.evolution import show_evolution
from ui.router import require_router
from ui.session import current_model, model_key
from ui.widget_memory import persist
from ui.widgets import picture

require_router(__file__)



def _same_size(images: list, shape: tuple) -> list:
    """Nearest-neighbour resize of small RGB tiles to ``shape`` (height, width) for a tidy grid."""
    import cv2

    return [cv2.resize(im, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST) for im in images]


entry = current_model()
st.title("Filters")
st.caption("A filter is a small grid of weights the network learned. It slides over its input and responds "
           "strongly wherever the input looks like it. First-layer filters of an image model often become edge, "
           "colour and corner detectors; deeper filters combine the maps of the layer before.")

layers = conv_layers(entry.model)
if not layers:
    st.warning(f"{entry.name} has no convolution layers to show.")
    st.stop()

names = [layer.name for layer in layers]
c1, c2 = st.columns([2, 1])
layer_name = c1.selectbox("Convolution layer", names, key=persist("filters_layer", names[0]),
                          format_func=lambda n: f"{n} ({names.index(n) + 1} of {len(names)})")
normalise = c2.radio("Scale", ["filter", "layer"], horizontal=True, key=persist("filters_norm", "filter"),
                     format_func={"filter": "per filter", "layer": "whole layer"}.get,
                     help="Per filter shows every pattern clearly; whole layer shows which filters have the largest weights.")
kernel, bias = conv_filters(entry.model, layer_name)
kh, kw, n_in, n_out = kernel.shape
rgb = n_in == 3

st.markdown(f"**{layer_name}**: {n_out} filters of {kh}×{kw}×{n_in} weights"
            + (" plus one bias each" if bias is not None else "") + f", {kernel.size + (0 if bias is None else bias.size):,} parameters.")
if rgb:
    st.caption("This layer sees the colour image, so each filter is drawn as a small colour picture: "
               "bright where it wants that colour, dark where it wants its absence.")
else:
    shown = min(n_in, 16)
    st.caption(f"Each row is one filter; each column is its weights for one input channel "
               f"({shown} of {n_in} shown). Red weights excite, blue weights inhibit, white is zero.")
picture(st, filter_grid(kernel, normalise=normalise))

with st.expander("Per-filter statistics"):
    flat = kernel.reshape(-1, n_out)
    stats = pd.DataFrame({
        "filter": np.arange(n_out),
        "mean": flat.mean(axis=0), "std": flat.std(axis=0),
        "min": flat.min(axis=0), "max": flat.max(axis=0),
        "L2 norm": np.linalg.norm(flat, axis=0),
        "bias": bias if bias is not None else np.zeros(n_out),
    })
    st.dataframe(stats, hide_index=True, key="filters_stats")

st.subheader("What does one filter look for?")
st.caption("Two ways to ask a filter what it wants to see. Left: start from grey noise and change the picture, "
           "step by step, in whatever direction makes this filter respond more (activation maximisation). "
           "Right: the test images that make it respond most, with the filter's map of each below.")
f1, f2 = st.columns([1, 3])
filter_index = min(int(f1.number_input("Filter", 0, n_out - 1, key=persist("filters_pick", 0))), n_out - 1)
with st.spinner("Growing the picture this filter likes best…"):
    best = cached_maximize(entry.model, model_key(entry), layer_name, filter_index)
picture(f1, image_tile(best, max(1, 128 // best.shape[0])), caption=f"{layer_name}, filter {filter_index}: "
        "what excites it most")
dataset = dataset_for(entry)
if dataset is None:
    f2.info("Choose a dataset this model fits on the Data page to see the test images that excite this filter.")
else:
    top = top_activating(entry.model, layer_name, filter_index, dataset.x_test[:1000], k=9)
    tiles = [image_tile(dataset.x_test[t["index"]], max(1, 72 // dataset.input_shape[0])) for t in top]
    maps = _same_size([feature_map_grid(t["map"][..., None], "inferno", cols=1, tile_px=72) for t in top],
                      tiles[0].shape)
    picture(f2, grid(np.stack(tiles), cols=9, pad=3), caption="the 9 test images (of the first 1,000) it responds to most")
    picture(f2, grid(np.stack(maps), cols=9, pad=3),
            caption="its map on each: " + ", ".join(f"{entry.class_names[int(dataset.y_test[t['index']])]} {t['score']:.2f}"
                                                    for t in top))

if entry.evolution:
    st.subheader("Replay training")
    st.caption("These filters started as random noise. Slide through the epochs to watch them turn into "
               "detectors, and the feature maps of one test image sharpen with them.")
    show_evolution(entry.evolution, key="filters_evo", probe=entry.probe)

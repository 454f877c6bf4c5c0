"""Filters: the learned weights of every convolution layer, as pictures."""

import numpy as np
import pandas as pd
import streamlit as st

from core.introspection import conv_filters, conv_layers
from core.tiles import filter_grid
from ui import state
from ui.evolution import show_evolution

state.require_router(__file__)

entry = state.current_model()
st.title("Filters")
st.caption("A filter is a small grid of weights the network learned. It slides over its input and responds "
           "strongly wherever the input looks like it. First-layer filters of an image model often become edge, "
           "colour and corner detectors; deeper filters combine the maps of the layer before.")

layers = conv_layers(entry.model)
if not layers:
    st.warning(f"{entry.metadata.get('name', entry.id)} has no convolution layers to show.")
    st.stop()

names = [layer.name for layer in layers]
c1, c2 = st.columns([2, 1])
layer_name = c1.selectbox("Convolution layer", names, key="filters_layer",
                          format_func=lambda n: f"{n} ({names.index(n) + 1} of {len(names)})")
normalise = c2.radio("Scale", ["filter", "layer"], horizontal=True, key="filters_norm",
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
st.image(filter_grid(kernel, normalise=normalise))

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

if entry.evolution:
    st.subheader("Replay training")
    st.caption("These filters started as random noise. Slide through the epochs to watch them turn into "
               "detectors, and the feature maps of one test image sharpen with them.")
    show_evolution(entry.evolution, key="filters_evo", probe=entry.probe)

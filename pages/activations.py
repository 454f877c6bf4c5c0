"""Activations: the feature maps every layer produces for one image."""

import numpy as np
import streamlit as st

from core.data.images import encode_png
from core.inspection.arithmetic import preactivation_maps
from core.inspection.layers import activations, layer_names, visual_layers
from core.visuals.tiles import COLORMAPS, feature_map_grid, image_tile
from core.visuals.value_grid import value_grid
from ui.dataset_fit import context_bar
from ui.evolution import show_evolution
from ui.layer_picker import pick_layer, pick_layers
from ui.router import require_router
from ui.session import current_model
from ui.widget_memory import persist
from ui.widgets import image_input, picture
from ui.text import plain

require_router(__file__)

entry = current_model()
st.title("Activations")
st.caption("Feed one image through the network and look at what every layer outputs. Each small picture is a "
           "feature map: bright where that channel's filter found its pattern. Pooling layers shrink the maps, "
           "keeping the strongest responses, so deeper layers see a coarser but more abstract picture.")
dataset = context_bar(entry, key="act_ctx")

picked = image_input(entry, key="act", dataset=dataset)
if picked is None:
    st.stop()
image, caption, _ = picked

c1, c2, c3 = st.columns(3)
cmap = c1.selectbox("Colour scale", list(COLORMAPS), key=persist("act_cmap", next(iter(COLORMAPS))))
normalise = c2.radio("Scale", ["channel", "layer"], horizontal=True, key=persist("act_norm", "channel"),
                     format_func={"channel": "per map", "layer": "whole layer"}.get)
max_channels = c3.select_slider("Maps per layer", [8, 16, 32, 64], key=persist("act_max", 32))

show_pre = st.toggle("Show each convolution before its activation too", key=persist("act_preact", False),
                     help="Conv layers apply their activation (e.g. ReLU) inside the layer; this shows the maps "
                          "just before it, side by side with the maps after it.")
all_maps = visual_layers(entry.model)
# A small model shows every layer (nothing to pick); a large one the layers picked, block by block
shown = set(pick_layers("Layers shown", entry.model, key="act_layers", only=[layer.name for layer in all_maps],
                        help="Each layer's maps are computed only when shown here."))
map_layers = [layer for layer in all_maps if layer.name in shown]
names = layer_names(entry.model)
output = names[-1]  # its softmax: the prediction, as core.inspection.predict reads it
# A pooling layer is drawn beside its input, the layer before it
inputs = {layer.name: names[names.index(layer.name) - 1] for layer in map_layers
          if "Pooling" in type(layer).__name__ and names.index(layer.name) > 0}
# Every layer: the extractor core.inspection.warm traced after training. A large network: only the layers shown,
# their pooling inputs and the softmax (all maps of ResNet50 for one 224×224 image take about 1 GB).
acts = activations(entry.model, image, None if len(map_layers) == len(all_maps) else
                   [*shown, *inputs.values(), output])
probs = acts[output]
best = int(np.argmax(probs))
left, right = st.columns([1, 2])
picture(left, image_tile(image, max(1, 160 // image.shape[0])), caption=caption)
left.markdown(f"Prediction: **{plain(entry.class_names[best])}** ({probs[best]:.1%})")

_grids: dict = {}


def grid_png(name: str, maps: np.ndarray, n: int) -> bytes:
    """One layer's maps as a PNG, drawn once per run (a pooling layer shows its input's grid again)."""
    key = name, min(n, maps.shape[-1])
    if key not in _grids:
        _grids[key] = encode_png(feature_map_grid(maps, cmap, normalise, n), compress_level=1)
    return _grids[key]


for layer in map_layers:
    maps = acts[layer.name]
    kind = type(layer).__name__
    st.markdown(f"#### {plain(layer.name)} · {kind} · output {maps.shape[0]}×{maps.shape[1]}×{maps.shape[2]}")
    if "Pooling" in kind:
        before_name = inputs.get(layer.name)
        before = acts[before_name] if before_name else image
        n = min(max_channels, maps.shape[-1])
        a, b = st.columns(2)
        picture(a, grid_png(before_name or "image", before, n), caption=f"input: {before_name or 'image'} "
                f"{before.shape[0]}×{before.shape[1]}")
        picture(b, grid_png(layer.name, maps, n), caption=f"after {layer.name}: {maps.shape[0]}×{maps.shape[1]}, "
                "each value the " + ("maximum" if "Max" in kind else "average") + " of a window")
    else:
        pre = preactivation_maps(entry.model, layer.name, image) if show_pre and "Conv" in kind else None
        if pre is not None:
            act_name = getattr(getattr(layer, "activation", None), "__name__", "activation")
            a, b = st.columns(2)
            picture(a, feature_map_grid(pre, cmap, normalise, max_channels), caption="before the activation (conv + bias)")
            picture(b, grid_png(layer.name, maps, max_channels),
                    caption=f"after {act_name}" + (": every negative value becomes 0" if act_name == "relu" else ""))
        else:
            picture(st, grid_png(layer.name, maps, max_channels))
        if maps.shape[-1] > max_channels:
            st.caption(f"First {max_channels} of {maps.shape[-1]} maps shown.")

# The closer look fills the right-hand column last, so the maps above are sent (and drawn) before it.
# A table of coloured cells, not a Plotly heatmap: the chart library alone cost a tab's first visit
# here 1 to 3 s of the browser's time. A fragment: its own widgets rerun it alone, not the model.
CLOSER_SIDE = 64  # cells per side of the closer look at most


@st.fragment
def closer_look(acts: dict, names: list[str], cmap: str) -> None:
    st.markdown("**Look closer at one map**: hover to read every value.")
    a, b = st.columns([2, 1])
    inspect_name = pick_layer("Layer", names, key="act_inspect_layer", container=a)
    n_channels = acts[inspect_name].shape[-1]
    channel = (b.number_input("Channel", 0, n_channels - 1, key=persist("act_inspect_channel", 0))
               if n_channels > 1 else 0)
    channel = min(int(channel), n_channels - 1)
    values, title = acts[inspect_name][..., channel], f"{inspect_name}, channel {channel}"
    h, w = values.shape[:2]
    if max(h, w) > CLOSER_SIDE:  # a 224×224 map would be 50,176 cells for the browser: its centre instead
        top, left = (h - min(h, CLOSER_SIDE)) // 2, (w - min(w, CLOSER_SIDE)) // 2
        values = values[top:top + CLOSER_SIDE, left:left + CLOSER_SIDE]
        title += f": its centre {values.shape[0]}×{values.shape[1]} of {h}×{w}"
    st.html(value_grid(values, title, scale=cmap, decimals=4))


if map_layers:
    with right:
        closer_look(acts, [layer.name for layer in map_layers], cmap)

if entry.evolution:
    with st.expander("Replay training: the conv maps of the probe image after each epoch"):
        show_evolution(entry.evolution, key="act_evo", probe=entry.probe)

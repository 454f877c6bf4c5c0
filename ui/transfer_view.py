"""The Train page's choice of where a network starts: random weights, or a trained network (transfer learning).

With a backbone the page shows the network a run would train: the backbone's layers, each
frozen one with a lock, then the new softmax layer; the trainable and frozen parameters; and
when fine-tuning unlocks the last blocks. Grey photos on a colour backbone get a clear message
and a switch that copies the grey channel into red, green and blue inside the network.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from core.models.backbones import BACKBONES, BackboneError, check_fits, layers_to_open, parameter_split, tuning_blocks
from core.models.imagenet import NetworkError
from core.visuals.markdown_table import markdown_table

from .shipped import shipped_at, shipped_model
from .widget_memory import persist

START_FROM = {"scratch": "Random weights (the architecture below)", "backbone": "A trained network (transfer learning)"}
LOCK = ":material/lock:"


@dataclass(frozen=True)
class TransferChoice:
    """What a transfer run starts from and what it unfreezes."""

    backbone: str  # key of core.models.backbones.BACKBONES
    grey_to_colour: bool
    fine_tune_blocks: int  # 0: the backbone stays frozen for the whole run
    fine_tune_from: int  # epochs of the head alone before those blocks are unfrozen
    blocks: int  # the backbone's blocks


@st.cache_resource(max_entries=4, show_spinner="Loading the backbone…")
def _backbone_model(key: str):
    # a shipped model is loaded once per server already (``ui.shipped``), and an ImageNet network too
    # (``core.models.imagenet_weights.load_network``): read that one, not a second copy
    backbone = BACKBONES[key]
    shipped = shipped_at(backbone.path) if backbone.path is not None else None
    return shipped_model(shipped) if shipped is not None else backbone.load()


@st.cache_resource(max_entries=8, show_spinner=False)
def _network(key: str, input_shape: tuple, num_classes: int, grey_to_colour: bool):
    from core.models.backbones import build_transfer_model

    backbone = BACKBONES[key]
    return build_transfer_model(_backbone_model(key), backbone.feature_layer, input_shape, num_classes,
                                grey_to_colour=grey_to_colour, network=backbone.network)


def layer_rows(model, opened: set[str], fine_tune_from: int) -> dict[str, list]:
    """The layer table of a transfer network: what each layer is and whether training changes it."""
    from core.models.architecture import layer_table

    rows = layer_table(model)
    trains = []
    for layer, row in zip(model.layers, rows):
        if not layer.weights:
            trains.append("")
        elif layer.name in opened:
            trains.append(f"{LOCK} frozen, then trains from epoch {fine_tune_from + 1}")
        elif not layer.trainable:
            trains.append(f"{LOCK} frozen")
        else:
            trains.append("trains")
    columns = {h: [row[h] for row in rows] for h in ("layer", "type", "output shape", "parameters")}
    columns["training"] = trains
    return columns


def draw_start_point(dataset, epochs: int | None = None, prefix: str = "train", fine_from: int = 10,
                     scratch: str = START_FROM["scratch"], compact: bool = False) -> TransferChoice | None:
    """The "Start from" choice; None for random weights. With a backbone, its network's table.

    Args:
        dataset: what the run trains on; only its ``input_shape`` and ``num_classes`` are read.
        epochs: the run's epochs, when known, to warn about fine-tuning that would never start.
        prefix: of the widgets' keys (``{prefix}_start_from``...), one per page.
        fine_from: the default epochs of the new layer alone before fine-tuning.
        scratch: how the page names its own network, the choice without a backbone.
        compact: the layer table folded away in an expander (pages where training is not the main topic).
    """
    available = [k for k, b in BACKBONES.items() if b.available]
    start = st.radio("Start from", list(START_FROM), format_func={**START_FROM, "scratch": scratch}.get, horizontal=True,
                     key=persist(f"{prefix}_start_from", "scratch"),
                     help="A trained network already knows edges, textures and parts of things: train only a new "
                          "last layer on its features, and a few photos a class can be enough.")
    if start == "scratch":
        return None
    if not available:
        st.error("No trained network is available to start from: the photo model's file is missing from "
                 "assets/models, and no ImageNet network's weights are on this server (the Models page downloads "
                 "them). Start from random weights instead.")
        return None
    key = st.selectbox("Backbone", available, format_func=lambda k: BACKBONES[k].title,
                       key=persist(f"{prefix}_backbone", available[0]))
    backbone = BACKBONES[key]
    st.caption(backbone.description)
    try:
        model_input = tuple(int(v) for v in _backbone_model(key).input_shape[1:])
    except NetworkError as exc:  # an ImageNet network over the server's memory limit for them
        st.error(str(exc))
        return TransferChoice(key, False, 0, 0, 0)
    grey_to_colour = False
    try:
        check_fits(model_input, dataset.input_shape, backbone.title)
    except BackboneError as exc:
        if dataset.input_shape[-1] == 1 and model_input[-1] == 3:
            st.warning(str(exc), icon=":material/palette:")
            grey_to_colour = st.toggle("Convert the photos to colour inside the network", key=persist(f"{prefix}_grey", False),
                                       help="Its first layer copies each grey value into red, green and blue; every "
                                            "page then shows it the photos as they are.")
            if not grey_to_colour:
                return TransferChoice(key, False, 0, 0, 0)
        else:
            st.error(str(exc))
            return TransferChoice(key, False, 0, 0, 0)
    try:
        with st.spinner(f"Building the network on {backbone.title}…"):
            model = _network(key, tuple(dataset.input_shape), dataset.num_classes, grey_to_colour)
    except BackboneError as exc:  # over the limit of weights in one model
        st.error(str(exc))
        return TransferChoice(key, grey_to_colour, 0, 0, 0)
    blocks = tuning_blocks(model, backbone.feature_layer)
    c1, c2 = st.columns(2)
    fine = c1.select_slider("Fine-tune the backbone's last blocks", list(range(len(blocks) + 1)),
                            key=persist(f"{prefix}_fine_blocks", 0),
                            format_func=lambda n: "none (all frozen)" if n == 0 else f"last {n} of {len(blocks)}",
                            help="After the new layer has learnt, unlock the backbone's top blocks and train them too, "
                                 "at a tenth of the learning rate: they adapt to your photos without forgetting what "
                                 "they know. Their batch normalisation stays frozen.")
    last = max(1, int(epochs or 2) - 1)
    start_at = c2.number_input("Epochs of the new layer alone first", 1, 200, key=persist(f"{prefix}_fine_from", int(fine_from)),
                               disabled=fine == 0,
                               help="Fine-tuning starts after these epochs; the run's other epochs fine-tune.")
    if fine and epochs is not None and start_at >= epochs:
        st.warning(f"Fine-tuning would start after epoch {start_at}, but the run has {epochs} epochs: give it more "
                   f"epochs, or fewer epochs of the new layer alone (at most {last}).")
    # the network is shared by every session (cached): read it, never change it
    trainable, frozen = parameter_split(model)
    opened = set(layers_to_open(model, fine, backbone.feature_layer))
    fine_trainable = trainable + sum(model.get_layer(n).count_params() for n in opened)
    table = markdown_table(layer_rows(model, opened, int(start_at)), {"parameters": "{:,}".format})
    if compact or len(model.layers) > 40:
        with st.expander(f"The network it trains: {len(model.layers)} layers, {LOCK} frozen"):
            st.markdown(table)
    else:
        st.markdown(table)
    st.caption(f"{trainable:,} trainable parameters (the new layer) and {frozen:,} frozen (the backbone's, batch-norm "
               "statistics included)"
               + (f"; from epoch {int(start_at) + 1}, {fine_trainable:,} trainable." if fine else ".")
               + (f" Photos are resized to {model_input[0]}×{model_input[1]} inside the network."
                  if tuple(dataset.input_shape[:2]) != model_input[:2] else ""))
    return TransferChoice(key, grey_to_colour, int(fine), int(start_at), len(blocks))


def transfer_problem(choice: TransferChoice, dataset, epochs: int) -> str | None:
    """Why the Train button cannot start this transfer run, or None."""
    backbone = BACKBONES[choice.backbone]
    try:
        check_fits(tuple(int(v) for v in _backbone_model(choice.backbone).input_shape[1:]), dataset.input_shape,
                   backbone.title, grey_to_colour=choice.grey_to_colour)
        _network(choice.backbone, tuple(dataset.input_shape), dataset.num_classes, choice.grey_to_colour)
    except (BackboneError, NetworkError) as exc:
        return str(exc)
    if choice.fine_tune_blocks and not 1 <= choice.fine_tune_from < epochs:
        return (f"Fine-tuning starts after {choice.fine_tune_from} epochs of the new layer, but the run has {epochs}: "
                "each needs at least one epoch.")
    return None


def transfer_note(entry, layer_name: str) -> None:
    """On the Filters page: whether a layer of a network built on a backbone is still the backbone's, checked
    against the backbone's own weights."""
    from core.models.backbones import weight_change

    transfer = entry.card.extra.get("transfer") if isinstance(entry.card.extra, dict) else None
    if not isinstance(transfer, dict) or transfer.get("backbone") not in BACKBONES:
        return
    backbone = BACKBONES[transfer["backbone"]]
    if not backbone.available:
        return
    change = weight_change(entry.model, _backbone_model(backbone.key), layer_name)
    if change is None:
        return
    layer = entry.model.get_layer(layer_name)
    if not layer.trainable:
        st.success(f"{LOCK} Frozen: these are the {backbone.title}'s filters, unchanged by training (largest "
                   f"difference from its own: {change:g}).")
    else:
        st.info(f"Fine-tuned: these filters started as the {backbone.title}'s and training moved them by up to "
                f"{change:.3g}.", icon=":material/lock_open:")

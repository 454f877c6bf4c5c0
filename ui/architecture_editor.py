"""The Train page's architecture section: a preset, its block table to edit, and the layer table it builds.

A spec over the server's limits (``core.settings``) is sized without being built: the section says which
limit and by how much, and ``over_limits`` gives the Train button its reason to stay off.
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from core.models.architecture import (
    ACTIVATIONS,
    HEADS,
    POOLINGS,
    ConvBlock,
    ModelSpec,
    ModelSpecError,
    adaptation_notes,
    build_model,
    layer_table,
    spec_size,
)
from core.models.size_limits import limit_problems, params_summary
from core.models.presets import PRESETS
from core.visuals.markdown_table import markdown_table

from .widget_memory import persist

BLOCK_COLUMNS = {
    "filters": st.column_config.NumberColumn("filters", min_value=1, max_value=256, step=1, required=True),
    "kernel_size": st.column_config.NumberColumn("kernel", min_value=1, max_value=11, step=1, required=True),
    "convs": st.column_config.NumberColumn("convs", min_value=1, max_value=4, step=1, required=True),
    "activation": st.column_config.SelectboxColumn("activation", options=list(ACTIVATIONS), required=True),
    "padding": st.column_config.SelectboxColumn("padding", options=["same", "valid"], required=True),
    "batch_norm": st.column_config.CheckboxColumn("batch norm"),
    "pooling": st.column_config.SelectboxColumn("pooling", options=list(POOLINGS), required=True),
    "pool_size": st.column_config.NumberColumn("pool", min_value=2, max_value=4, step=1, required=True),
    "dropout": st.column_config.NumberColumn("dropout", min_value=0.0, max_value=0.9, step=0.05, required=True),
    "pool_early": st.column_config.CheckboxColumn(
        "pool early", help="Pool right after the block's first convolution, before its batch norm and activation: "
                           "the rest of the block works on a quarter of the pixels (about twice as fast)."),
}
HEAD_TITLES = {"flatten": "flatten every value", "global_max": "global max pooling (largest value per channel)",
               "global_avg": "global average pooling (mean per channel)"}

LAYER_COLUMNS = ("layer", "type", "output shape", "parameters", "detail")  # of core.models.architecture.layer_table


@st.cache_data(max_entries=32, show_spinner=False)
def describe(spec_json: str, input_shape: tuple, num_classes: int):
    spec = ModelSpec.from_dict(json.loads(spec_json))
    model = build_model(spec, input_shape, num_classes)
    return layer_table(model), adaptation_notes(spec, model), int(model.count_params())


def draw_architecture(dataset) -> ModelSpec:
    """The chosen (or edited) architecture, with its layer table for ``dataset``; stops the page when it cannot be built.

    A spec over the server's limits is returned without its layer table, and with an error saying which
    limit; the page keeps its Train button off with ``over_limits``.
    """
    preset_key = st.selectbox("Preset", list(PRESETS), key=persist("train_preset", next(iter(PRESETS))),
                              format_func=lambda k: PRESETS[k].title)
    preset = PRESETS[preset_key]
    st.caption(f"{preset.description} Source: {preset.source}.")
    spec = preset.spec()
    if st.toggle("Edit the architecture", key=persist("train_custom", False)):
        blocks = st.data_editor(pd.DataFrame([vars(b) for b in spec.blocks]), num_rows="dynamic", hide_index=True,
                                column_config=BLOCK_COLUMNS, key=f"train_blocks_{preset_key}")
        left, right = st.columns(2)
        head = left.selectbox("From the last maps to the dense layers", HEADS, format_func=HEAD_TITLES.get,
                              key=persist(f"train_head_{preset_key}", spec.head),
                              help="Flatten keeps where in the image each value was; global pooling keeps one "
                                   "value per channel, so the head is small and a feature counts wherever it is.")
        dense_text = right.text_input("Hidden dense layers (units, comma separated)",
                                      key=persist(f"train_dense_{preset_key}", ", ".join(map(str, spec.dense_units))))
        try:
            rows = blocks.dropna().to_dict("records")
            spec = ModelSpec(
                name=f"{preset_key}_custom",
                blocks=[ConvBlock(int(r["filters"]), int(r["kernel_size"]), int(r["convs"]), r["activation"],
                                  r["padding"], bool(r["batch_norm"]), r["pooling"], int(r["pool_size"]),
                                  float(r["dropout"]), bool(r.get("pool_early", False))) for r in rows],
                dense_units=[int(u) for u in dense_text.replace(" ", "").split(",") if u],
                dense_activation=spec.dense_activation, dense_dropout=spec.dense_dropout,
                flatten_dropout=spec.flatten_dropout, head=head,
            )
        except (ValueError, TypeError) as exc:
            st.error(f"The architecture table has an invalid value: {exc}")
            st.stop()
    try:
        size = spec_size(spec, dataset.input_shape, dataset.num_classes)
    except (ModelSpecError, ValueError) as exc:
        st.error(f"This architecture cannot be built for {dataset.title}: {exc}")
        st.stop()
    problems = limit_problems(size)
    if problems:
        # No layer table: it is made by building the model, which is what the limits are there to prevent.
        st.error(f"This network is too big for the server ({params_summary(size)}), so it cannot be trained. "
                 + " ".join(problems) + " Make it smaller: fewer or narrower dense layers, more pooling, fewer filters.")
        return spec
    try:
        table, notes, _ = describe(json.dumps(spec.to_dict()), dataset.input_shape, dataset.num_classes)
    except (ModelSpecError, ValueError) as exc:
        st.error(f"This architecture cannot be built for {dataset.title}: {exc}")
        st.stop()
    # A Markdown table, not st.dataframe: a few rows need no data grid, whose code cost the page's first visit in a
    # browser tab about 0.2 s of the browser's time.
    st.markdown(markdown_table({h: [row[h] for row in table] for h in LAYER_COLUMNS}, {"parameters": "{:,}".format}))
    st.caption(f"{params_summary(size)}. " + " ".join(notes))
    return spec


def over_limits(spec: ModelSpec, dataset) -> str | None:
    """Why ``spec`` cannot be trained on ``dataset`` (it cannot be built, or is over a limit of the server), or None.

    Cheap (no layer is built), so the Train button can be turned off with it on every rerun.
    """
    try:
        problems = limit_problems(spec_size(spec, dataset.input_shape, dataset.num_classes))
    except (ModelSpecError, ValueError) as exc:
        return f"This architecture cannot be built for {dataset.title}: {exc}"
    return "This network is too big for the server. " + " ".join(problems) if problems else None

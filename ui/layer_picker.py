"""Pick a layer of a model with 100+ layers: a block first, then a layer of it, or a search across blocks.

A model with at most ``SMALL`` layers to choose from keeps one plain selectbox, as the pages had
before: CNN Lab's own models have 3 to 15 such layers, and a block step would only add a click to
every choice there. Past that (MobileNetV2's 156 layers, or its 35 convolutions) a flat list
scrolls for screens, so the picker shows:

- **Block**: "block 5 · 9 layers", in the order of the network (``core.inspection.layer_groups``);
- the layer (or layers) of that block, each with its kind ("block_5_depthwise · depthwise convolution");
- **Find a layer**: text that, when filled, lists every layer whose name or kind contains it, from
  every block, in place of the two above.

Every widget has an explicit key and keeps its value across pages (``ui.widget_memory``): the layer
choice ``key``, the block ``{key}_block``, the search ``{key}_find``. The layer is what counts:
the block shown always holds it, and choosing another block chooses that block's first layer(s).
"""

from __future__ import annotations

from typing import Callable, Collection

import streamlit as st

from core.inspection.layer_groups import layer_blocks, layer_kind, name_blocks

from .widget_memory import persist, set_widget_values

SMALL = 30  # layers to choose from: up to this many, one plain selectbox
DEFAULT_SHOWN = 12  # layers ``pick_layers`` starts with: a whole block of ResNet50 or MobileNetV2


class _Choices:
    """The layers to choose from, in blocks, with their kinds (empty for bare names)."""

    def __init__(self, source, only):
        if hasattr(source, "layers"):
            blocks, kinds = layer_blocks(source), {layer.name: layer_kind(layer) for layer in source.layers}
            layer_of = source.get_layer
        else:
            blocks, kinds, layer_of = name_blocks(list(source)), {}, str
        total = sum(len(names) for _, names in blocks)
        if callable(only):
            blocks = [(title, [n for n in names if only(layer_of(n))]) for title, names in blocks]
        elif only is not None:
            allowed = set(only)
            blocks = [(title, [n for n in names if n in allowed]) for title, names in blocks]
        self.blocks = {title: names for title, names in blocks if names}
        self.names = [name for names in self.blocks.values() for name in names]
        self.kinds = kinds
        self.block_of = {name: title for title, names in self.blocks.items() for name in names}
        if not self.names:
            raise ValueError(f"Expected at least one layer to choose from. Received: 0 of {total} layers allowed "
                             f"by only={only!r}")

    def label(self, name: str) -> str:
        return f"{name} · {self.kinds[name]}" if self.kinds.get(name) else name

    def matching(self, text: str) -> list[str]:
        text = text.strip().lower()
        return [n for n in self.names if text in n.lower() or text in self.kinds.get(n, "").lower()]


def _block_box(box, choices: _Choices, key: str, chosen: list[str], on_change, args) -> str:
    """The Block selectbox, moved first to the block of the layers ``chosen`` (when it does not hold them)."""
    ss, block_key = st.session_state, persist(f"{key}_block", next(iter(choices.blocks)))
    if ss[block_key] not in choices.blocks or (chosen and not set(chosen) & set(choices.blocks[ss[block_key]])):
        ss[block_key] = choices.block_of[chosen[0]] if chosen else next(iter(choices.blocks))
    count = {title: f"{len(names)} layer" + "s" * (len(names) > 1) for title, names in choices.blocks.items()}
    return box.selectbox("Block", list(choices.blocks), key=block_key, on_change=on_change, args=args,
                         format_func=lambda title: f"{title} · {count[title]}",
                         help="The network's layers in the blocks its authors built it from, in order.")


def _search(container, box, key: str, choices: _Choices) -> list[str]:
    """The search box (drawn in ``container``) and the layers it finds, counted in ``box`` above it."""
    text = container.text_input("Find a layer", key=persist(f"{key}_find", ""),
                                placeholder="part of a name or a kind: depthwise, add, block_3",
                                help="Lists every layer whose name or kind contains this, from every block.").strip()
    found = choices.matching(text) if text else []
    if text:
        box.caption(f"{len(found)} layer{'s' * (len(found) != 1)} match “{text}”"
                    + (", from every block." if found else ": choose a block instead."))
    return found


def _first_of_block(key: str, block_key: str, blocks: dict, n: int | None) -> None:
    """A new block chosen: its first layer (``n`` None) or first ``n`` layers become the choice."""
    names = blocks[st.session_state[block_key]]
    set_widget_values({key: names[0] if n is None else names[:n]})


def pick_layer(label: str, source, key: str, only: Callable | Collection[str] | None = None,
               format_func: Callable[[str], str] | None = None, container=None, help: str | None = None) -> str:
    """Choose one layer; returns its name.

    Args:
        label: the layer selectbox's label.
        source: a Keras model, or layer names (grouped by their names alone).
        key: the layer selectbox's key; the block and search widgets add ``_block`` and ``_find``.
        only: the layers that may be chosen: a predicate on a layer (on a name, for names), or names.
        format_func: how the plain selectbox of a small model shows a name (a large one shows name · kind).
        container: where to draw (a column); the page itself by default.
    """
    container, choices, ss = container or st, _Choices(source, only), st.session_state
    layer_key = persist(key, choices.names[0])
    if len(choices.names) <= SMALL:
        if ss[layer_key] not in choices.names:  # a name kept from another model
            ss[layer_key] = choices.names[0]
        return container.selectbox(label, choices.names, key=layer_key, format_func=format_func or str, help=help)
    box = container.container()  # above the search box, drawn after it is read
    found = _search(container, box, key, choices)
    options = found or None
    if options is None:
        block_key = f"{key}_block"
        block = _block_box(box, choices, key, [ss[layer_key]] if ss[layer_key] in choices.names else [],
                           _first_of_block, (key, block_key, choices.blocks, None))
        options = choices.blocks[block]
    if ss[layer_key] not in options:
        ss[layer_key] = options[0]
    return box.selectbox(label, options, key=layer_key,
                         format_func=lambda n: choices.label(n) + (f" · {choices.block_of[n]}" if found else ""),
                         help=help)


def pick_layers(label: str, source, key: str, only: Callable | Collection[str] | None = None,
                container=None, help: str | None = None) -> list[str]:
    """Choose several layers; returns their names in layer order.

    A model with at most ``SMALL`` layers to choose from draws nothing and returns all of them (a page
    shows every layer of a small model, as before). A larger one starts with the first block's first
    ``DEFAULT_SHOWN`` layers; choosing another block chooses its first ``DEFAULT_SHOWN``, and a search
    keeps the layers chosen that it finds (else its first ``DEFAULT_SHOWN``). The choice is never empty:
    a page with no layer to show would be a blank one. Arguments as for ``pick_layer``.
    """
    container, choices, ss = container or st, _Choices(source, only), st.session_state
    if len(choices.names) <= SMALL:
        return list(choices.names)
    first = next(iter(choices.blocks.values()))
    layer_key = persist(key, first[:DEFAULT_SHOWN])
    kept = [n for n in (ss[layer_key] or []) if n in choices.block_of]
    box = container.container()  # above the search box, drawn after it is read
    found = _search(container, box, key, choices)
    options = found or None
    if options is None:
        block_key = f"{key}_block"
        block = _block_box(box, choices, key, kept, _first_of_block, (key, block_key, choices.blocks, DEFAULT_SHOWN))
        options = choices.blocks[block]
    shown = [n for n in kept if n in options] or options[:DEFAULT_SHOWN]
    if shown != ss[layer_key]:
        ss[layer_key] = shown
    picked = box.multiselect(label, options, key=layer_key,
                             format_func=lambda n: choices.label(n) + (f" · {choices.block_of[n]}" if found else ""),
                             help=help)
    return [n for n in choices.names if n in set(picked)]

"""A model's layers in blocks, and a short word for what each layer does: how a page lists 100+ layers.

``keras.applications`` networks have 23 (VGG16) to 240 (EfficientNetB0) layers; a flat list of
them is unusable. Every family names its layers after its blocks, so the names say the grouping:

- MobileNetV2: ``Conv1`` (stem), ``expanded_conv_*`` (block 0), ``block_3_expand`` … (block 3),
  ``Conv_1``, ``out_relu`` (top). MobileNetV3: ``conv`` (stem), ``expanded_conv_2_expand`` … (block 2),
  ``conv_1`` (top); the layers Keras names itself (``re_lu_4``, ``activation_7``, ``multiply_1``)
  go with the block before them.
- EfficientNet: ``stem_*``, ``block2b_*`` (block 2b), ``top_*``.
- ResNet (and DenseNet): ``conv1_*`` and ``pool1_*`` (stem), ``conv3_block2_*``, ``avg_pool``.
- VGG (and Xception): ``block1_conv1``, ``block1_pool`` …, then ``flatten``, ``fc1``, ``predictions``.
- MobileNet (V1): ``conv_dw_3``, ``conv_pw_3`` (block 3).
- CNN Lab's own (``core.models.architecture``): ``conv3_1``, ``bn3_2``, ``maxpool3`` (block 3).

One naming convention is read per model: the one that matches most of its names, so that a name
that would fit another one (VGG's ``fc1`` reads as CNN Lab's block 1) does not split a block.
Layers before the first block form the stem when they hold a convolution, else join the first
block (CNN Lab's ``resize`` and ``grey_to_colour``, ImageNet preprocessing). From the first
flatten, global pooling or dense layer after the last layer of a named block (or a name the
family gives its top), every layer is the top. A model whose names follow none of these is one
group when it is small; a large one is cut where its maps change size (each stage of a CNN works
at one resolution), and the layers after its last maps are the classifier.
"""

from __future__ import annotations

import re
from typing import Callable, NamedTuple

SMALL_MODEL = 30  # layers: a model with no named blocks and at most this many is one group


class _Convention(NamedTuple):
    block: re.Pattern  # matched at the start of a name; its groups say the block
    title: Callable[[re.Match], str]
    top: re.Pattern | None  # a name where the family's top starts


# names of a classifier's layers (CNN Lab's dropout_flat and dropout_dense1 too)
_HEAD_NAME = re.compile(r"(dropout_)?(flat|global_|avg_pool$|max_pool$|dense|fc\d|predictions$|logits$)")
_HEAD_KINDS = {"flatten", "dense", "global average pooling", "global max pooling"}

_CONVENTIONS = (
    # ResNet: conv3_block2_1_conv; DenseNet's blocks read the same (conv3_block2_0_bn)
    _Convention(re.compile(r"conv(\d+)_block(\d+)_"), lambda m: f"conv{m[1]} block {m[2]}",
                re.compile(r"post_|avg_pool$|max_pool$")),
    # EfficientNet: block2b_expand_conv
    _Convention(re.compile(r"block(\d+)([a-z])_"), lambda m: f"block {m[1]}{m[2]}", re.compile(r"top_")),
    # VGG and Xception: block3_conv1
    _Convention(re.compile(r"block(\d+)_"), lambda m: f"block {m[1]}", None),
    # MobileNetV2 (block_3_expand) and V3 (expanded_conv_2_expand); expanded_conv_* unnumbered is block 0
    _Convention(re.compile(r"expanded_conv_(?:(\d+)_)?|block_(\d+)_"), lambda m: f"block {int(m[1] or m[2] or 0)}",
                re.compile(r"(?i)conv_1(_|$)|out_relu$")),
    # MobileNet (V1): conv_dw_3, conv_pw_3, conv_pad_3
    _Convention(re.compile(r"conv_(?:dw|pw|pad)_(\d+)"), lambda m: f"block {m[1]}", None),
    # CNN Lab: conv3_1, bn3_2, relu3_1, maxpool3, dropout3 (a letter before the number: Keras's own
    # names re_lu_3 or activation_12 are no block)
    _Convention(re.compile(r"[a-z_]*?[a-z](\d+)(?:_\d+)?$"), lambda m: f"block {m[1]}", None),
)


def _title(convention: _Convention, name: str) -> str | None:
    match = convention.block.match(name)
    return convention.title(match) if match else None


def _convention(names: list[str]) -> _Convention | None:
    """The convention that matches most names, if it finds at least two blocks."""
    best, best_count = None, 0
    for convention in _CONVENTIONS:
        titles = [t for t in (_title(convention, n) for n in names) if t is not None]
        if len(set(titles)) >= 2 and len(titles) > best_count:
            best, best_count = convention, len(titles)
    return best


def _group(names: list[str], kinds: list[str] | None,
           spatial: list[tuple | None] | None) -> list[tuple[str, list[str]]]:
    """``layer_blocks`` of layers given by their names, kinds and map sizes (None where unknown)."""
    convention = _convention(names)
    if convention is None:
        if len(names) <= SMALL_MODEL or spatial is None:
            return [("all layers", list(names))] if names else []
        return _by_resolution(names, spatial)
    groups: list[tuple[str, list[str]]] = []
    lead: list[str] = []  # layers before the first block
    # The top starts after the last layer of a named block (a global pooling inside a block, as in
    # squeeze-and-excitation, does not start it), not counting CNN Lab's dense1 and dropout_dense1.
    def heads(i: int) -> bool:
        return bool(_HEAD_NAME.match(names[i])) or (kinds is not None and kinds[i] in _HEAD_KINDS)

    last_block = max((i for i, name in enumerate(names) if _title(convention, name) is not None and not heads(i)),
                     default=-1)
    head = False
    for i, name in enumerate(names):
        title = None if head else _title(convention, name)
        if head:
            groups[-1][1].append(name)
        elif title is not None:
            if not groups or groups[-1][0] != title:
                groups.append((title, []))
            groups[-1][1].append(name)
        elif not groups:
            lead.append(name)
        elif i > last_block and convention.top is not None and convention.top.match(name):
            head = True
            groups.append(("top", [name]))
        elif i > last_block and heads(i):
            head = True
            groups.append(("classifier", [name]))
        else:
            groups[-1][1].append(name)  # Keras's own names (re_lu_4, add_2) go with the block before them
    if lead:
        has_conv = any("convolution" in k for k in kinds[:len(lead)]) if kinds is not None else \
            any("conv" in n.lower() for n in lead)
        if has_conv or not groups:
            groups.insert(0, ("stem", lead))
        else:
            groups[0][1][:0] = lead
    return _unique_titles(groups)


def _unique_titles(groups: list[tuple[str, list[str]]]) -> list[tuple[str, list[str]]]:
    """A title met again further down (a block whose layers are not all together) gets its part number."""
    seen: dict[str, int] = {}
    unique = []
    for title, names in groups:
        seen[title] = seen.get(title, 0) + 1
        unique.append((title if seen[title] == 1 else f"{title} (part {seen[title]})", names))
    return unique


def _by_resolution(names, spatial) -> list[tuple[str, list[str]]]:
    """Stages where the maps keep one size, then the classifier: the layers after the last one with maps."""
    tail = len(names)
    while tail > 0 and spatial[tail - 1] is None:
        tail -= 1
    if tail == 0:
        return [("all layers", list(names))]  # no maps at all
    groups: list[tuple[str, list[str]]] = []
    lead: list[str] = []  # layers before the first maps (a rescaling): they join the first stage
    size = None
    for name, shape in zip(names[:tail], spatial[:tail]):
        if shape is not None and shape != size:
            size = shape
            groups.append((f"stage {len(groups) + 1} · {shape[0]}×{shape[1]}", lead))
            lead = []
        (groups[-1][1] if groups else lead).append(name)
    if tail < len(names):
        groups.append(("classifier", list(names[tail:])))
    return groups


def _spatial(layer) -> tuple | None:
    """(height, width) of a layer's maps, None when its output is not a stack of maps (or not one tensor)."""
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):
        return None
    return tuple(shape[1:3]) if len(shape) == 4 else None


def layer_blocks(model) -> list[tuple[str, list[str]]]:
    """The model's layers (input layer left out), grouped into blocks in order.

    Args:
        model: a Keras model; not changed.

    Returns:
        ``(title, layer names)`` pairs in layer order, each layer in exactly one: titles such as
        "stem", "block 3", "block 2b", "conv3 block 2", "top" or "classifier".
    """
    import keras

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    return _group([layer.name for layer in layers], [layer_kind(layer) for layer in layers],
                  [_spatial(layer) for layer in layers])


def name_blocks(names: list[str]) -> list[tuple[str, list[str]]]:
    """The grouping of ``layer_blocks`` read from layer names alone (no model at hand).

    Without the layers' kinds, the classifier starts only at a name that says so
    (``flatten``, ``global_*``, ``dense*``, ``fc1``, ``predictions``).
    """
    return _group(list(names), None, None)


_KINDS = (  # (Keras class name, word), the first match of a layer's classes wins; None: by kernel size
    ("DepthwiseConv2D", "depthwise convolution"), ("SeparableConv2D", "separable convolution"),
    ("Conv2DTranspose", "transposed convolution"), ("Conv2D", None), ("BatchNormalization", "batch norm"),
    ("LayerNormalization", "layer norm"), ("GroupNormalization", "group norm"),
    ("Normalization", "input normalisation"), ("Rescaling", "rescaling"), ("Resizing", "resizing"),
    ("GlobalAveragePooling2D", "global average pooling"), ("GlobalMaxPooling2D", "global max pooling"),
    ("MaxPooling2D", "max pooling"), ("AveragePooling2D", "average pooling"),
    ("Activation", "activation"), ("ReLU", "activation"), ("LeakyReLU", "activation"), ("PReLU", "activation"),
    ("ELU", "activation"), ("Softmax", "activation"), ("Add", "add"), ("Multiply", "multiply"),
    ("Concatenate", "concatenate"), ("Subtract", "subtract"), ("Dense", "dense"), ("Flatten", "flatten"),
    ("Dropout", "dropout"), ("SpatialDropout2D", "dropout"), ("ZeroPadding2D", "padding"),
    ("Cropping2D", "cropping"), ("Reshape", "reshape"), ("UpSampling2D", "upsampling"), ("InputLayer", "input"),
    ("Functional", "model"), ("Sequential", "model"),
)


def layer_kind(layer) -> str:
    """A short human word for what ``layer`` does: "convolution", "pointwise convolution" (a 1×1 Conv2D),
    "depthwise convolution", "batch norm", "activation", "max pooling", "add", "dense", …

    A class it does not know is named from its class name (``RandomFlip``: "random flip").
    """
    classes = {cls.__name__ for cls in type(layer).__mro__}
    for class_name, word in _KINDS:
        if class_name in classes:
            if word is None:
                return "pointwise convolution" if tuple(layer.kernel_size) == (1, 1) else "convolution"
            return word
    if "Conv" in type(layer).__name__:
        return "convolution"
    name = type(layer).__name__
    if name.endswith("Preprocessing"):
        return "preprocessing"
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).lower()

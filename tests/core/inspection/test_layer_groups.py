"""core.inspection.layer_groups: the blocks of five keras.applications networks and of CNN Lab's own presets.

Each network is built once for the module with weights=None (nothing downloads) at 96×96, the
smallest size all five accept; its layer names are those of the 224×224 network.
"""

from __future__ import annotations

import re
from functools import cache

import keras
import pytest

from core.inspection.layer_groups import SMALL_MODEL, layer_blocks, layer_kind, name_blocks
from core.models.architecture import build_model
from core.models.backbones import _block_of
from core.models.presets import PRESET_SPECS

# network -> (number of blocks, first titles, last title)
EXPECTED = {
    # stem, the 11 bottleneck blocks expanded_conv (0) to expanded_conv_10, top from conv_1
    "MobileNetV3Small": (13, ["stem", "block 0", "block 1"], "top"),
    # stem (Conv1), expanded_conv (0) and block_1 to block_16, top from Conv_1
    "MobileNetV2": (19, ["stem", "block 0", "block 1"], "top"),
    # stem, the 16 MBConv blocks 1a to 7a, top
    "EfficientNetB0": (18, ["stem", "block 1a", "block 2a", "block 2b"], "top"),
    # conv1 and pool1, 3 + 4 + 6 + 3 residual blocks, top
    "ResNet50": (18, ["stem", "conv2 block 1", "conv2 block 2"], "top"),
    # five blocks of convolutions and a max-pool, then the classifier
    "VGG16": (6, ["block 1", "block 2", "block 3", "block 4", "block 5"], "classifier"),
}


@cache
def network(name: str):
    return getattr(keras.applications, name)(weights=None, input_shape=(96, 96, 3))


def names_of(model) -> list[str]:
    return [layer.name for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


@pytest.mark.parametrize("name", EXPECTED)
def test_every_layer_is_in_one_block_in_layer_order(name):
    model = network(name)
    blocks = layer_blocks(model)
    assert [n for _, names in blocks for n in names] == names_of(model)
    assert all(names for _, names in blocks)
    titles = [title for title, _ in blocks]
    assert len(set(titles)) == len(titles)
    count, first, last = EXPECTED[name]
    assert len(blocks) == count, titles
    assert titles[:len(first)] == first and titles[-1] == last


# network -> the name prefix of a block's layers, from its title
PREFIX = {
    "ResNet50": lambda title: "{}_block{}_".format(*re.fullmatch(r"(conv\d) block (\d+)", title).groups()),
    "EfficientNetB0": lambda title: "block{}_".format(title.split()[1]),
    "VGG16": lambda title: "block{}_".format(title.split()[1]),
    "MobileNetV2": lambda title: "expanded_conv_" if title == "block 0" else "block_{}_".format(title.split()[1]),
}


@pytest.mark.parametrize("name", PREFIX)
def test_a_block_holds_exactly_the_layers_its_name_says(name):
    names = names_of(network(name))
    for title, members in layer_blocks(network(name)):
        if title in ("stem", "top", "classifier"):
            continue
        prefix = PREFIX[name](title)
        assert members == [n for n in names if n.startswith(prefix)], title


def test_keras_own_layer_names_go_with_the_block_before_them():
    blocks = dict(layer_blocks(network("MobileNetV3Small")))
    names = names_of(network("MobileNetV3Small"))
    own = [n for n in names if re.fullmatch(r"(re_lu|activation|multiply|add)(_\d+)?", n)]
    assert len(own) > 20
    block_of = {n: title for title, members in blocks.items() for n in members}
    for n in own:
        before = names[names.index(n) - 1]
        assert block_of[n] == block_of[before], (n, before)
    # Keras numbers its own names per process ("rescaling", "rescaling_1", ...): whatever was built before
    assert names[0].startswith("rescaling") and blocks["stem"] == [names[0], "conv", "conv_bn", names[3]]
    assert blocks["top"][0] == "conv_1" and blocks["top"][-1] == "predictions"


def test_layers_before_the_blocks_without_a_convolution_join_the_first_block():
    # CNN Lab's ImageNet networks start with their own preprocessing layer, then keras.applications' graph
    inputs = keras.Input((32, 32, 3), name="image")
    x = keras.layers.Rescaling(255.0, name="imagenet_preprocessing")(inputs)
    model = keras.applications.VGG16(weights=None, include_top=False, input_tensor=x)
    blocks = layer_blocks(model)
    assert blocks[0] == ("block 1", ["imagenet_preprocessing", "block1_conv1", "block1_conv2", "block1_pool"])
    assert len(blocks) == 5  # no classifier: include_top=False


@pytest.mark.parametrize("preset", PRESET_SPECS)
def test_cnn_lab_presets_group_as_their_block_numbers_say(preset):
    spec = PRESET_SPECS[preset]()
    model = build_model(spec, (32, 32, 3), 10, seed=0)
    blocks = layer_blocks(model)
    assert [title for title, _ in blocks] == [f"block {i}" for i in range(1, len(spec.blocks) + 1)] + ["classifier"]
    assert [n for _, names in blocks for n in names] == names_of(model)
    for i, (_, names) in enumerate(blocks[:-1], 1):
        assert {_block_of(n) for n in names} == {i}, names
    classifier = blocks[-1][1]
    assert classifier[0] in ("flatten", "global_avgpool", "global_maxpool") and classifier[-1] == "predictions"
    assert name_blocks(names_of(model)) == blocks  # the names alone say the same


def test_a_small_model_without_named_blocks_is_one_group_and_a_large_one_is_cut_by_map_size():
    small = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(4, 3), keras.layers.ReLU(),
                              keras.layers.MaxPooling2D(), keras.layers.Flatten(), keras.layers.Dense(10)])
    assert layer_blocks(small) == [("all layers", names_of(small))]

    layers = [keras.Input((32, 32, 3))]
    for _ in range(3):
        layers += [keras.layers.Conv2D(4, 3, padding="same") for _ in range(SMALL_MODEL // 3)]
        layers.append(keras.layers.MaxPooling2D())
    large = keras.Sequential(layers + [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)])
    blocks = layer_blocks(large)
    assert [title for title, _ in blocks] == ["stage 1 · 32×32", "stage 2 · 16×16", "stage 3 · 8×8",
                                              "stage 4 · 4×4", "classifier"]
    assert [n for _, names in blocks for n in names] == names_of(large)


def test_layer_kinds_are_short_words():
    model = network("MobileNetV2")
    kinds = {layer.name: layer_kind(layer) for layer in model.layers}
    assert kinds["Conv1"] == "convolution"
    assert kinds["block_3_expand"] == kinds["block_3_project"] == "pointwise convolution"
    assert kinds["block_3_depthwise"] == "depthwise convolution"
    assert kinds["block_3_expand_BN"] == "batch norm"
    assert kinds["block_3_expand_relu"] == "activation"
    assert kinds["block_3_pad"] == "padding"
    assert kinds["block_2_add"] == "add"
    assert kinds["predictions"] == "dense"
    assert layer_kind(network("VGG16").get_layer("block1_pool")) == "max pooling"
    assert layer_kind(network("VGG16").get_layer("flatten")) == "flatten"
    assert layer_kind(network("MobileNetV3Small").get_layer("expanded_conv_squeeze_excite_mul")) == "multiply"
    assert layer_kind(keras.layers.RandomFlip()) == "random flip"


def test_a_global_pooling_inside_a_block_does_not_start_the_top():
    # squeeze-and-excitation pools inside a block; a layer Keras named itself goes with the block before it
    names = ["block_1_expand", "global_average_pooling2d", "block_1_project", "block_2_expand", "block_2_project",
             "global_average_pooling2d_1", "predictions"]
    assert name_blocks(names) == [("block 1", names[:3]), ("block 2", names[3:5]), ("classifier", names[5:])]

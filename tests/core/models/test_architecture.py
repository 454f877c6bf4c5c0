"""core.models.architecture: ModelSpec checks and round trip, seeded builds, small-input adaptations, layer table,
and sizes and limits worked out without building (checked against the built models)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from core.models.architecture import (
    ConvBlock,
    ModelSpec,
    ModelSpecError,
    adaptation_notes,
    build_model,
    check_spec_limits,
    layer_table,
    plan_layers,
    spec_size,
)
from core.models.presets import PRESETS


def test_build_model_seed_is_deterministic():
    spec = PRESETS["small_cnn"].spec()
    a = build_model(spec, (32, 32, 3), 4, seed=7)
    b = build_model(spec, (32, 32, 3), 4, seed=7)
    c = build_model(spec, (32, 32, 3), 4, seed=8)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])


def test_adaptation_notes_for_small_inputs():
    spec = PRESETS["keras_mnist_convnet"].spec()
    small = build_model(spec, (8, 8, 1), 10)
    names = {layer.name for layer in small.layers}
    # 8 -> conv 6 -> pool 3 -> conv 1: the second 2x2 pool cannot fit and is left out.
    assert "maxpool1" in names and "maxpool2" not in names
    notes = adaptation_notes(spec, small)
    assert len(notes) == 1 and notes[0].startswith("Block 2") and "pooling left out" in notes[0]
    # On its own dataset the preset is built as written.
    assert adaptation_notes(spec, build_model(spec, (28, 28, 1), 10)) == []


def test_adaptation_notes_for_valid_padding_on_tiny_input():
    spec = PRESETS["tinyvgg"].spec()
    model = build_model(spec, (8, 8, 1), 10)
    # 8 -> 6 -> 4 -> pool 2: the second block's 3x3 'valid' convolutions fall back to 'same'.
    assert model.get_layer("conv1_1").padding == "valid"
    assert model.get_layer("conv2_1").padding == "same" and model.get_layer("conv2_2").padding == "same"
    notes = adaptation_notes(spec, model)
    assert any(n.startswith("conv2_1") and "'same'" in n for n in notes)
    assert any(n.startswith("conv2_2") for n in notes)
    assert not any(n.startswith("conv1_") for n in notes)


def test_adaptation_notes_with_ten_or_more_blocks(monkeypatch):
    # Block 1's notes must be about conv1 / conv1_<n> only, not about conv10, conv11...
    monkeypatch.setenv("CNNLAB_MAX_BLOCKS", "10")  # over the default limit of 8, as a teacher may allow
    asked_same = ModelSpec(blocks=[ConvBlock(2, 3, padding="valid", pooling="none")]
                           + [ConvBlock(2, 3, padding="same", pooling="none") for _ in range(9)], dense_units=[])
    model = build_model(asked_same, (28, 28, 1), 2)
    assert model.get_layer("conv10").padding == "same"  # as the spec asks: nothing was adapted
    assert adaptation_notes(asked_same, model) == []

    all_valid = ModelSpec(blocks=[ConvBlock(2, 3, padding="valid", pooling="none") for _ in range(10)], dense_units=[])
    model = build_model(all_valid, (8, 8, 1), 2)  # 8 -> 6 -> 4 -> 2, then blocks 4..10 fall back to 'same'
    notes = adaptation_notes(all_valid, model)
    assert len(notes) == len(set(notes)), notes
    assert sorted(n.split(":")[0] for n in notes) == sorted(f"conv{i}" for i in range(4, 11))


def test_batch_norm_blocks_get_named_activation_layers():
    model = build_model(PRESETS["small_cifar"].spec(), (32, 32, 3), 10)
    names = [layer.name for layer in model.layers]
    i = names.index("conv1_1")
    assert names[i:i + 3] == ["conv1_1", "bn1_1", "relu1_1"]
    assert model.get_layer("conv1_1").get_config()["activation"] == "linear"


def test_pool_early_pools_right_after_the_first_convolution():
    spec = ModelSpec(blocks=[ConvBlock(8, 3, convs=2, batch_norm=True, activation="gelu", pool_early=True),
                             ConvBlock(4, 3, convs=2, activation="relu", pool_early=True)], dense_units=[],
                     head="global_max")
    model = build_model(spec, (16, 16, 3), 10)
    assert [layer.name for layer in model.layers[1:]] == [
        "conv1_1", "maxpool1", "bn1_1", "gelu1_1", "conv1_2", "bn1_2", "gelu1_2",
        "conv2_1", "maxpool2", "relu2_1", "conv2_2", "global_maxpool", "predictions"]
    # without batch norm the first convolution's activation moves after the pooling; the others stay fused
    assert model.get_layer("conv2_1").get_config()["activation"] == "linear"
    assert model.get_layer("conv2_2").get_config()["activation"] == "relu"
    assert model.get_layer("global_maxpool").output.shape[1:] == (4,)
    # the same network as pooling after the block would give, where max pooling commutes with the steps between
    late = ModelSpec(blocks=[ConvBlock(4, 3, convs=1, activation="relu")], dense_units=[], head="global_max")
    early = ModelSpec(blocks=[ConvBlock(4, 3, convs=1, activation="relu", pool_early=True)], dense_units=[],
                      head="global_max")
    a, b = build_model(late, (8, 8, 3), 3, seed=1), build_model(early, (8, 8, 3), 3, seed=1)
    b.set_weights(a.get_weights())
    x = np.random.default_rng(0).random((4, 8, 8, 3), np.float32)
    np.testing.assert_allclose(np.asarray(a(x)), np.asarray(b(x)), rtol=1e-5, atol=1e-6)


INVALID_SPECS = {
    "bad_activation": (ModelSpec(blocks=[ConvBlock(8, activation="swishy")]), (28, 28, 1), 10, "activation"),
    "bad_pooling": (ModelSpec(blocks=[ConvBlock(8, pooling="min")]), (28, 28, 1), 10, "pooling"),
    "zero_filters": (ModelSpec(blocks=[ConvBlock(0)]), (28, 28, 1), 10, "filters"),
    "block_dropout_1": (ModelSpec(blocks=[ConvBlock(8, dropout=1.0)]), (28, 28, 1), 10, "dropout"),
    "one_class": (ModelSpec(), (28, 28, 1), 1, "2 classes"),
    "four_channels": (ModelSpec(), (28, 28, 4), 10, "1 or 3"),
    "two_d_input": (ModelSpec(), (28, 28), 10, "input shape"),
    "bad_head": (ModelSpec(head="global_min"), (28, 28, 1), 10, "head"),
}


# Spec fields that core.models.architecture._validate does not check (yet). Two build a model silently
# (a dropout of 1.0 zeroes every feature in training; a negative rate is ignored), the
# others fail inside Keras with a plain ValueError instead of a ModelSpecError that says
# which field of the spec to change.
UNVALIDATED_SPECS = {
    "bad_dense_activation": (ModelSpec(dense_activation="swishy"), (28, 28, 1), 10, "activation"),
    "flatten_dropout_1": (ModelSpec(flatten_dropout=1.0), (28, 28, 1), 10, "dropout"),
    "negative_dense_dropout": (ModelSpec(dense_dropout=-0.5), (28, 28, 1), 10, "dropout"),
    "zero_dense_units": (ModelSpec(dense_units=[0]), (28, 28, 1), 10, "units"),
    "bad_padding": (ModelSpec(blocks=[ConvBlock(8, padding="full")]), (28, 28, 1), 10, "padding"),
    "zero_pool_size": (ModelSpec(blocks=[ConvBlock(8, pool_size=0)]), (28, 28, 1), 10, "pool"),
}


@pytest.mark.parametrize("case", list(INVALID_SPECS))
def test_invalid_spec_raises_model_spec_error(case):
    spec, shape, n_classes, words = INVALID_SPECS[case]
    with pytest.raises(ModelSpecError, match=words):
        build_model(spec, shape, n_classes)


@pytest.mark.parametrize("case", list(UNVALIDATED_SPECS))
def test_head_and_layer_fields_are_validated_too(case):
    spec, shape, n_classes, words = UNVALIDATED_SPECS[case]
    with pytest.raises(ModelSpecError, match=words):
        build_model(spec, shape, n_classes)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_model_spec_dict_round_trip(preset):
    spec = PRESETS[preset].spec()
    data = spec.to_dict()
    assert isinstance(data["blocks"][0], dict)
    again = ModelSpec.from_dict(json.loads(json.dumps(data)))  # through JSON, as stored next to a model
    assert again == spec
    assert all(isinstance(b, ConvBlock) for b in again.blocks)
    assert build_model(again, (32, 32, 3), 10).count_params() == build_model(spec, (32, 32, 3), 10).count_params()


@pytest.mark.parametrize("preset", ["small_cnn", "small_cifar", "lenet5"])
def test_layer_table_matches_model(preset):
    model = build_model(PRESETS[preset].spec(), (32, 32, 3), 10)
    rows = layer_table(model)
    assert [r["layer"] for r in rows] == [layer.name for layer in model.layers]
    assert [r["type"] for r in rows] == [type(layer).__name__ for layer in model.layers]
    assert sum(r["parameters"] for r in rows) == model.count_params()
    for row, layer in zip(rows, model.layers):
        assert row["output shape"] == str(tuple(layer.output.shape[1:]))
    conv = next(r for r in rows if r["layer"] == "conv1" or r["layer"] == "conv1_1")
    assert "3x3" in conv["detail"] or "5x5" in conv["detail"]
    assert rows[-1]["detail"] == "10 units, softmax"



# --- sizes and limits, worked out without building -------------------------------------------------------

SIZED_SHAPES = [((8, 8, 1), 10), ((28, 28, 1), 10), ((32, 32, 3), 4), ((112, 92, 1), 40), ((128, 128, 3), 5)]
CUSTOM_SPECS = {
    "batch_norm_valid_avg": ModelSpec(blocks=[ConvBlock(8, 5, convs=2, padding="valid", batch_norm=True, pooling="avg",
                                                        pool_size=3, dropout=0.1), ConvBlock(12, 3, activation="gelu")],
                                      dense_units=[33, 7], dense_dropout=0.2, flatten_dropout=0.3),
    "no_blocks": ModelSpec(blocks=[], dense_units=[10]),
    "pool_early_global_max": ModelSpec(blocks=[ConvBlock(6, 3, batch_norm=True, pooling="none", activation="gelu"),
                                               ConvBlock(8, 3, convs=2, batch_norm=True, pool_early=True),
                                               ConvBlock(9, 3, convs=1, pool_early=True, pooling="avg", pool_size=3)],
                                       dense_units=[], head="global_max"),
    "global_avg_dense": ModelSpec(blocks=[ConvBlock(5, 3)], dense_units=[7], head="global_avg", flatten_dropout=0.1),
    "no_pooling_wide_kernels": ModelSpec(blocks=[ConvBlock(3, 11, pooling="none", padding="valid"),
                                                 ConvBlock(5, 7, convs=3, pooling="max", pool_size=4)], dense_units=[]),
}


@pytest.mark.parametrize("shape, classes", SIZED_SHAPES, ids=["x".join(map(str, s)) for s, _ in SIZED_SHAPES])
@pytest.mark.parametrize("spec_name", [*PRESETS, *CUSTOM_SPECS])
def test_spec_size_matches_the_built_model(spec_name, shape, classes, monkeypatch):
    monkeypatch.setenv("CNNLAB_MAX_PARAMS", str(10**8))  # the MNIST presets take 30 M weights on 128-pixel photos
    spec = PRESETS[spec_name].spec() if spec_name in PRESETS else CUSTOM_SPECS[spec_name]
    size = spec_size(spec, shape, classes)
    model = build_model(spec, shape, classes)
    assert size.params == model.count_params()
    assert size.layers == len(model.layers) and size.blocks == len(spec.blocks)
    assert [p.output_shape for p in plan_layers(spec, shape, classes)] == [tuple(layer.output.shape[1:])
                                                                           for layer in model.layers[1:]]
    largest = max(model.layers, key=lambda layer: np.prod(layer.output.shape[1:]))
    assert size.largest_output == (largest.name, tuple(largest.output.shape[1:]))


def _tiny(**changes) -> ModelSpec:
    return ModelSpec(**{"blocks": [ConvBlock(4, 3)], "dense_units": [8], **changes})


# (spec and input just at the limit, the same just over it, the variable named)
SPEC_LIMITS = {
    "blocks": ((_tiny(blocks=[ConvBlock(2, 3, pooling="none")] * 8), (8, 8, 1)),
               (_tiny(blocks=[ConvBlock(2, 3, pooling="none")] * 9), (8, 8, 1)), "CNNLAB_MAX_BLOCKS"),
    "dense units": ((_tiny(dense_units=[4096]), (8, 8, 1)), (_tiny(dense_units=[4097]), (8, 8, 1)),
                    "CNNLAB_MAX_DENSE_UNITS"),
    "input side": ((_tiny(), (256, 256, 1)), (_tiny(), (257, 256, 1)), "CNNLAB_MAX_INPUT_SIDE"),
    "layer output": ((_tiny(blocks=[ConvBlock(64, 3)], dense_units=[]), (256, 256, 1)),
                     (_tiny(blocks=[ConvBlock(65, 3)], dense_units=[]), (256, 256, 1)), "CNNLAB_MAX_INPUT_SIDE"),
    "parameters": ((_tiny(dense_units=[1000]), (128, 128, 3)), (_tiny(dense_units=[1001]), (128, 128, 3)),
                   "CNNLAB_MAX_PARAMS"),
}


@pytest.mark.parametrize("limit", list(SPEC_LIMITS))
def test_a_spec_just_over_a_limit_is_refused_before_it_is_built(limit, monkeypatch):
    (fits, fits_shape), (over, over_shape), variable = SPEC_LIMITS[limit]
    if limit == "parameters":  # 64x64x4 flattened into dense 1000, and its softmax: 16,402,386 weights at 1000 units
        monkeypatch.setenv("CNNLAB_MAX_PARAMS", str(spec_size(fits, fits_shape, 2).params))
    assert check_spec_limits(fits, fits_shape, 2).params == spec_size(fits, fits_shape, 2).params
    with pytest.raises(ModelSpecError, match=variable) as info:
        build_model(over, over_shape, 2)
    assert str(info.value).startswith("This network is too big for the server.")


def test_a_teacher_moves_the_spec_limits(monkeypatch):
    wide = _tiny(dense_units=[5000])
    with pytest.raises(ModelSpecError, match="5,000 units; the limit is 4,096"):
        check_spec_limits(wide, (8, 8, 1), 2)
    monkeypatch.setenv("CNNLAB_MAX_DENSE_UNITS", "5000")
    check_spec_limits(wide, (8, 8, 1), 2)
    monkeypatch.setenv("CNNLAB_MAX_PARAMS", "1000")
    with pytest.raises(ModelSpecError, match="the limit is 1,000 .*CNNLAB_MAX_PARAMS"):
        check_spec_limits(wide, (8, 8, 1), 2)


def test_fifty_thousand_dense_units_on_128_pixel_photos_is_refused_at_once():
    # On the Train page this took 39 s and ended in ResourceExhaustedError, again on every click.
    spec = ModelSpec(blocks=PRESETS["small_cnn"].spec().blocks, dense_units=[50000])
    start = time.perf_counter()
    size = spec_size(spec, (128, 128, 3), 5)
    with pytest.raises(ModelSpecError) as info:
        build_model(spec, (128, 128, 3), 5)
    assert time.perf_counter() - start < 0.5
    assert size.params == 16 * 16 * 32 * 50000 + 50000 + 50000 * 5 + 5 + 448 + 4640 + 9248
    message = str(info.value)
    assert "'dense1' has 50,000 units; the limit is 4,096 units a layer" in message and "CNNLAB_MAX_DENSE_UNITS" in message
    assert f"It has {size.params:,} parameters" in message and "CNNLAB_MAX_PARAMS" in message

"""core.inspection.layers: the activations of chosen layers only, as the Activations page asks for a large network."""

from __future__ import annotations

import numpy as np
import pytest

from core.inspection import layers as introspection
from core.inspection.layers import activations, layer_names
from inspection_models import functional_model, random_image, sequential_model


def test_chosen_layers_are_those_of_the_all_layer_extractor_in_layer_order():
    model, image = functional_model(), random_image()
    every = activations(model, image)
    chosen = activations(model, image, ["predictions", "pool_a", "conv_a", "pool_a"])
    assert list(chosen) == ["conv_a", "pool_a", "predictions"]  # layer order, once each
    for name, maps in chosen.items():
        np.testing.assert_allclose(maps, every[name], rtol=1e-6, atol=1e-6)


def test_every_layer_named_is_the_all_layer_extractor():
    model = sequential_model()  # a Sequential lists no input layer
    assert layer_names(model) == ["conv_a", "pool_a", "conv_b", "pool_b", "flatten", "predictions"]
    assert introspection.get_extractor(model, reversed(layer_names(model))) is introspection.get_extractor(model)


def test_an_early_layer_needs_only_the_start_of_the_network():
    model = functional_model()
    extractor = introspection.get_extractor(model, ["conv_a"])
    assert extractor.layer_names == ["conv_a"]
    assert introspection.get_extractor(model, ("conv_a",)) is extractor
    image = random_image()
    maps = extractor(image)
    assert list(maps) == ["conv_a"]
    # one layer alone is one output of the sub-model: its maps whole, the same as among all the layers
    np.testing.assert_allclose(maps["conv_a"], activations(model, image)["conv_a"], rtol=1e-6, atol=1e-6)
    probs = activations(model, image, ["predictions"])["predictions"]
    assert probs.shape == (int(model.output_shape[-1]),) and abs(float(probs.sum()) - 1) < 1e-5


def test_unknown_or_no_names_raise():
    model = functional_model()
    with pytest.raises(ValueError, match=r"Expected names of layers of .*Received: \['nope'\]"):
        activations(model, random_image(), ["conv_a", "nope"])
    with pytest.raises(ValueError, match="Expected at least one layer name"):
        activations(model, random_image(), [])


def test_only_the_latest_sets_of_chosen_layers_are_kept(monkeypatch):
    monkeypatch.setattr(introspection, "PARTIAL_KEPT", 2)
    model = functional_model()
    every = introspection.get_extractor(model)
    first = introspection.get_extractor(model, ["conv_a"])
    introspection.get_extractor(model, ["conv_b"])
    assert introspection.get_extractor(model, ["conv_a"]) is first  # used again: now the latest
    introspection.get_extractor(model, ["pool_b"])  # the third set: conv_b's, least recently used, goes
    assert list(introspection._CHOSEN[model]) == [("conv_a",), ("pool_b",)]
    assert introspection.get_extractor(model) is every  # the all-layer one always stays

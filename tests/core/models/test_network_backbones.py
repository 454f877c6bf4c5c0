"""Transfer learning from an ImageNet network (core.models.backbones with ``network=``), from weights made here
(tests/imagenet_files.py) and vouched for through ``$CNNLAB_WEIGHTS_CHECKSUMS``; nothing downloads."""

from __future__ import annotations

import numpy as np
import pytest

from core.models.backbones import (BACKBONES, BackboneError, build_transfer_model, frozen_layers, layers_to_open,
                                   parameter_split, set_trainable_blocks, tuning_blocks, weight_change)
from core.models.imagenet import NETWORKS, PREPROCESSING_LAYER, preprocess_array
from core.models.imagenet_weights import weights_path
from download_fixtures import closed_port_url, offline_cache
from imagenet_files import trust, weights_file

SMALL = NETWORKS["mobilenet_v3_small"]
BACKBONE = BACKBONES["mobilenet_v3_small"]


@pytest.fixture
def weights(tmp_path, monkeypatch):
    offline_cache(tmp_path, monkeypatch)
    monkeypatch.setenv("CNNLAB_WEIGHTS_MIRROR", closed_port_url())
    monkeypatch.setattr("core.models.imagenet_weights._LOADED", {})
    path = weights_file(SMALL, weights_path(SMALL).parent)
    trust(path, SMALL, tmp_path, monkeypatch)
    return path


def test_every_network_is_a_backbone_once_its_weights_are_here(weights):
    assert {k for k, b in BACKBONES.items() if b.network} == set(NETWORKS)
    assert BACKBONE.available and not BACKBONES["resnet50"].available


def test_grey_digits_go_through_the_network_as_colour_photos_of_its_size_with_its_frozen_weights(weights):
    import keras

    shared = BACKBONE.load()
    with pytest.raises(BackboneError, match=r"needs colour photos of 224×224 .* these are grey"):
        build_transfer_model(shared, BACKBONE.feature_layer, (28, 28, 1), 10, network=SMALL.key)
    model = build_transfer_model(shared, BACKBONE.feature_layer, (28, 28, 1), 10, seed=0, grey_to_colour=True,
                                 network=SMALL.key)
    names = [layer.name for layer in model.layers]
    assert names[1:4] == ["grey_to_colour", "resize", PREPROCESSING_LAYER] and names[-2:] == ["features", "predictions"]
    assert model.output_shape == (None, 10)
    trainable, frozen = parameter_split(model)
    assert trainable == 576 * 10 + 10 and frozen + trainable == model.count_params()
    assert all(weight_change(model, shared, n) == 0.0 for n in frozen_layers(model))

    # its features are the network's on the same photo made colour and 224×224
    digits = np.random.default_rng(0).random((2, 28, 28, 1), np.float32)
    ours = keras.Model(model.input, model.get_layer(BACKBONE.feature_layer).output)(digits)
    colour = keras.ops.image.resize(np.repeat(digits, 3, axis=-1), (224, 224), antialias=True)
    theirs = keras.Model(shared.input, shared.get_layer(BACKBONE.feature_layer).output)(colour)
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), atol=1e-4)
    assert preprocess_array(np.ones((1, 1, 1, 3)), SMALL.mode).max() == 255.0  # MobileNetV3 scales 0..255 itself


def test_fine_tuning_opens_the_networks_last_blocks_without_their_batch_norm(weights):
    model = build_transfer_model(BACKBONE.load(), BACKBONE.feature_layer, (32, 32, 3), 2, seed=0,
                                 network=SMALL.key)
    blocks = tuning_blocks(model, BACKBONE.feature_layer)
    assert len(blocks) == 13 and PREPROCESSING_LAYER not in blocks[0] and blocks[-1][-1] == BACKBONE.feature_layer
    opened = set_trainable_blocks(model, 1, BACKBONE.feature_layer)
    assert opened == layers_to_open(model, 1, BACKBONE.feature_layer) and "conv_1" in opened
    assert not any("bn" in n.lower() or "batchnorm" in n.lower() for n in opened)
    assert model.get_layer("conv_1").trainable and not model.get_layer("conv").trainable


def test_a_network_over_the_weights_limit_is_refused_with_the_figures(weights, monkeypatch):
    monkeypatch.setenv("CNNLAB_MAX_PARAMS", "500K")
    with pytest.raises(BackboneError, match=r"has 940,851 weights, and this server allows 500,000 in one model \(CNNLAB_MAX_PARAMS\)"):
        build_transfer_model(BACKBONE.load(), BACKBONE.feature_layer, (32, 32, 3), 3, network=SMALL.key)

"""core.models.backbones: a new network on a trained one's features, checked against the backbone itself."""

from __future__ import annotations

import numpy as np
import pytest

from core.models.architecture import build_model
from core.models.backbones import (
    BACKBONES,
    BackboneError,
    backbone_blocks,
    build_transfer_model,
    check_fits,
    frozen_layers,
    parameter_split,
    set_trainable_blocks,
)
from core.models.presets import airbench_layout


@pytest.fixture(scope="module")
def backbone():
    # the photo model's layout at a small size, with weights moved off their initial values
    model = build_model(airbench_layout("tiny_photo", 4, (6, 8)), (16, 16, 3), 5, seed=0)
    rng = np.random.default_rng(0)
    model.set_weights([w + rng.normal(0, 0.1, w.shape).astype(np.float32) if w.ndim > 1 else w
                       for w in model.get_weights()])
    return model


def test_blocks_follow_the_layer_names(backbone):
    assert backbone_blocks(backbone, "global_maxpool") == [
        ["conv1", "bn1", "gelu1"],
        ["conv2_1", "maxpool2", "bn2_1", "gelu2_1", "conv2_2", "bn2_2", "gelu2_2"],
        ["conv3_1", "maxpool3", "bn3_1", "gelu3_1", "conv3_2", "bn3_2", "gelu3_2", "global_maxpool"]]
    with pytest.raises(BackboneError, match="nope"):
        backbone_blocks(backbone, "nope")


def test_the_new_network_computes_the_backbones_features_on_resized_photos(backbone):
    import keras

    before = [w.copy() for w in backbone.get_weights()]
    model = build_transfer_model(backbone, "global_maxpool", (24, 20, 3), 2, seed=0)
    assert model.layers[1].name == "resize" and model.output_shape == (None, 2)
    x = np.random.default_rng(1).random((3, 24, 20, 3), np.float32)
    features = keras.Model(model.input, model.get_layer("global_maxpool").output)(x)
    reference = keras.Model(backbone.input, backbone.get_layer("global_maxpool").output)(
        keras.ops.image.resize(x, (16, 16), antialias=True))
    np.testing.assert_allclose(np.asarray(features), np.asarray(reference), rtol=1e-5, atol=1e-5)
    # the backbone is left as it was: weights and trainable flags (the shipped one is shared)
    assert all(np.array_equal(a, b) for a, b in zip(before, backbone.get_weights()))
    assert all(layer.trainable for layer in backbone.layers)
    # same size: no resizing layer
    assert "resize" not in [layer.name for layer in build_transfer_model(backbone, "global_maxpool", (16, 16, 3), 2).layers]


def test_training_a_frozen_backbone_changes_only_the_new_head(backbone):
    from core.training.config import TrainConfig
    from core.training.run import compile_model

    model = build_transfer_model(backbone, "global_maxpool", (16, 16, 3), 2, seed=0)
    assert frozen_layers(model) == ["conv1", "bn1", "conv2_1", "bn2_1", "conv2_2", "bn2_2", "conv3_1", "bn3_1",
                                    "conv3_2", "bn3_2"]
    trainable, frozen = parameter_split(model)
    assert trainable == 8 * 2 + 2 and trainable + frozen == model.count_params()
    before = {layer.name: [w.copy() for w in layer.get_weights()] for layer in model.layers}
    compile_model(model, TrainConfig(optimizer="adam", learning_rate=0.1))
    x = np.random.default_rng(2).random((16, 16, 16, 3), np.float32)
    model.fit(x, np.arange(16) % 2, epochs=2, batch_size=8, verbose=0)
    for layer in model.layers:
        same = all(np.array_equal(a, b) for a, b in zip(before[layer.name], layer.get_weights()))
        assert same == (layer.name != "predictions"), layer.name  # BN statistics too: frozen BN runs in inference


def test_fine_tuning_opens_the_top_blocks_but_not_their_batch_norm(backbone):
    model = build_transfer_model(backbone, "global_maxpool", (16, 16, 3), 2)
    opened = set_trainable_blocks(model, 1, "global_maxpool")
    assert opened == ["conv3_1", "maxpool3", "gelu3_1", "conv3_2", "gelu3_2", "global_maxpool"]
    assert model.get_layer("conv3_1").trainable and not model.get_layer("bn3_1").trainable
    assert not model.get_layer("conv2_2").trainable
    trainable, _ = parameter_split(model)
    conv3 = sum(model.get_layer(n).count_params() for n in ("conv3_1", "conv3_2"))
    assert trainable == conv3 + model.get_layer("predictions").count_params()
    set_trainable_blocks(model, 0, "global_maxpool")
    assert parameter_split(model)[0] == model.get_layer("predictions").count_params()
    with pytest.raises(BackboneError, match="between 0 and 3"):
        set_trainable_blocks(model, 4, "global_maxpool")


def test_grey_photos_are_refused_with_what_the_backbone_needs_or_converted_inside_the_network(backbone):
    import keras

    with pytest.raises(BackboneError, match=r"needs colour photos of 32×32 \(3 channels\); these are grey.*Convert"):
        check_fits((32, 32, 3), (28, 28, 1), "The photo model")
    check_fits((32, 32, 3), (64, 64, 3))
    check_fits((32, 32, 3), (28, 28, 1), grey_to_colour=True)
    with pytest.raises(BackboneError, match="needs colour photos"):
        build_transfer_model(backbone, "global_maxpool", (12, 12, 1), 2)
    model = build_transfer_model(backbone, "global_maxpool", (12, 12, 1), 2, grey_to_colour=True)
    assert [layer.name for layer in model.layers[1:3]] == ["grey_to_colour", "resize"]
    x = np.random.default_rng(3).random((2, 12, 12, 1), np.float32)
    features = keras.Model(model.input, model.get_layer("global_maxpool").output)(x)
    reference = keras.Model(backbone.input, backbone.get_layer("global_maxpool").output)(
        keras.ops.image.resize(np.repeat(x, 3, axis=-1), (16, 16), antialias=True))
    np.testing.assert_allclose(np.asarray(features), np.asarray(reference), rtol=1e-5, atol=1e-5)
    set_trainable_blocks(model, 3, "global_maxpool")  # the conversion and resizing are no block of the backbone
    assert model.get_layer("conv1").trainable


def test_the_photo_backbone_names_the_shipped_photo_model():
    backbone = BACKBONES["photo_cifar10"]
    assert backbone.path.name == "photo_cifar10" and backbone.feature_layer == "global_maxpool"


def test_a_saved_transfer_network_passes_the_file_checks_and_loads_the_same(backbone, tmp_path):
    from core.storage.card import ModelCard
    from core.storage.files import load_model, save_model
    from core.storage.model_limits import check_model_file

    model = build_transfer_model(backbone, "global_maxpool", (12, 12, 1), 3, grey_to_colour=True)
    set_trainable_blocks(model, 1, "global_maxpool")
    save_model(model, ModelCard(name="on the photo model"), tmp_path / "t")
    size = check_model_file(tmp_path / "t.keras")  # the config walk knows every layer, the conversion included
    assert size.params == model.count_params()
    loaded, _ = load_model(tmp_path / "t")
    x = np.random.default_rng(4).random((2, 12, 12, 1), np.float32)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-5, atol=1e-6)
    assert frozen_layers(loaded) == frozen_layers(model)  # what was frozen stays frozen for a later run

"""core.storage.files: a model and its card saved as NAME.keras plus NAME.json, atomically, and loaded safely."""

from __future__ import annotations

import json
import os
from pathlib import Path

import keras
import numpy as np
import pytest

from core.models.architecture import build_model
from core.storage.card import ModelCard, card_for_run
from core.storage.files import ModelFileError, load_card, load_model, model_paths, save_model
from core.training.config import TrainConfig
from training_models import TINY_SPEC


def _card(model, dataset):
    return card_for_run(model, dataset, name="tiny", spec=TINY_SPEC.to_dict(), train_config=TrainConfig().to_dict(),
                        result={"history": {"loss": [1.0, 0.5]}, "test_accuracy": np.float32(0.5),
                                "test_loss": 0.9, "epochs_done": 2, "train_seconds": 1.5})


def test_save_and_load_round_trip(tmp_path, small_shapes, tiny_model):
    card = _card(tiny_model, small_shapes)
    keras_path, json_path = save_model(tiny_model, card, tmp_path / "models" / "tiny")
    assert keras_path.name == "tiny.keras" and json_path.name == "tiny.json"
    # Written atomically: no temporary file is left beside the two results.
    assert sorted(os.listdir(tmp_path / "models")) == ["tiny.json", "tiny.keras"]
    umask = os.umask(0)
    os.umask(umask)
    assert (keras_path.stat().st_mode & 0o777) == (0o666 & ~umask)

    # np.float32 in the card is stored as a plain JSON number.
    assert json.loads(json_path.read_text())["metrics"]["test_accuracy"] == 0.5
    for path in (tmp_path / "models" / "tiny", keras_path, json_path):
        loaded, loaded_card = load_model(path)
        x = small_shapes.x_test[:8]
        np.testing.assert_array_equal(np.asarray(loaded(x, training=False)), np.asarray(tiny_model(x, training=False)))
        assert loaded_card == card
        assert loaded_card.metrics.test_accuracy == 0.5 and type(loaded_card.metrics.test_accuracy) is float
        assert [layer.name for layer in loaded.layers] == [layer.name for layer in tiny_model.layers]


def test_save_overwrites_previous_files(tmp_path, small_shapes, tiny_model):
    save_model(tiny_model, ModelCard(name="first", extra={"version": 1}), tmp_path / "m.keras")
    other = build_model(TINY_SPEC, small_shapes.input_shape, 4, seed=1)
    second = ModelCard(name="second", extra={"version": 2})
    save_model(other, second, tmp_path / "m")
    loaded, card = load_model(tmp_path / "m")
    assert card == second and card.extra == {"version": 2}
    np.testing.assert_array_equal(loaded.get_weights()[0], other.get_weights()[0])
    assert sorted(os.listdir(tmp_path)) == ["m.json", "m.keras"]


def test_load_model_refuses_lambda_layer(tmp_path):
    inputs = keras.Input((4,))
    x = keras.layers.Lambda(lambda t: t * 2.0, name="double")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
    save_model(model, ModelCard(name="unsafe"), tmp_path / "unsafe")
    with pytest.raises(ModelFileError, match="unsafe.keras"):
        load_model(tmp_path / "unsafe")


def test_load_model_refuses_random_bytes(tmp_path):
    (tmp_path / "junk.keras").write_bytes(np.random.default_rng(0).bytes(2048))
    with pytest.raises(ModelFileError, match="junk.keras"):
        load_model(tmp_path / "junk.keras")


def test_load_model_missing_file_and_bad_json(tmp_path, tiny_model):
    with pytest.raises(ModelFileError, match="not found"):
        load_model(tmp_path / "absent")
    save_model(tiny_model, ModelCard(name="saved as m"), tmp_path / "m")
    (tmp_path / "m.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="JSON"):
        load_model(tmp_path / "m")
    (tmp_path / "m.json").unlink()
    assert load_model(tmp_path / "m")[1] == ModelCard(name="m")  # a card named after the file


@pytest.mark.parametrize("given", ["m", "m.keras", "m.json"])
def test_model_paths_with_or_without_a_suffix(tmp_path, given):
    assert model_paths(tmp_path / given) == (tmp_path / "m.keras", tmp_path / "m.json")
    assert model_paths("a.b/shapes.v2") == (Path("a.b/shapes.v2.keras"), Path("a.b/shapes.v2.json"))


def test_load_card_reads_the_json_alone(tmp_path):
    assert load_card(tmp_path / "absent") is None
    card = ModelCard(name="only a card", class_names=["a", "b"], input_shape=(8, 8, 1))
    (tmp_path / "c.json").write_text(card.to_json())  # no .keras beside it: the card is read without the model
    assert load_card(tmp_path / "c") == card and load_card(tmp_path / "c.keras") == card
    for text, message in (("{not json", "JSON"), ("[1, 2]", "JSON object")):
        (tmp_path / "c.json").write_text(text)
        with pytest.raises(ModelFileError, match=message) as info:
            load_card(tmp_path / "c")
        assert "c.json" in str(info.value)


def test_a_card_that_cannot_be_written_stops_the_save_before_any_file(tmp_path, tiny_model):
    with pytest.raises(TypeError, match="model card"):
        save_model(tiny_model, ModelCard(name="bad", extra={"thing": object()}), tmp_path / "bad")
    assert list(tmp_path.iterdir()) == []

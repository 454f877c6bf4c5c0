"""core.storage.model_limits: .keras files over a limit are refused from their config.json and zip index alone,
on upload and on load; the app's own models and every preset pass with the figures Keras counts."""

from __future__ import annotations

import json
import shutil
import struct
import time
import zipfile

import keras
import pytest

from core.models.architecture import build_model
from core.models.presets import PRESETS
from core.storage.card import ModelCard
from core.storage.files import ModelFileError, load_model
from core.storage.model_limits import check_model_file
from core.storage.registry import ModelRegistry
from hostile_models import giant_dense, huge_input, layers_of, rewrite, small_dense, tiny_cnn, zero_weights

SHIPPED = sorted((__import__("conftest").REPO_ROOT / "assets" / "models").glob("*.keras"))


def refusal(path, **kwargs) -> str:
    with pytest.raises(ModelFileError) as info:
        check_model_file(path, **kwargs)
    return str(info.value)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_the_shipped_models_pass_with_the_weights_keras_counts(path):
    start = time.perf_counter()
    size = check_model_file(path)
    assert time.perf_counter() - start < 0.1  # stored uncompressed: nothing unpacked
    assert size.params == keras.models.load_model(path, compile=False).count_params()


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_preset_saved_by_keras_passes(preset, tmp_path):
    model = build_model(PRESETS[preset].spec(), (28, 28, 1), 10)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.optimizer.build(model.trainable_variables)  # saved with Adam's two copies of every weight, as after training
    model.save(tmp_path / "m.keras")
    assert check_model_file(tmp_path / "m.keras").params == model.count_params()


def test_a_sequential_model_with_its_optimizer_passes(tmp_path):
    model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.RandomFlip(), keras.layers.Conv2D(4, 3),
                              keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")])
    # every copy of the weights a Keras optimiser can save: Adam's three with amsgrad, an average, accumulated gradients
    model.compile(optimizer=keras.optimizers.Adam(amsgrad=True, use_ema=True, gradient_accumulation_steps=2),
                  loss="categorical_crossentropy")
    model.optimizer.build(model.trainable_variables)
    model.save(tmp_path / "seq.keras")
    assert check_model_file((tmp_path / "seq.keras").read_bytes(), "seq.keras").params == model.count_params()


# --- each limit: a real file just at it passes, one just over is refused ------------------------------------


def test_dense_units(tmp_path):
    assert check_model_file(giant_dense(tmp_path, units=4096)).widest_dense == ("dense", 4096)
    message = refusal(giant_dense(tmp_path, units=4097))
    assert "giant_dense.keras is too big for this server." in message
    assert "'dense' has 4,097 units; the limit is 4,096 units a layer" in message and "CNNLAB_MAX_DENSE_UNITS" in message


def test_the_giant_dense_layer_is_refused_for_its_units_weights_and_output(tmp_path):
    path = giant_dense(tmp_path)
    assert path.stat().st_size < 2500
    message = refusal(path)
    for words in ("'dense' has 100,000,000 units", "CNNLAB_MAX_DENSE_UNITS", "It has 700,000,002 parameters",
                  "CNNLAB_MAX_PARAMS", "outputs 100,000,000 numbers for each image"):
        assert words in message


def test_input_side(tmp_path, monkeypatch):
    assert check_model_file(tiny_cnn(tmp_path, side=256)).input_shapes == ((256, 256, 3),)
    message = refusal(tiny_cnn(tmp_path, side=257))
    assert "It takes images of 257×257 pixels; the limit is 256 pixels a side" in message
    assert "CNNLAB_MAX_INPUT_SIDE" in message
    monkeypatch.setenv("CNNLAB_MAX_INPUT_SIDE", "257")
    check_model_file(tiny_cnn(tmp_path, side=257))


def test_the_20000_pixel_input_is_refused(tmp_path):
    message = refusal(huge_input(tmp_path))
    assert "20000×20000 pixels; the limit is 256" in message
    assert "'conv1' outputs 20000×20000×8 = 3.2 G numbers for each image; the limit is 4.2 M" in message


def test_the_output_of_one_layer(tmp_path):
    check_model_file(tiny_cnn(tmp_path, side=256, filters=64))  # 256x256x64: VGG's widest layer at this size
    message = refusal(tiny_cnn(tmp_path, side=256, filters=65))
    assert "'conv1' outputs 256×256×65 = 4.3 M numbers for each image; the limit is 4.2 M" in message
    assert "CNNLAB_MAX_INPUT_SIDE" in message


def test_parameters(tmp_path, monkeypatch):
    path = tiny_cnn(tmp_path)  # 8 * 27 + 8 + 8 * 4 + 4 = 260 weights
    monkeypatch.setenv("CNNLAB_MAX_PARAMS", "260")
    assert check_model_file(path).params == 260
    monkeypatch.setenv("CNNLAB_MAX_PARAMS", "259")
    message = refusal(path)
    assert "It has 260 parameters (weights), 260; the limit is 259" in message and "CNNLAB_MAX_PARAMS" in message


def test_layers(tmp_path, monkeypatch):
    path = tiny_cnn(tmp_path)  # image, conv1, pool, predictions
    monkeypatch.setenv("CNNLAB_MAX_LAYERS", "4")
    check_model_file(path)
    monkeypatch.setenv("CNNLAB_MAX_LAYERS", "3")
    assert "It has 4 layers; the limit is 3 (a teacher can change it with CNNLAB_MAX_LAYERS)" in refusal(path)


# --- the archive: read only what the limits allow -------------------------------------------------------


def test_a_config_larger_than_any_model_needs_is_not_read(tmp_path):
    def pad(config):
        config["padding"] = " " * (5 * 2**20)  # deflates to a few KB

    path = rewrite(tiny_cnn(tmp_path), tmp_path / "padded.keras", pad)
    assert path.stat().st_size < 50_000
    message = refusal(path)
    assert "its config.json unpacks to more than 3.9 MB, the most CNN Lab reads" in message and "CNNLAB_MAX_LAYERS" in message


def test_weights_of_deflated_zeros_are_refused_before_they_are_read(tmp_path):
    path = zero_weights(tmp_path, unpacked=64 * 2**20)
    message = refusal(path)
    assert "its weights file, model.weights.h5, unpacks to 64 MB or more, but the 260 weights" in message
    assert "fill at most 1.1 MB" in message


def test_weights_stored_larger_than_the_model_needs_are_refused_from_the_index(tmp_path):
    path = rewrite(tiny_cnn(tmp_path), tmp_path / "stored.keras", members={"model.weights.h5": bytes(2 * 2**20)},
                   compression=zipfile.ZIP_STORED)
    assert "unpacks to 2.0 MB or more" in refusal(path)


def _understate(path, member: str, declared: int):
    """Make the zip's headers say ``member`` unpacks to ``declared`` bytes, whatever it holds."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    for signature, size_at in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        at = data.find(signature)
        while at >= 0:
            name_at = at + (46 if signature == b"PK\x01\x02" else 30)
            if data[name_at:name_at + len(name)] == name:
                struct.pack_into("<I", data, at + size_at, declared)
            at = data.find(signature, at + 4)
    path.write_bytes(bytes(data))
    return path


def test_a_weights_member_whose_header_understates_it_is_refused(tmp_path):
    path = _understate(zero_weights(tmp_path, unpacked=8 * 2**20), "model.weights.h5", 1000)
    assert zipfile.ZipFile(path).getinfo("model.weights.h5").file_size == 1000
    assert "is a damaged zip archive" in refusal(path)


def test_other_members_are_refused(tmp_path):
    path = rewrite(tiny_cnn(tmp_path), tmp_path / "assets.keras", members={"assets/vocabulary.txt": b"a\nb\n"})
    assert "this one also holds assets/vocabulary.txt" in refusal(path)


def test_a_member_twice_under_one_name_is_refused(tmp_path):
    path = rewrite(tiny_cnn(tmp_path), tmp_path / "twice.keras")
    with zipfile.ZipFile(path, "a") as archive, pytest.warns(UserWarning, match="Duplicate name"):
        archive.writestr("model.weights.h5", b"")
    assert "holds a file twice under one name" in refusal(path)


def test_an_index_of_thousands_of_members_is_refused_before_it_is_parsed(tmp_path):
    path = tmp_path / "many.keras"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(5000):
            archive.writestr(f"{i}", b"")
    assert "its zip index lists 5,000 files" in refusal(path)


def test_a_config_that_is_not_json_is_refused(tmp_path):
    path = rewrite(tiny_cnn(tmp_path), tmp_path / "text.keras", members={"config.json": b"{not json"})
    assert "its config.json is not valid JSON" in refusal(path)


# --- both ways in: upload and load ------------------------------------------------------------------------


@pytest.fixture
def no_keras_loading(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("keras.models.load_model was called on a file over the limits")

    monkeypatch.setattr(keras.models, "load_model", fail)
    monkeypatch.setattr(keras.saving, "load_model", fail)


@pytest.mark.parametrize("make", [giant_dense, huge_input, lambda folder: zero_weights(folder, 32 * 2**20)],
                         ids=["giant_dense", "huge_input", "zero_weights"])
def test_an_upload_over_the_limits_never_reaches_keras(make, tmp_path, no_keras_loading):
    registry = ModelRegistry(tmp_path / "models")
    path = make(tmp_path)
    with pytest.raises(ModelFileError, match="too big for this server|unpacks to"):
        registry.import_upload(path.read_bytes(), path.name)
    assert list(registry.root.iterdir()) == []  # nothing written, not even a temporary file


def test_a_file_put_in_the_models_folder_by_hand_is_checked_on_load(tmp_path, no_keras_loading):
    registry = ModelRegistry(tmp_path / "models")
    shutil.copy(giant_dense(tmp_path), registry.root / "by_hand.keras")
    (registry.root / "by_hand.json").write_text(ModelCard(name="by hand").to_json())
    assert [e.id for e in registry.list_entries()] == ["by_hand"]  # listed from its card, without loading it
    for load in (lambda: registry.load("by_hand"), lambda: load_model(registry.root / "by_hand")):
        with pytest.raises(ModelFileError, match="by_hand.keras is too big for this server"):
            load()


def test_a_file_within_the_limits_loads(tmp_path):
    path = small_dense(tmp_path)
    model, card = load_model(path)
    assert model.count_params() == check_model_file(path).params == 30 and card.name == "small_dense"


def test_the_config_of_a_real_file_is_what_the_walk_reads(tmp_path):
    # The edits of hostile_models keep a file as consistent as Keras writes one: Keras itself reads the
    # edited dense layer (here small enough to load).
    path = giant_dense(tmp_path, units=7)
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    assert [layer["config"].get("units") for layer in layers_of(config)] == [None, None, 7, 2]
    rebuilt = keras.models.model_from_json(json.dumps(config))
    assert rebuilt.count_params() == check_model_file(path).params

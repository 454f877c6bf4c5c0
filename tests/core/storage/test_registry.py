"""core.storage.registry: saved models in a folder, safe against races and hostile uploads.

Saves killed for real, and saves from two processes at once, are in tests/system/test_registry_crash.py.
"""

from __future__ import annotations

import json
import re
import threading
import zipfile
from dataclasses import replace

import keras
import numpy as np
import pytest

from core.storage.card import DatasetRef, Metrics, ModelCard
from core.storage.files import ModelFileError
from core.storage.registry import ModelRegistry, RegistryEntry, models_dir, slugify, validate_id
from registry_models import probe, tiny_cnn


@pytest.fixture
def registry(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_MODELS_DIR", str(tmp_path / "models"))
    return ModelRegistry()


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    """Real model files of every kind an upload test needs, saved once."""
    folder = tmp_path_factory.mktemp("uploads")
    files = {}

    good = tiny_cnn()
    files["good"] = folder / "good_cnn.keras"
    good.save(files["good"])

    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Lambda(lambda t: t * 2.0, name="double")(inputs)
    x = keras.layers.Flatten()(x)
    files["lambda"] = folder / "lambda.keras"
    keras.Model(inputs, keras.layers.Dense(4, activation="softmax")(x)).save(files["lambda"])

    vector = keras.Input((10,))
    files["vector"] = folder / "vector.keras"
    keras.Model(vector, keras.layers.Dense(3, activation="softmax")(vector)).save(files["vector"])

    image = keras.Input((32, 32, 3))
    files["no_classifier"] = folder / "maps.keras"
    keras.Model(image, keras.layers.Conv2D(4, 3)(image)).save(files["no_classifier"])

    files["h5"] = folder / "legacy.h5"
    good.save(files["h5"])  # Keras 3 still writes the legacy HDF5 format, with a warning
    assert files["h5"].read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"

    # A layer class this process does not know: what a model with a custom layer looks like here.
    with zipfile.ZipFile(files["good"]) as src:
        parts = {name: src.read(name) for name in src.namelist()}
    config = json.loads(parts["config.json"])
    conv = next(layer for layer in config["config"]["layers"] if layer["class_name"] == "Conv2D")
    conv.update(class_name="Twice", module=None, registered_name="my_package>Twice")
    parts["config.json"] = json.dumps(config).encode()
    files["custom"] = folder / "custom.keras"
    with zipfile.ZipFile(files["custom"], "w") as dst:
        for name, data in parts.items():
            dst.writestr(name, data)

    files["zip_not_keras"] = folder / "photos.keras"
    with zipfile.ZipFile(files["zip_not_keras"], "w") as dst:
        dst.writestr("cat.txt", "not a model")

    mnist = tiny_cnn((28, 28, 1), 10)
    files["mnist"] = folder / "mnist_cnn.keras"
    mnist.save(files["mnist"])
    return files


def test_models_dir_honours_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_MODELS_DIR", str(tmp_path / "mine" / "models"))
    assert models_dir() == tmp_path / "mine" / "models" and models_dir().is_dir()
    assert ModelRegistry().root == tmp_path / "mine" / "models"
    monkeypatch.delenv("CNNLAB_MODELS_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert models_dir() == tmp_path / "home" / ".cnnlab" / "models" and models_dir().is_dir()


def test_save_list_load_round_trip_gives_identical_predictions(registry):
    model = tiny_cnn()
    expected = np.asarray(model(probe()))
    card = ModelCard(name="Shapes CNN", dataset=DatasetRef(name="shapes", title="Shapes (synthetic)"),
                     metrics=Metrics(test_accuracy=0.75), params=model.count_params())
    entry = registry.save(model, card)
    assert re.fullmatch(r"shapes-cnn-\d{8}-\d{6}", entry.id)
    listed = registry.list_entries()
    assert [e.id for e in listed] == [entry.id]
    e = listed[0]
    assert isinstance(e, RegistryEntry) and e.name == e.card.name == "Shapes CNN"
    assert e.card.dataset_title == "Shapes (synthetic)"
    assert e.card.test_accuracy == 0.75 and e.size_bytes == e.keras_path.stat().st_size > 0
    assert e.keras_path == registry.root / f"{entry.id}.keras" and e.json_path.is_file() and e.created
    loaded, loaded_card = registry.load(entry.id)
    assert loaded_card == e.card == replace(card, created=e.card.created)  # the card as saved, with its time
    np.testing.assert_array_equal(np.asarray(loaded(probe())), expected)
    assert sorted(p.name for p in registry.root.iterdir()) == [f"{entry.id}.json", f"{entry.id}.keras"]


def test_ids_are_unique_safe_slugs_and_entries_are_newest_first(registry):
    model = tiny_cnn()
    old = registry.save(model, ModelCard(name="../../etc/passwd", created="2020-01-01T00:00:00+00:00"))
    new = registry.save(model, ModelCard(name="../../etc/passwd", created="2024-01-01T00:00:00+00:00"))
    unnamed = registry.save(model, ModelCard(name="", created="2022-01-01T00:00:00"))  # naive time: taken as UTC
    assert old.id != new.id and old.id.startswith("etc-passwd-") and new.id.startswith("etc-passwd-")
    assert all(validate_id(i) and "/" not in i for i in (old.id, new.id, unnamed.id))
    assert unnamed.name == "model"
    assert [e.id for e in registry.list_entries()] == [new.id, unnamed.id, old.id]
    assert all(p.parent == registry.root for p in registry.root.rglob("*"))
    assert slugify("Ünïcode  CNN!!") == "n-code-cnn" and slugify("***") == "model"


def test_rename_rewrites_only_the_name(registry):
    entry = registry.save(tiny_cnn(), ModelCard(name="first", metrics=Metrics(test_accuracy=0.5)))
    renamed = registry.rename(entry.id, "  second name ")
    assert renamed.id == entry.id and renamed.name == "second name"
    assert [e.name for e in registry.list_entries()] == ["second name"]
    assert registry.get(entry.id).card.metrics == Metrics(test_accuracy=0.5)
    assert replace(renamed.card, name="first") == entry.card  # everything else as it was
    for blank in ("", "   "):
        with pytest.raises(ValueError, match="non-empty model name"):
            registry.rename(entry.id, blank)
    with pytest.raises(ModelFileError, match="Expected the id of a saved model"):
        registry.rename("no-such-model", "x")
    assert len(list(registry.root.iterdir())) == 2  # no temporary file left


def test_delete_removes_both_files(registry):
    keep = registry.save(tiny_cnn(), ModelCard(name="keep"))
    gone = registry.save(tiny_cnn(), ModelCard(name="gone"))
    registry.delete(gone.id)
    assert [e.id for e in registry.list_entries()] == [keep.id]
    assert not gone.keras_path.exists() and not gone.json_path.exists()
    with pytest.raises(ModelFileError):
        registry.delete(gone.id)
    with pytest.raises(ModelFileError):
        registry.load(gone.id)


@pytest.mark.parametrize("bad_id", ["../outside", "a/b", "a\\b", "..", ".hidden", "", "x/../../y"])
def test_ids_from_outside_are_validated(registry, bad_id):
    (registry.root.parent / "outside.keras").write_bytes(b"x")
    (registry.root.parent / "outside.json").write_text("{}")
    for call in (registry.get, registry.load, registry.delete, lambda i: registry.rename(i, "new")):
        with pytest.raises(ValueError, match="Expected a model id"):
            call(bad_id)
    assert (registry.root.parent / "outside.json").exists()


def test_list_skips_incomplete_broken_and_stray_files(registry):
    good = registry.save(tiny_cnn(), ModelCard(name="good"))
    root = registry.root
    (root / "orphan.keras").write_bytes(good.keras_path.read_bytes())  # .keras without JSON
    (root / "broken.keras").write_bytes(good.keras_path.read_bytes())
    (root / "broken.json").write_text('{"name": "bro')  # not valid JSON
    (root / "listy.keras").write_bytes(good.keras_path.read_bytes())
    (root / "listy.json").write_text('["not", "a", "dict"]')
    (root / "lonely.json").write_text('{"name": "no keras file"}')
    (root / ".tmp-half.keras").write_bytes(b"PK\x03\x04half")
    (root / ".good.abc.json").write_text('{"name": "temp"}')
    (root / ".tmp.keras").write_bytes(b"")
    (root / ".tmp.json").write_text('{"name": "hidden"}')
    (root / "notes.txt").write_text("mine")
    assert [e.id for e in registry.list_entries()] == [good.id]

    assert registry.remove_orphans() == []  # everything is younger than a minute
    removed = {p.name for p in registry.remove_orphans(min_age_s=0)}
    assert removed == {"orphan.keras", "lonely.json", ".tmp-half.keras", ".good.abc.json", ".tmp.keras", ".tmp.json"}
    assert sorted(p.name for p in root.iterdir()) == sorted(
        [good.keras_path.name, good.json_path.name, "broken.keras", "broken.json", "listy.keras", "listy.json",
         "notes.txt"])
    assert [e.id for e in registry.list_entries()] == [good.id]


def test_metadata_written_by_hand_is_read_in_the_shapes_the_app_uses(registry):
    # JSON files another tool wrote beside the models: a bare dataset name, a number for the metrics,
    # a table for the class names, a number for the dataset
    entry = registry.save(tiny_cnn(), ModelCard(name="by_hand"))
    entry.json_path.write_text(json.dumps({"name": "by_hand", "dataset": "shapes", "metrics": 0.9,
                                           "class_names": {"0": "a"}}))
    listed = registry.get(entry.id)
    assert listed.card.dataset == DatasetRef(name="shapes", title="shapes") and listed.card.dataset.name == "shapes"
    assert listed.card.dataset_title == "shapes"
    assert listed.card.test_accuracy is None and listed.card.class_names == []
    odd = registry.save(tiny_cnn(), ModelCard(name="odd"))
    odd.json_path.write_text(json.dumps({"name": "odd", "dataset": 7, "class_names": ["a", "b", "c", "d"]}))
    assert registry.get(odd.id).card.dataset is None and registry.get(odd.id).card.dataset_title is None
    assert registry.get(odd.id).card.class_names == ["a", "b", "c", "d"]
    assert {e.id for e in registry.list_entries()} == {entry.id, odd.id}  # both listed
    assert registry.load(entry.id)[1] == listed.card


def test_two_threads_saving_at_once_get_two_complete_entries(registry):
    models = [tiny_cnn(seed=1), tiny_cnn(seed=2)]
    start = threading.Barrier(2)
    results, errors = [None, None], []

    def save(i):
        try:
            start.wait()
            results[i] = registry.save(models[i], ModelCard(name="same name"))
        except BaseException as exc:  # a failure in a thread must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert results[0].id != results[1].id
    assert {e.id for e in registry.list_entries()} == {r.id for r in results}
    for model, result in zip(models, results):
        loaded, _ = registry.load(result.id)
        np.testing.assert_array_equal(np.asarray(loaded(probe())), np.asarray(model(probe())))


@pytest.mark.parametrize("kind, filename, expected", [
    ("empty", "model.keras", "is empty"),
    ("random", "model.keras", "not a Keras model file: a .keras file is a zip archive"),
    ("random", "notes.txt", "Expected a Keras 3 model file ending in .keras. Received: 'notes.txt'"),
    ("h5", "legacy.h5", 'Legacy .h5 files and TensorFlow SavedModel folders are not accepted'),
    ("h5", "legacy.keras", "legacy HDF5 (.h5) model renamed to .keras"),
    ("zip_not_keras", "photos.keras", "has no config.json"),
    ("lambda", "lambda.keras", "contains Python code (for example a Lambda layer) that would run on the server"),
    ("custom", "custom.keras", "uses custom layers or functions"),
    ("vector", "vector.keras", "is not an image model. Expected one input of shape (height, width, 1 or 3)"),
    ("no_classifier", "maps.keras", "is not a classifier"),
])
def test_import_upload_refuses_what_it_cannot_use(registry, model_files, kind, filename, expected):
    good = registry.save(tiny_cnn(), ModelCard(name="already there"))
    before = sorted(p.name for p in registry.root.iterdir())
    data = {"empty": b"", "random": np.random.default_rng(0).bytes(3000)}.get(kind)
    if data is None:
        data = model_files[kind].read_bytes()
    with pytest.raises(ModelFileError) as info:
        registry.import_upload(data, filename)
    assert expected in str(info.value)
    if kind in ("h5", "random") and filename != "model.keras":
        assert 'model.save("name.keras")' in str(info.value)  # says how to convert
    assert sorted(p.name for p in registry.root.iterdir()) == before  # nothing added, no temp file left
    assert [e.id for e in registry.list_entries()] == [good.id]


def test_import_upload_accepts_a_small_cnn(registry, model_files):
    original = keras.models.load_model(model_files["good"])
    entry = registry.import_upload(model_files["good"].read_bytes(), "C:\\Users\\me\\good_cnn.keras")
    assert entry.name == "good_cnn" and [e.id for e in registry.list_entries()] == [entry.id]
    card = entry.card
    assert card.source == "upload" and card.dataset is None and card.metrics == Metrics()
    assert card.class_names == ["0", "1", "2", "3"] and card.input_shape == (32, 32, 3)
    assert card.params == original.count_params() and card.created
    loaded, _ = registry.load(entry.id)
    np.testing.assert_array_equal(np.asarray(loaded(probe())), np.asarray(original(probe())))
    assert all(not p.name.startswith(".") for p in registry.root.iterdir())


def test_a_training_replay_is_saved_loaded_and_deleted_with_its_model(tmp_path):
    from core.training.progress import Snapshot
    from core.storage.replay import replay_path

    registry = ModelRegistry(tmp_path / "reg")
    rng = np.random.default_rng(0)
    snapshots = [Snapshot(e, rng.normal(size=(3, 3, 3, 4)).astype(np.float32),
                          {"conv1": rng.random((8, 8, 4), dtype=np.float32), "conv2": rng.random((4, 4, 8), dtype=np.float32)})
                 for e in range(3)]
    probe_image = rng.random((8, 8, 3), dtype=np.float32)
    entry = registry.save(tiny_cnn((8, 8, 3)), ModelCard(name="replayed"), replay=(snapshots, probe_image))
    loaded, loaded_probe = registry.load_replay(entry.id)
    assert [s.epoch for s in loaded] == [0, 1, 2]
    np.testing.assert_array_equal(loaded_probe, probe_image)
    for a, b in zip(snapshots, loaded):
        np.testing.assert_array_equal(a.kernel, b.kernel)
        assert set(b.maps) == {"conv1", "conv2"}
        np.testing.assert_allclose(a.maps["conv1"], b.maps["conv1"], atol=1e-3)  # stored as float16
    # an entry saved without a replay has none; deleting removes the replay file too
    plain = registry.save(tiny_cnn((8, 8, 3)), ModelCard(name="plain"))
    assert registry.load_replay(plain.id) is None
    registry.delete(entry.id)
    assert not replay_path(entry.keras_path).exists()



def test_a_name_longer_than_the_limit_is_refused_and_spaces_are_folded(tmp_path, monkeypatch):
    import keras

    from core.storage.card import ModelCard
    from core.storage.registry import ModelRegistry

    inputs = keras.Input((4, 4, 1))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(inputs)))
    registry = ModelRegistry(tmp_path)
    entry = registry.save(model, ModelCard(name="m"))
    with pytest.raises(ValueError, match="at most 60 characters. Received: 5,094"):
        registry.rename(entry.id, "x" * 5094)
    assert registry.get(entry.id).name == "m"
    assert registry.rename(entry.id, "  two\n words ").name == "two words"
    monkeypatch.setenv("CNNLAB_MAX_NAME_LENGTH", "5")
    with pytest.raises(ValueError, match="at most 5"):
        registry.rename(entry.id, "sixsix")

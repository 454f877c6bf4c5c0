"""core.registry: saved models in a folder, safe against crashes, races and hostile uploads."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from core.datasets import Dataset
from core.registry import (ModelRegistry, RegistryEntry, check_fit, datasets_that_fit, models_dir, slugify,
                           validate_id)
from core.storage import ModelFileError


def tiny_cnn(input_shape=(32, 32, 3), classes=4, seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(input_shape, name="image")
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="tiny_cnn")


def probe(shape=(32, 32, 3), n=3):
    return np.random.default_rng(1).random((n, *shape), dtype=np.float32)


def fake_dataset(name, title, shape, classes):
    """A Dataset of the right shape and class count: check_fit needs nothing else."""
    x = np.zeros((2, *shape), np.float32)
    y = np.zeros(2, np.int64)
    return Dataset(name, title, "", [f"c{i}" for i in range(classes)], x, y, x, y)


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
    entry = registry.save(model, {"name": "Shapes CNN", "dataset": {"name": "shapes", "title": "Shapes (synthetic)"},
                                  "metrics": {"test_accuracy": 0.75}, "params": model.count_params()})
    assert re.fullmatch(r"shapes-cnn-\d{8}-\d{6}", entry.id)
    listed = registry.list_entries()
    assert [e.id for e in listed] == [entry.id]
    e = listed[0]
    assert isinstance(e, RegistryEntry) and e.name == "Shapes CNN" and e.dataset_title == "Shapes (synthetic)"
    assert e.test_accuracy == 0.75 and e.size_bytes == e.keras_path.stat().st_size > 0
    assert e.keras_path == registry.root / f"{entry.id}.keras" and e.json_path.is_file() and e.created
    loaded, metadata = registry.load(entry.id)
    assert metadata["name"] == "Shapes CNN"
    np.testing.assert_array_equal(np.asarray(loaded(probe())), expected)
    assert sorted(p.name for p in registry.root.iterdir()) == [f"{entry.id}.json", f"{entry.id}.keras"]


def test_ids_are_unique_safe_slugs_and_entries_are_newest_first(registry):
    model = tiny_cnn()
    old = registry.save(model, {"name": "../../etc/passwd", "created": "2020-01-01T00:00:00+00:00"})
    new = registry.save(model, {"name": "../../etc/passwd", "created": "2024-01-01T00:00:00+00:00"})
    unnamed = registry.save(model, {"created": "2022-01-01T00:00:00"})  # naive time: taken as UTC
    assert old.id != new.id and old.id.startswith("etc-passwd-") and new.id.startswith("etc-passwd-")
    assert all(validate_id(i) and "/" not in i for i in (old.id, new.id, unnamed.id))
    assert unnamed.name == "model"
    assert [e.id for e in registry.list_entries()] == [new.id, unnamed.id, old.id]
    assert all(p.parent == registry.root for p in registry.root.rglob("*"))
    assert slugify("Ünïcode  CNN!!") == "n-code-cnn" and slugify("***") == "model"


def test_rename_rewrites_only_the_name(registry):
    entry = registry.save(tiny_cnn(), {"name": "first", "metrics": {"test_accuracy": 0.5}})
    renamed = registry.rename(entry.id, "  second name ")
    assert renamed.id == entry.id and renamed.name == "second name"
    assert [e.name for e in registry.list_entries()] == ["second name"]
    assert json.loads(entry.json_path.read_text())["metrics"] == {"test_accuracy": 0.5}
    for blank in ("", "   "):
        with pytest.raises(ValueError, match="non-empty model name"):
            registry.rename(entry.id, blank)
    with pytest.raises(ModelFileError, match="Expected the id of a saved model"):
        registry.rename("no-such-model", "x")
    assert len(list(registry.root.iterdir())) == 2  # no temporary file left


def test_delete_removes_both_files(registry):
    keep = registry.save(tiny_cnn(), {"name": "keep"})
    gone = registry.save(tiny_cnn(), {"name": "gone"})
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
    good = registry.save(tiny_cnn(), {"name": "good"})
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


CHILD = r"""
import os, sys, time
from pathlib import Path
from core.registry import ModelRegistry

reference, root, saves, pause_at, pause_nth = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
seen = {}


class CopyModel:
    # Saves a real .keras file slowly, in chunks, so that a kill can land in the middle of a write.
    def save(self, path):
        data = Path(reference).read_bytes()
        with open(path, "wb") as f:
            for i in range(0, len(data), 8192):
                f.write(data[i:i + 8192])
                f.flush()
                time.sleep(0.003)


real_replace = os.replace


def report(event):
    # Say where the save is; at the chosen moment, wait there for the parent's SIGKILL, however
    # long the parent takes to get to this child (no timer that a slow machine could outlast).
    # Should the parent die first, its end of stdin closes and the child leaves without saving more.
    print(event, flush=True)
    seen[event] = seen.get(event, 0) + 1
    if event == pause_at and seen[event] == pause_nth:
        sys.stdin.read()
        os._exit(3)


def traced_replace(src, dst):
    report("before " + Path(dst).suffix)
    real_replace(src, dst)
    report("after " + Path(dst).suffix)


os.replace = traced_replace
registry = ModelRegistry(root)
print("ready", flush=True)
for n in range(saves):
    registry.save(CopyModel(), {"name": f"run {n}"})
    print("saved", flush=True)
"""


def _start_child(tmp_path, reference, root, env, saves, pause_at="", pause_nth=0):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    return subprocess.Popen([sys.executable, str(script), str(reference), str(root), str(saves), pause_at,
                             str(pause_nth)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def _assert_every_listed_entry_loads(registry, expected):
    for entry in registry.list_entries():
        model, metadata = registry.load(entry.id)
        assert metadata["name"].startswith("run ")
        np.testing.assert_array_equal(np.asarray(model(probe())), expected)


# Where a save is killed (always its second save), and what it leaves behind besides its id
# reservation: temporary files (names starting with ".") and complete files without their partner.
KILL_POINTS = {
    "before .keras": {"temp .keras"},  # the model is written to a temporary file, not yet renamed
    "after .keras": {"orphan .keras"},  # the .keras is in place, its JSON not yet written
    "before .json": {"orphan .keras", "temp .json"},  # the JSON is written, not yet renamed
    "after .json": set(),  # complete: listed
}


def _leftover_kind(path: Path) -> str | None:
    if path.name.endswith(".reserve"):
        return None
    return ("temp " if path.name.startswith(".") else "orphan ") + path.suffix


def test_metadata_written_by_hand_is_read_in_the_shapes_the_app_uses(registry):
    entry = registry.save(tiny_cnn(), {"name": "by_hand", "dataset": "shapes", "metrics": 0.9,
                                       "class_names": {"0": "a"}})
    listed = registry.get(entry.id)
    assert listed.metadata["dataset"] == {"name": "shapes", "title": "shapes"} and listed.dataset_title == "shapes"
    assert listed.test_accuracy is None and "class_names" not in listed.metadata
    odd = registry.save(tiny_cnn(), {"name": "odd", "dataset": 7, "class_names": ["a", "b", "c", "d"]})
    assert "dataset" not in registry.get(odd.id).metadata and registry.get(odd.id).dataset_title is None
    assert registry.get(odd.id).metadata["class_names"] == ["a", "b", "c", "d"]


def test_killed_saves_leave_only_complete_loadable_entries(tmp_path, make_subprocess_env):
    model = tiny_cnn()
    reference = tmp_path / "reference.keras"
    model.save(reference)
    expected = np.asarray(model(probe()))
    env = make_subprocess_env()

    # The four steps of the second save, each killed for real: the first save's entry is listed,
    # the second only once its JSON is in place; every listed entry loads.
    children = {event: _start_child(tmp_path, reference, tmp_path / event.replace(" ", "_"), env, 5, event, 2)
                for event in KILL_POINTS}
    for event, child in children.items():
        seen = 0
        for line in child.stdout:
            seen += line.strip() == event
            if seen == 2:
                break
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL, child.stderr.read()
        assert seen == 2, child.stderr.read()
        root = tmp_path / event.replace(" ", "_")
        registry = ModelRegistry(root)
        listed = registry.list_entries()
        assert len(listed) == (2 if event == "after .json" else 1), (event, os.listdir(root))
        _assert_every_listed_entry_loads(registry, expected)
        leftovers = registry.remove_orphans(min_age_s=0)
        assert {_leftover_kind(p) for p in leftovers} - {None} == KILL_POINTS[event], (event, leftovers)
        assert [e.id for e in registry.list_entries()] == [e.id for e in listed]
        assert sorted(p.name for p in root.iterdir()) == sorted(n for e in listed for n in (e.keras_path.name,
                                                                                              e.json_path.name))

    # Kills at random moments, into one folder that collects what every killed run left behind.
    root = tmp_path / "random"
    rng = random.Random(0)
    for _ in range(5):
        before = len(ModelRegistry(root).list_entries()) if root.exists() else 0
        child = _start_child(tmp_path, reference, root, env, 1000)
        assert child.stdout.readline().strip() == "ready"
        # Kill after the first finished save, at a random moment of a later one: a loaded
        # machine may otherwise never finish a single save within the random delay.
        while (line := child.stdout.readline().strip()) != "saved":
            assert line, "the child ended before its first save"
        try:
            child.wait(timeout=rng.uniform(0.05, 0.4))
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        reported = 1 + child.stdout.read().count("saved")
        # every save this run reported is listed; at most one more got its JSON in before the kill
        added = len(ModelRegistry(root).list_entries()) - before
        assert reported <= added <= reported + 1
    registry = ModelRegistry(root)
    assert len(registry.list_entries()) >= 1
    _assert_every_listed_entry_loads(registry, expected)


def test_two_threads_saving_at_once_get_two_complete_entries(registry):
    models = [tiny_cnn(seed=1), tiny_cnn(seed=2)]
    start = threading.Barrier(2)
    results, errors = [None, None], []

    def save(i):
        try:
            start.wait()
            results[i] = registry.save(models[i], {"name": "same name"})
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


def test_two_processes_saving_at_once_get_distinct_entries(tmp_path, make_subprocess_env):
    model = tiny_cnn()
    reference = tmp_path / "reference.keras"
    model.save(reference)
    root = tmp_path / "shared"
    children = [_start_child(tmp_path, reference, root, make_subprocess_env(), 4) for _ in range(2)]
    for child in children:
        assert child.wait(timeout=60) == 0, child.stderr.read()
    entries = ModelRegistry(root).list_entries()
    assert len(entries) == 8 and len({e.id for e in entries}) == 8


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
    good = registry.save(tiny_cnn(), {"name": "already there"})
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
    meta = entry.metadata
    assert meta["source"] == "upload" and meta["dataset"] is None and meta["metrics"] == {}
    assert meta["class_names"] == ["0", "1", "2", "3"] and meta["input_shape"] == [32, 32, 3]
    assert meta["params"] == original.count_params() and meta["created"]
    loaded, _ = registry.load(entry.id)
    np.testing.assert_array_equal(np.asarray(loaded(probe())), np.asarray(original(probe())))
    assert all(not p.name.startswith(".") for p in registry.root.iterdir())


def test_check_fit_and_datasets_that_fit():
    mnist_model, shapes_model = tiny_cnn((28, 28, 1), 10), tiny_cnn((32, 32, 3), 4)
    mnist = fake_dataset("mnist", "MNIST digits", (28, 28, 1), 10)
    shapes = fake_dataset("shapes", "Shapes (synthetic)", (32, 32, 3), 4)
    cifar = fake_dataset("cifar10", "CIFAR-10", (32, 32, 3), 10)

    assert check_fit(mnist_model, mnist) == [] and check_fit(shapes_model, shapes) == []
    problems = check_fit(mnist_model, shapes)
    assert problems == [
        "The model expects 28×28 pixel images, but Shapes (synthetic) has 32×32 images.",
        "The model expects grey (1 channel) images, but Shapes (synthetic) has colour (3 channels) images.",
        "The model has 10 output classes, but Shapes (synthetic) has 4 classes.",
    ]
    assert check_fit(shapes_model, cifar) == ["The model has 4 output classes, but CIFAR-10 has 10 classes."]
    assert check_fit(mnist_model, cifar)[0].startswith("The model expects 28×28")

    assert datasets_that_fit(mnist_model) == ["mnist", "fashion_mnist"]
    assert datasets_that_fit(shapes_model) == ["shapes"]
    assert datasets_that_fit(tiny_cnn((32, 32, 3), 10)) == ["cifar10"]
    assert datasets_that_fit(tiny_cnn((64, 64, 3), 5)) == []


def test_known_dataset_shapes_match_the_real_loaders():
    from core.datasets import load_dataset
    from core.registry import KNOWN_DATASET_SHAPES

    for name, options in (("shapes", {"n_train": 4, "n_test": 4}), ("digits", {})):
        ds = load_dataset(name, options)
        assert KNOWN_DATASET_SHAPES[name] == (ds.input_shape, ds.num_classes)


def test_a_training_replay_is_saved_loaded_and_deleted_with_its_model(tmp_path):
    from core.jobs import Snapshot
    from core.replay import replay_path

    registry = ModelRegistry(tmp_path / "reg")
    rng = np.random.default_rng(0)
    snapshots = [Snapshot(e, rng.normal(size=(3, 3, 3, 4)).astype(np.float32),
                          {"conv1": rng.random((8, 8, 4), dtype=np.float32), "conv2": rng.random((4, 4, 8), dtype=np.float32)})
                 for e in range(3)]
    probe_image = rng.random((8, 8, 3), dtype=np.float32)
    entry = registry.save(tiny_cnn((8, 8, 3)), {"name": "replayed"}, replay=(snapshots, probe_image))
    loaded, loaded_probe = registry.load_replay(entry.id)
    assert [s.epoch for s in loaded] == [0, 1, 2]
    np.testing.assert_array_equal(loaded_probe, probe_image)
    for a, b in zip(snapshots, loaded):
        np.testing.assert_array_equal(a.kernel, b.kernel)
        assert set(b.maps) == {"conv1", "conv2"}
        np.testing.assert_allclose(a.maps["conv1"], b.maps["conv1"], atol=1e-3)  # stored as float16
    # an entry saved without a replay has none; deleting removes the replay file too
    plain = registry.save(tiny_cnn((8, 8, 3)), {"name": "plain"})
    assert registry.load_replay(plain.id) is None
    registry.delete(entry.id)
    assert not replay_path(entry.keras_path).exists()

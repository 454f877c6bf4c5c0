"""The Models page under AppTest: list, load, rename, delete and upload saved models."""

from __future__ import annotations

from pathlib import Path

import keras
import pytest

from streamlit.testing.v1 import AppTest

from core.storage.card import DatasetRef, Metrics, ModelCard
from core.storage.files import ModelFileError
from core.storage.registry import ModelRegistry

APP = str(Path(__file__).resolve().parents[2] / "app.py")
SHIPPED_ID = "shipped:shapes_default"



def tiny_cnn(input_shape=(32, 32, 3), classes=4):
    keras.utils.set_random_seed(0)
    inputs = keras.Input(input_shape, name="image")
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv1")(inputs)
    x = keras.layers.Flatten(name="flatten")(x)
    return keras.Model(inputs, keras.layers.Dense(classes, activation="softmax", name="predictions")(x))


@pytest.fixture(scope="module")
def upload_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model_uploads")
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Flatten()(keras.layers.Lambda(lambda t: t + 1.0)(inputs))
    keras.Model(inputs, keras.layers.Dense(4, activation="softmax")(x)).save(folder / "lambda.keras")
    tiny_cnn().save(folder / "good.keras")
    tiny_cnn((28, 28, 1), 10).save(folder / "digits28.keras")
    tiny_cnn((8, 8, 1), 10).save(folder / "digits8.keras")
    tiny_cnn().save(folder / "legacy.h5")
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.fixture
def registry(tmp_path, monkeypatch):
    """A registry folder holding one small model for the shapes dataset; the page uses it."""
    monkeypatch.setenv("CNNLAB_MODELS_DIR", str(tmp_path / "models"))
    registry = ModelRegistry()
    model = tiny_cnn()
    registry.save(model, ModelCard(
        name="tiny_shapes", params=model.count_params(), metrics=Metrics(test_accuracy=0.625),
        dataset=DatasetRef(name="shapes", title="Shapes (synthetic)"),
        class_names=["circle", "square", "triangle", "star"], input_shape=(32, 32, 3)))
    return registry


def open_models_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/models.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def run(element) -> AppTest:
    at = element.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_models_page_lists_the_saved_models(registry):
    at = open_models_page()
    [entry] = registry.list_entries()
    table = at.dataframe[0].value
    assert table["name"].tolist() == ["tiny_shapes"] and table["id"].tolist() == [entry.id]
    assert table["dataset"].tolist() == ["Shapes (synthetic)"] and table["test accuracy"].tolist() == ["62.5%"]
    assert table["parameters"].tolist() == [f"{entry.card.params:,}"]
    assert any(str(registry.root) in c.value for c in at.caption)
    # nothing chosen yet: every action is disabled
    assert at.selectbox(key="models_pick").value is None
    assert at.selectbox(key="models_pick").options == [f"tiny_shapes · {entry.created[:10]} · {entry.id}"]
    assert all(at.button(key=k).disabled for k in ("models_load", "models_rename", "models_delete"))
    at = run(at.selectbox(key="models_pick").set_value(entry.id))
    assert not any(at.button(key=k).disabled for k in ("models_load", "models_rename", "models_delete"))
    download = at.get("download_button")[0].proto
    assert download.label == "Download .keras" and not download.disabled


def test_load_makes_the_saved_model_current(registry):
    at = open_models_page()
    [entry] = registry.list_entries()
    assert at.session_state["current_model"] == SHIPPED_ID
    at = run(at.selectbox(key="models_pick").set_value(entry.id))
    at = run(at.button(key="models_load").click())
    current = at.session_state["current_model"]
    assert current != SHIPPED_ID and current in at.session_state["models"]
    loaded = at.session_state["models"][current]
    assert loaded.card.name == "tiny_shapes" and loaded.model.count_params() == entry.card.params
    assert any("tiny_shapes" in s.value for s in at.success)
    assert not at.warning  # it fits the shapes dataset
    # a second Load reuses the copy already in the session
    count = len(at.session_state["models"])
    at = run(at.button(key="models_load").click())
    assert len(at.session_state["models"]) == count and at.session_state["current_model"] == current


def test_rename(registry):
    at = open_models_page()
    [entry] = registry.list_entries()
    at = run(at.selectbox(key="models_pick").set_value(entry.id))
    at = run(at.text_input(key="models_new_name").input("shapes, renamed"))
    at = run(at.button(key="models_rename").click())
    assert [e.name for e in registry.list_entries()] == ["shapes, renamed"]
    assert at.dataframe[0].value["name"].tolist() == ["shapes, renamed"]
    assert at.text_input(key="models_new_name").value == ""
    at = run(at.text_input(key="models_new_name").input("   "))
    at = run(at.button(key="models_rename").click())
    assert any("non-empty model name" in e.value for e in at.error)
    assert [e.name for e in registry.list_entries()] == ["shapes, renamed"]


@pytest.fixture
def deferred(monkeypatch):
    """The downloads the page offers, as ``{file id: (reader, file name)}``: the file is read when clicked."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    offered = {}
    original = MediaFileManager.add_deferred

    def record(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        file_id = original(self, data_callable, mimetype, coordinates, file_name=file_name, **kwargs)
        offered[file_id] = (data_callable, mimetype, file_name)
        return file_id

    monkeypatch.setattr(MediaFileManager, "add_deferred", record)
    return offered


def download_file_id(at: AppTest, deferred: dict) -> str:
    """The media file id of the Models page's download, as a click makes it (Streamlit derives it from the data and
    the file name). The file is read on the click only, not on every run: the button holds no URL before."""
    from streamlit.runtime.memory_media_file_storage import _calculate_file_id

    proto = at.get("download_button")[0].proto
    assert proto.url == "" and proto.deferred_file_id in deferred
    reader, mimetype, file_name = deferred[proto.deferred_file_id]
    return _calculate_file_id(reader(), mimetype, file_name)


def test_rename_tells_the_browser_names_the_download_and_renames_the_loaded_copy(registry, deferred):
    from streamlit.runtime.memory_media_file_storage import _calculate_file_id

    at = open_models_page()
    [entry] = registry.list_entries()
    at = run(at.selectbox(key="models_pick").set_value(entry.id))
    data = entry.keras_path.read_bytes()
    assert download_file_id(at, deferred) == _calculate_file_id(data, "application/octet-stream", "tiny_shapes.keras")
    at = run(at.button(key="models_load").click())
    loaded = at.session_state["current_model"]
    at = run(at.text_input(key="models_new_name").input("Shapes, renamed"))
    at = run(at.button(key="models_rename").click())
    pick = at.selectbox(key="models_pick")
    label = f"Shapes, renamed · {entry.created[:10]} · {entry.id}"
    assert pick.value == entry.id and pick.options == [label]
    # A browser keeps the label it last showed, and sends it back with the next click, unless the run sets
    # the value: the old label would show the old name, and, no longer an option, clear the choice.
    assert pick.proto.set_value and pick.proto.raw_value == label
    # the download is named after the model, not its id
    assert download_file_id(at, deferred) == _calculate_file_id(data, "application/octet-stream",
                                                                "shapes-renamed.keras")
    # the copy loaded before has the new name too (the sidebar lists it), and Load still reuses it
    assert at.session_state["models"][loaded].card.name == "Shapes, renamed"
    count = len(at.session_state["models"])
    at = run(at.button(key="models_load").click())
    assert len(at.session_state["models"]) == count and at.session_state["current_model"] == loaded


def test_delete_needs_the_confirmation(registry):
    at = open_models_page()
    [entry] = registry.list_entries()
    at = run(at.selectbox(key="models_pick").set_value(entry.id))
    at = run(at.button(key="models_delete").click())
    assert [e.id for e in registry.list_entries()] == [entry.id] and entry.keras_path.exists()
    assert any("confirm" in w.value for w in at.warning)
    at = run(at.checkbox(key="models_confirm_delete").check())
    at = run(at.button(key="models_delete").click())
    assert registry.list_entries() == [] and not entry.keras_path.exists()
    saved_tables = [d for d in at.dataframe if "network" not in d.value.columns]  # the ImageNet networks' table stays
    assert not saved_tables and any("No saved models" in i.value for i in at.info)
    assert at.selectbox(key="models_pick").value is None and at.button(key="models_load").disabled


@pytest.mark.parametrize("filename, data_name, expected", [
    ("lambda.keras", "lambda.keras", "would run on the server"),
    ("legacy.keras", "legacy.h5", "legacy HDF5"),
    ("broken.keras", None, "not a Keras model file"),
])
def test_upload_of_a_refused_file_shows_why_and_changes_nothing(registry, upload_files, filename, data_name,
                                                                  expected):
    before = sorted(p.name for p in registry.root.iterdir())
    at = open_models_page()
    data = upload_files[data_name] if data_name else b"PK not really a zip" * 50
    at = run(at.file_uploader(key="models_upload").set_value((filename, data, "application/octet-stream")))
    messages = [e.value for e in at.error]
    assert len(messages) == 1 and expected in messages[0] and filename in messages[0]
    assert sorted(p.name for p in registry.root.iterdir()) == before
    assert at.dataframe[0].value["name"].tolist() == ["tiny_shapes"]


def test_upload_of_a_good_model_adds_it_and_offers_to_load_it(registry, upload_files):
    at = open_models_page()
    at = run(at.file_uploader(key="models_upload").set_value(("good.keras", upload_files["good.keras"],
                                                              "application/octet-stream")))
    assert not at.error and any("Added **good**" in s.value for s in at.success)
    entries = registry.list_entries()
    assert sorted(e.name for e in entries) == ["good", "tiny_shapes"]
    new = next(e for e in entries if e.name == "good")
    assert new.card.source == "upload"
    assert at.selectbox(key="models_pick").value == new.id
    assert at.dataframe[0].value["name"].tolist()[0] == "good"  # newest first
    at = run(at.button(key="models_load_upload").click())
    assert at.session_state["models"][at.session_state["current_model"]].card.name == "good"
    assert not at.warning
    at = run(at)  # a rerun does not import the same upload again
    assert len(registry.list_entries()) == 2


def test_a_model_for_another_dataset_says_which_datasets_fit(registry, upload_files):
    at = open_models_page()
    at = run(at.file_uploader(key="models_upload").set_value(("digits28.keras", upload_files["digits28.keras"],
                                                              "application/octet-stream")))
    [warning] = [w.value for w in at.warning]
    assert "does not fit the current dataset, Shapes (synthetic)" in warning
    assert "28×28" in warning and "10 output classes" in warning
    assert "(`mnist`)" in warning and "(`fashion_mnist`)" in warning and "(`cifar10`)" not in warning
    # loading it says so again, and it still becomes the current model
    at = run(at.button(key="models_load_upload").click())
    assert any("(`mnist`)" in w.value for w in at.warning)
    assert at.session_state["models"][at.session_state["current_model"]].input_shape == (28, 28, 1)


def test_a_model_for_an_offline_dataset_offers_to_switch_to_it(registry, upload_files):
    at = open_models_page()
    at = run(at.file_uploader(key="models_upload").set_value(("digits8.keras", upload_files["digits8.keras"],
                                                              "application/octet-stream")))
    assert any("(`digits`)" in w.value for w in at.warning)
    at = run(at.button(key="models_use_digits").click())
    assert at.session_state["dataset"] == {"name": "digits", "options": {}}
    assert any("Digits (scikit-learn) is now the dataset" in s.value for s in at.success)


def test_a_model_deleted_after_the_list_was_drawn_fails_its_download_not_the_page(registry, deferred):
    at = open_models_page()
    [entry] = registry.list_entries()
    at = run(at.selectbox(key="models_pick").set_value(entry.id))
    proto = at.get("download_button")[0].proto
    reader, _, _ = deferred[proto.deferred_file_id]
    registry.delete(entry.id)  # another tab deletes it
    with pytest.raises(ModelFileError):
        reader()  # Streamlit answers the browser "Failed to generate file for download"
    at = run(at.button(key="models_load").click())
    assert any("Could not load the model" in e.value for e in at.error)

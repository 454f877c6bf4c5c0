"""The gallery: a copy of a published model, without the publisher's private folder paths."""

import keras
import pytest

from core.storage.card import DatasetRef, ModelCard
from core.storage.files import ModelFileError
from core.storage.gallery import gallery_registry, public_dataset, publish
from core.storage.registry import ModelRegistry


def small_model():
    inputs = keras.Input((8, 8, 1))
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(inputs)))


def test_publish_copies_the_model_and_drops_private_paths(tmp_path):
    private = tmp_path / "workspaces" / "lteacher"
    mine = ModelRegistry(private / "models")
    ref = DatasetRef("folder", "Folder: class photos", options={"path": str(private / "uploads" / "photos"),
                                                                  "image_size": 8})
    entry = mine.save(small_model(), ModelCard(name="demo", dataset=ref, class_names=["a", "b"],
                                               input_shape=(8, 8, 1)))
    gallery = ModelRegistry(tmp_path / "gallery")
    published = publish(mine, entry.id, [private], gallery)
    assert published.card.dataset.options == {"image_size": 8} and published.card.dataset.title == ref.title
    assert published.keras_path.read_bytes() == entry.keras_path.read_bytes()
    # the teacher's own copy is unchanged, and deleting it leaves the gallery's
    assert mine.get(entry.id).card.dataset.options["path"] == ref.options["path"]
    mine.delete(entry.id)
    model, card = gallery.load(published.id)
    assert card.name == "demo" and model.count_params() == small_model().count_params()


def test_a_shared_root_path_stays(tmp_path):
    ref = DatasetRef("folder", options={"path": str(tmp_path / "shared" / "pets")})
    assert public_dataset(ref, [tmp_path / "workspaces" / "lteacher"]).options == ref.options
    assert public_dataset(None, []) is None


def test_publishing_a_missing_entry_is_refused(tmp_path):
    with pytest.raises(ModelFileError):
        publish(ModelRegistry(tmp_path / "m"), "nope", [], ModelRegistry(tmp_path / "g"))


def test_the_gallery_lives_under_the_data_root(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path))
    assert gallery_registry().root == tmp_path / "gallery"

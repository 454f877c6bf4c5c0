"""core.storage.card: the model card reads every metadata file an earlier version wrote, and round-trips.

The fixtures in ``tests/fixtures/model_cards`` were written by the code before the card existed
(schema 1, ``format_version``): a trained run (cosine schedule, label smoothing, focus and
augmentation), a continued run, a faces model, an uploaded model, a renamed entry and the shipped
model's file; plus two written by hand with the shapes another tool might use.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from core.storage.card import SCHEMA_VERSION, CardError, DatasetRef, Metrics, ModelCard

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "model_cards"
SCHEMA_1 = sorted(FIXTURES.glob("v1_*.json"))


def test_every_fixture_is_there():
    assert {p.stem for p in SCHEMA_1} >= {"v1_trained", "v1_continued", "v1_faces", "v1_upload", "v1_renamed",
                                          "v1_shipped", "v1_handwritten", "v1_odd_types"}


@pytest.mark.parametrize("path", SCHEMA_1, ids=lambda p: p.stem)
def test_every_earlier_file_loads_and_round_trips(path):
    raw = json.loads(path.read_text())
    card = ModelCard.from_json(path.read_text())
    assert card.name == (raw.get("name") or "model")
    again = ModelCard.from_json(card.to_json())
    assert dataclasses.replace(again, schema_version=card.schema_version) == card  # nothing lost on the way
    assert again.schema_version == SCHEMA_VERSION  # written in the current schema


def test_a_trained_run_keeps_everything_it_said():
    raw = json.loads((FIXTURES / "v1_trained.json").read_text())
    card = ModelCard.from_json((FIXTURES / "v1_trained.json").read_text())
    assert card.schema_version == 1 and card.source == "trained"
    assert card.dataset == DatasetRef(name="shapes", title="Shapes (synthetic)", options=raw["dataset"]["options"],
                                      input_shape=(32, 32, 3), class_names=["circle", "square", "triangle", "star"])
    assert card.dataset_title == "Shapes (synthetic)"
    assert card.class_names == raw["class_names"] and card.input_shape == (32, 32, 3)
    assert card.spec == raw["spec"] and card.train_config == raw["train_config"]
    assert card.train_config["label_smoothing"] == 0.1 and card.train_config["focus"] == 0.5
    assert card.train_config["augmentation"]["flip"] == "horizontal"
    assert card.history == raw["history"] and len(card.history["loss"]) == 2
    assert card.metrics == Metrics(raw["metrics"]["test_accuracy"], raw["metrics"]["test_loss"])
    assert card.test_accuracy == raw["metrics"]["test_accuracy"]
    assert (card.epochs_done, card.epochs_total, card.params) == (2, 2, raw["params"])
    assert card.train_seconds == raw["train_seconds"] and card.versions == raw["versions"]
    assert card.preprocessing == raw["preprocessing"] and card.created == raw["created"]
    assert card.parent is None and card.parent_id is None and not card.private and card.extra == {}
    assert card.model_spec().name == "tiny" and card.model_spec().dense_units == [8]


def test_a_continued_run_names_its_parent():
    card = ModelCard.from_json((FIXTURES / "v1_continued.json").read_text())
    assert (card.parent, card.parent_id) == ("shapes_tiny", "session:shapes_tiny")
    assert (card.epochs_before, card.epochs_done, card.epochs_total) == (2, 1, 3)


def test_a_faces_model_is_private_with_its_margin():
    card = ModelCard.from_json((FIXTURES / "v1_faces.json").read_text())
    assert card.private and card.face_margin == 0.2 and card.is_face_model
    assert json.loads(card.to_json())["faces"] == {"margin": 0.2}


def test_an_uploaded_model_has_no_dataset_or_metrics():
    card = ModelCard.from_json((FIXTURES / "v1_upload.json").read_text())
    assert card.source == "upload" and card.name == "my digits"
    assert card.dataset is None and card.dataset_title is None and card.test_accuracy is None
    assert card.class_names == [str(i) for i in range(10)] and card.input_shape == (28, 28, 1)
    assert not card.is_face_model and card.model_spec() is None


def test_the_shipped_model_file_reads_without_the_newer_fields():
    card = ModelCard.from_json((FIXTURES / "v1_shipped.json").read_text())
    assert card.name == "shapes_small_cnn" and card.test_accuracy == 0.981 and card.params == 47428
    assert card.epochs_total is None and card.epochs_done == 20
    assert "schedule" not in card.train_config  # written before the schedule existed: kept as written


def test_a_file_written_by_hand_is_read_in_the_shapes_the_app_uses():
    card = ModelCard.from_json((FIXTURES / "v1_handwritten.json").read_text())
    assert card.dataset == DatasetRef(name="mnist") and card.dataset.title == "mnist"
    assert card.metrics == Metrics() and card.test_accuracy is None
    assert card.class_names == [str(i) for i in range(10)]  # numbers as names become text
    assert card.extra == {"notes": "written by another tool"}
    assert json.loads(card.to_json())["notes"] == "written by another tool"  # unknown fields are written back


def test_values_of_the_wrong_type_are_left_out_not_raised():
    card = ModelCard.from_json((FIXTURES / "v1_odd_types.json").read_text())
    assert card.dataset is None and card.test_accuracy is None and card.class_names == []
    assert card.input_shape is None and card.params is None and card.history == {}


@pytest.mark.parametrize("text, message", [
    ("not json", "not valid JSON"),
    ("[1, 2]", "Expected a JSON object"),
    ('{"schema_version": "two"}', "schema version"),
    ('{"schema_version": 0}', "schema version"),
])
def test_unreadable_files_raise_card_error(text, message):
    with pytest.raises(CardError, match=message):
        ModelCard.from_json(text)


def test_a_newer_file_passes_through_with_its_unknown_fields():
    newer = {**ModelCard(name="n").to_dict(), "schema_version": SCHEMA_VERSION + 1, "teacher_notes": {"a": 1}}
    card = ModelCard.from_dict(newer)
    assert card.name == "n" and card.schema_version == SCHEMA_VERSION + 1
    assert card.to_dict()["teacher_notes"] == {"a": 1}


def test_numpy_values_are_written_as_plain_json():
    np = pytest.importorskip("numpy")
    card = ModelCard(name="np", metrics=Metrics(np.float32(0.5), np.float64(0.25)), params=np.int64(7),
                     history={"loss": [np.float32(1.5)]})
    data = json.loads(card.to_json())
    assert data["metrics"] == {"test_accuracy": 0.5, "test_loss": 0.25} and data["params"] == 7
    assert data["history"] == {"loss": [1.5]}


def test_card_for_run_counts_epochs_on_from_its_parent():
    import keras

    from core.data import load_dataset
    from core.storage.card import card_for_run

    dataset = load_dataset("shapes", {"n_train": 40, "n_test": 8})
    model = keras.Sequential([keras.Input(dataset.input_shape), keras.layers.Flatten(),
                              keras.layers.Dense(dataset.num_classes, activation="softmax")])
    result = {"history": {"loss": [1.0, 0.5]}, "test_accuracy": 0.75, "test_loss": 0.6, "epochs_done": 2,
              "train_seconds": 1.5}
    parent = ModelCard(name="base", epochs_done=3, epochs_total=7)
    card = card_for_run(model, dataset, name="base@9ep", spec={"name": "s"}, train_config={"epochs": 2},
                        result=result, parent=parent, parent_id="session:base")
    assert (card.parent, card.parent_id, card.epochs_before, card.epochs_total) == ("base", "session:base", 7, 9)
    assert card.dataset.name == "shapes" and card.dataset.options == dataset.options
    assert card.class_names == dataset.class_names and card.input_shape == dataset.input_shape
    assert card.params == model.count_params() and card.metrics == Metrics(0.75, 0.6)
    assert card.versions["keras"] == keras.__version__ and card.created
    first = card_for_run(model, dataset, name="fresh", result=result, private=True, face_margin=0.3)
    assert first.parent is None and first.epochs_before is None and first.epochs_total == 2
    assert first.private and first.face_margin == 0.3


def test_a_face_models_card_keeps_what_tells_its_people_from_strangers():
    """card_for_run builds the open-set reference from every face of the dataset; it survives the file unchanged."""
    import keras

    from core.data import load_dataset
    from core.faces.openset import build_reference
    from core.storage.card import card_for_run

    dataset = load_dataset("shapes", {"n_train": 40, "n_test": 8})
    model = keras.Sequential([keras.Input(dataset.input_shape), keras.layers.Flatten(),
                              keras.layers.Dense(dataset.num_classes, activation="softmax")])
    card = card_for_run(model, dataset, name="faces", private=True, face_margin=0.2)
    expected = build_reference(list(dataset.x_train) + list(dataset.x_test),
                               np.concatenate([dataset.y_train, dataset.y_test]), dataset.class_names)
    assert card.face_reference == expected and card.face_reference.class_names == dataset.class_names
    again = ModelCard.from_json(card.to_json())
    assert again == card and again.face_reference.threshold == expected.threshold
    assert json.loads(card.to_json())["faces"]["margin"] == 0.2
    renamed = json.loads(card.to_json()) | {"class_names": ["x", "y", "z"][:len(dataset.class_names)]}
    assert ModelCard.from_dict(renamed).face_reference is None  # its faces are of other classes
    # a model that is not a face model gets none; nor does a dataset with a class of one image
    assert card_for_run(model, dataset, name="shapes").face_reference is None
    one = dataclasses.replace(dataset, x_train=dataset.x_train[:3], y_train=np.array([0, 0, 1]),
                              x_test=dataset.x_test[:0], y_test=dataset.y_test[:0])
    assert card_for_run(model, one, name="faces", face_margin=0.2).face_reference is None

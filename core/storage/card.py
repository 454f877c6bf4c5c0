"""The model card: everything stored beside a model, as one typed object.

A ``ModelCard`` is what ``NAME.json`` holds next to ``NAME.keras``: the dataset the model was
trained on, its class names and input shape, how pixels are prepared, its architecture, the
training configuration, the history and test metrics, the model it continued from, who owns
it, and for a face model how its faces were cut and what tells its people from strangers.
Every reader uses its attributes; ``to_json`` and ``from_json`` are the only places that
know the file's layout.

``from_json`` reads every layout an earlier version wrote: schema 1 (the first, with
``format_version``), files with fields missing, and files written by hand or by another tool
(``"dataset": "mnist"``, a number where a table belongs). Fields it does not know are kept in
``extra`` and written back, so a newer file passes through an older reader unharmed.

    >>> card = ModelCard.from_json(Path("model.json").read_text())
    >>> card.dataset.title, card.metrics.test_accuracy
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.faces.openset import OpenSetReference

SCHEMA_VERSION = 2

# How pixels are prepared for every model the app trains: decoded, converted
# to the model's channels, resized to its input, scaled to [0, 1].
DEFAULT_PREPROCESSING = {"scale": "divide by 255 to [0, 1]", "color": "model channels (grey or RGB)",
                         "resize": "centre crop to the input's aspect ratio, then resize"}

# Where a model came from: trained in CNN Lab, or a .keras file a user uploaded.
SOURCES = ("trained", "upload")


class CardError(ValueError):
    """A metadata file that cannot be read as a model card; the message is meant for the user."""


@dataclass
class DatasetRef:
    """The dataset a model was trained on, enough to load it again (``core.data.load_dataset``)."""

    name: str  # a key of core.data.DATASETS, or "faces" for enrolled faces
    title: str = ""  # what people call it; the name when empty
    options: dict = field(default_factory=dict)  # the loader options that load it again
    input_shape: tuple[int, ...] | None = None  # (height, width, channels) of its images
    class_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.title = self.title or self.name

    def to_dict(self) -> dict:
        return {"name": self.name, "title": self.title, "options": dict(self.options),
                "input_shape": list(self.input_shape) if self.input_shape is not None else None,
                "class_names": list(self.class_names)}

    @classmethod
    def from_json_value(cls, value) -> "DatasetRef | None":
        """A reference from what a metadata file holds: a table, a bare name, or anything else (None)."""
        if isinstance(value, str) and value:
            return cls(name=value)
        if not isinstance(value, dict) or not isinstance(value.get("name"), str):
            return None
        options = value.get("options")
        return cls(name=value["name"], title=str(value.get("title") or ""),
                   options=dict(options) if isinstance(options, dict) else {},
                   input_shape=_shape(value.get("input_shape")), class_names=_names(value.get("class_names")) or [])


@dataclass
class Metrics:
    """Scores on the dataset's test split (None: not measured, e.g. an uploaded model)."""

    test_accuracy: float | None = None
    test_loss: float | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in (("test_accuracy", self.test_accuracy), ("test_loss", self.test_loss)) if v is not None}

    @classmethod
    def from_json_value(cls, value) -> "Metrics":
        if not isinstance(value, dict):
            return cls()
        return cls(test_accuracy=_number(value.get("test_accuracy")), test_loss=_number(value.get("test_loss")))


@dataclass
class ModelCard:
    """What is stored beside each model. See the module docstring for the file it reads and writes."""

    name: str = "model"  # the human name; the registry's id is made from it
    created: str = ""  # ISO time of the save (UTC)
    source: str = "trained"  # one of SOURCES
    dataset: DatasetRef | None = None  # None: not known (an uploaded model)
    class_names: list[str] = field(default_factory=list)  # one per output, in output order
    input_shape: tuple[int, ...] | None = None  # (height, width, channels)
    preprocessing: dict = field(default_factory=lambda: dict(DEFAULT_PREPROCESSING))
    spec: dict | None = None  # the architecture, core.models.architecture.ModelSpec.to_dict()
    train_config: dict | None = None  # core.training.config.TrainConfig.to_dict() of the run that made it
    history: dict[str, list[float]] = field(default_factory=dict)  # metric -> one value per epoch
    metrics: Metrics = field(default_factory=Metrics)
    train_seconds: float | None = None  # of the last run, pauses excluded
    epochs_done: int | None = None  # by the last run
    epochs_total: int | None = None  # since the random start, over every run it continued
    params: int | None = None  # number of weights
    parent: str | None = None  # name of the model the last run continued from
    parent_id: str | None = None  # its id, where it was known
    epochs_before: int | None = None  # the parent's epochs_total
    private: bool = False  # trained on enrolled faces: written to disk only when its user saves it
    face_margin: float | None = None  # crop margin of the faces it was trained on (a face model)
    face_reference: OpenSetReference | None = None  # its enrolled faces' embeddings and "unknown" threshold
    owner: str | None = None  # the user whose workspace holds it; None: this machine's user
    versions: dict = field(default_factory=dict)  # library versions that wrote it, e.g. {"keras": "3.15.1"}
    extra: dict = field(default_factory=dict)  # fields this version does not know, kept as they were
    schema_version: int = SCHEMA_VERSION  # of the file it was read from; written as SCHEMA_VERSION

    # --- what the pages read ------------------------------------------------------------------

    @property
    def test_accuracy(self) -> float | None:
        return self.metrics.test_accuracy

    @property
    def dataset_title(self) -> str | None:
        return self.dataset.title if self.dataset is not None else None

    @property
    def is_face_model(self) -> bool:
        """Trained on aligned face crops: Predict opens in face mode for it."""
        return self.face_margin is not None

    def model_spec(self):
        """The architecture as a ``ModelSpec``, or None when the card has none (or one this version cannot read)."""
        from core.models.architecture import ModelSpec

        try:
            return ModelSpec.from_dict(self.spec) if self.spec else None
        except (TypeError, ValueError):
            return None

    # --- the file -----------------------------------------------------------------------------

    def to_dict(self) -> dict:
        data = {
            "schema_version": SCHEMA_VERSION,
            "name": self.name,
            "created": self.created,
            "source": self.source,
            "dataset": self.dataset.to_dict() if self.dataset is not None else None,
            "class_names": list(self.class_names),
            "input_shape": list(self.input_shape) if self.input_shape is not None else None,
            "preprocessing": dict(self.preprocessing),
            "spec": self.spec,
            "train_config": self.train_config,
            "history": {k: list(v) for k, v in self.history.items()},
            "metrics": self.metrics.to_dict(),
            "train_seconds": self.train_seconds,
            "epochs_done": self.epochs_done,
            "epochs_total": self.epochs_total,
            "params": self.params,
            "parent": self.parent,
            "parent_id": self.parent_id,
            "epochs_before": self.epochs_before,
            "private": self.private,
            "faces": self._faces_dict(),
            "owner": self.owner,
            "versions": dict(self.versions),
        }
        return {**self.extra, **data}

    def _faces_dict(self) -> dict | None:
        if self.face_margin is None:
            return None
        faces = {"margin": self.face_margin}
        if self.face_reference is not None:
            faces["reference"] = self.face_reference.to_dict()
        return faces

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=_json_default)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelCard":
        """A card from a parsed metadata file of any schema (see the module docstring).

        Raises:
            CardError: ``data`` is not a JSON object, or says it was written by a newer schema
                whose meaning this version cannot know.
        """
        if not isinstance(data, dict):
            raise CardError(f"Expected a JSON object of model metadata. Received: {type(data).__name__}")
        version = data.get("schema_version", data.get("format_version", 1))
        if not isinstance(version, int) or version < 1:
            raise CardError(f"Expected a schema version of 1 or more. Received: {version!r}")
        faces = data.get("faces")
        source = data.get("source")
        class_names = _names(data.get("class_names")) or []
        known = {"schema_version", "format_version", "faces", "source", "dataset", "metrics"} | {
            f.name for f in fields(cls)}
        return cls(
            name=str(data.get("name") or "model"),
            created=str(data.get("created") or ""),
            source=source if source in SOURCES else "trained",
            dataset=DatasetRef.from_json_value(data.get("dataset")),
            class_names=class_names,
            input_shape=_shape(data.get("input_shape")),
            preprocessing=dict(data["preprocessing"]) if isinstance(data.get("preprocessing"), dict)
            else dict(DEFAULT_PREPROCESSING),
            spec=data["spec"] if isinstance(data.get("spec"), dict) else None,
            train_config=data["train_config"] if isinstance(data.get("train_config"), dict) else None,
            history=_history(data.get("history")),
            metrics=Metrics.from_json_value(data.get("metrics")),
            train_seconds=_number(data.get("train_seconds")),
            epochs_done=_count(data.get("epochs_done")),
            epochs_total=_count(data.get("epochs_total")),
            params=_count(data.get("params")),
            parent=data["parent"] if isinstance(data.get("parent"), str) else None,
            parent_id=data["parent_id"] if isinstance(data.get("parent_id"), str) else None,
            epochs_before=_count(data.get("epochs_before")),
            private=data.get("private") is True,
            face_margin=_number(faces.get("margin")) if isinstance(faces, dict) else None,
            face_reference=_face_reference(faces, class_names),
            owner=data["owner"] if isinstance(data.get("owner"), str) else None,
            versions=dict(data["versions"]) if isinstance(data.get("versions"), dict) else {},
            extra={k: v for k, v in data.items() if k not in known},
            schema_version=version,
        )

    @classmethod
    def from_json(cls, text: str) -> "ModelCard":
        """A card from the text of a metadata file; ``CardError`` when it is not valid JSON or not a card."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise CardError(f"The metadata is not valid JSON: {exc}") from exc
        return cls.from_dict(data)


def card_for_run(model, dataset, *, name: str, spec: dict | None = None, train_config: dict | None = None,
                 result: dict | None = None, parent: ModelCard | None = None, parent_id: str | None = None,
                 face_margin: float | None = None, private: bool = False) -> ModelCard:
    """The card of a model trained on ``dataset`` (``result`` is what ``train_model`` returned).

    With ``parent`` (the card of the model this run continued from), the epochs count on from its own.
    A face model (``face_margin`` given) also gets its ``face_reference``, from every image of ``dataset``.
    """
    import keras
    import tensorflow as tf

    result = result or {}
    epochs_before = (parent.epochs_total or parent.epochs_done or 0) if parent is not None else None
    card = ModelCard(
        name=name, created=now_iso(), dataset=DatasetRef.from_json_value(dataset.reference()),
        class_names=list(dataset.class_names), input_shape=tuple(dataset.input_shape), spec=spec,
        train_config=train_config, history=result.get("history", {}),
        metrics=Metrics(result.get("test_accuracy"), result.get("test_loss")),
        train_seconds=result.get("train_seconds"), epochs_done=result.get("epochs_done"),
        epochs_total=(epochs_before or 0) + (result.get("epochs_done") or 0), params=int(model.count_params()),
        parent=parent.name if parent is not None else None, parent_id=parent_id, epochs_before=epochs_before,
        private=private, face_margin=face_margin,
        face_reference=reference_for(dataset) if face_margin is not None else None,
        versions={"keras": keras.__version__, "tensorflow": tf.__version__},
    )
    _store_novelty_calibration(card, model, dataset)
    return card


def _store_novelty_calibration(card: ModelCard, model, dataset) -> None:
    """Keep the thresholds of Predict's "unlike its data" checks in the card, measured on the model's own dataset.

    A model loaded later without its data (an upload, another machine) still has them. About 2 s
    for the shipped model on 2 cores. A dataset too small to measure on leaves the card without them.
    """
    from core.inspection.novelty import calibrate_on_dataset, store_calibration

    try:
        store_calibration(card, calibrate_on_dataset(model, dataset))
    except ValueError:
        pass


def reference_for(dataset) -> OpenSetReference | None:
    """The open-set reference of a face model trained on ``dataset``: all its faces, train and test; None
    when they cannot give one (fewer than 2 people, or a person with 1 face)."""
    import numpy as np

    from core.faces.openset import build_reference

    images = list(dataset.x_train) + list(dataset.x_test)
    labels = np.concatenate([dataset.y_train, dataset.y_test]).astype(np.int64)
    try:
        return build_reference(images, labels, list(dataset.class_names))
    except ValueError:
        return None


def _face_reference(faces, class_names: list[str]) -> OpenSetReference | None:
    # a reference for other classes than the model's would compare a face with the wrong person's faces
    if not isinstance(faces, dict) or not isinstance(faces.get("reference"), dict):
        return None
    from core.faces.openset import OpenSetReference

    reference = OpenSetReference.from_dict(faces["reference"])
    return reference if reference is not None and reference.class_names == class_names else None


def now_iso() -> str:
    """The current time as the cards store it (UTC, seconds)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _json_default(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"Cannot store {type(value).__name__} in a model card")


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _count(value) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _shape(value) -> tuple[int, ...] | None:
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, int) and v > 0 for v in value):
        return tuple(value)
    return None


def _names(value) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(n, (str, int)) and not isinstance(n, bool) for n in value):
        return [str(n) for n in value]
    return None


def _history(value) -> dict[str, list[float]]:
    if not isinstance(value, dict):
        return {}
    return {str(k): [float(x) for x in v] for k, v in value.items()
            if isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)}

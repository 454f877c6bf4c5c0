"""A model the user can pick: the shipped default (shared, read-only) or one of their own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from core.storage.card import ModelCard


@dataclass
class ModelEntry:
    """One model of a session's list, with its card and, for a trained one, the replay of its run."""

    id: str  # "shipped:...", or "session:<name>" for a model trained or loaded in this session
    _model: object  # the Keras model; None until ``loader`` has loaded it
    card: ModelCard
    shipped: bool = False
    evolution: list | None = None  # core.training.progress.Snapshot records of the run that trained it
    probe: object = None  # the image those snapshots' feature maps are of
    loader: Callable[[], object] | None = None  # loads the model on first use (the shipped model)
    saved_id: str | None = None  # its id in the models folder, once saved there
    save_error: str | None = None  # why saving it to the models folder failed
    knows: str = ""  # a shipped model: what it knows, said in a few words ("knows 10 kinds of photos")
    origin: str = ""  # a shared model not shipped with the app: where it comes from ("keras.applications")

    @property
    def model(self):
        if self._model is None and self.loader is not None:
            self._model = self.loader()
        return self._model

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def name(self) -> str:
        return self.card.name or self.id

    @property
    def label(self) -> str:
        acc = self.card.test_accuracy
        acc_text = f" · {acc:.1%}" if acc is not None else ""
        where = self.origin or "shipped"
        tag = (f" ({where}, {self.knows})" if self.knows else f" ({where})") if self.shipped else ""
        return f"{self.name}{tag}{acc_text}"

    # The sidebar and the Overview read these before the model is loaded: from its card until then
    # (tests/ui/test_shipped.py checks that the shipped model's card agrees with the model).
    @property
    def params(self) -> int:
        if not self.loaded and self.card.params is not None:
            return int(self.card.params)
        return int(self.model.count_params())

    @property
    def input_shape(self) -> tuple[int, int, int]:
        if not self.loaded and self.card.input_shape is not None and len(self.card.input_shape) == 3:
            return tuple(int(v) for v in self.card.input_shape)
        return tuple(int(v) for v in self.model.input_shape[1:])

    @property
    def class_names(self) -> list[str]:
        names = self.card.class_names
        if not self.loaded and names:
            return list(names)
        n = int(self.model.output_shape[-1])
        return list(names) if names and len(names) == n else [str(i) for i in range(n)]

"""ui.shipped and ui.model_entry: the shipped model is small, its card says what it holds, and an entry reads
the card until the model is needed."""

from __future__ import annotations

import numpy as np
import pytest

from core.data import load_dataset
from core.storage.files import load_model
from core.training.run import evaluate_model
from ui.model_entry import ModelEntry
from ui.shipped import SHIPPED_MODEL as SHIPPED, shipped_card


def test_shipped_model_is_small_and_its_card_is_complete():
    assert SHIPPED.with_suffix(".keras").stat().st_size < 5 * 2**20
    card = shipped_card()
    for key in ("dataset", "class_names", "input_shape", "preprocessing", "train_config", "history", "spec"):
        assert getattr(card, key), key
    assert card.dataset.name == "shapes" and card.test_accuracy is not None
    assert card.class_names == ["circle", "square", "triangle", "star"]


def test_shipped_accuracy_in_metadata_is_what_the_model_scores():
    model, card = load_model(SHIPPED)
    dataset = load_dataset("shapes", card.dataset.options)
    _, accuracy = evaluate_model(model, dataset)
    assert accuracy == pytest.approx(card.test_accuracy, abs=1e-9)
    assert accuracy > 0.95
    assert tuple(model.input_shape[1:]) == card.input_shape == dataset.input_shape
    # a test image of every class is classified as that class
    for c in range(4):
        idx = np.flatnonzero(dataset.y_test == c)[:5]
        assert (np.argmax(model(dataset.x_test[idx]).numpy(), axis=1) == c).mean() >= 0.8


def test_shipped_card_tells_what_the_model_holds():
    # the sidebar and the Overview show these from the card before the model is loaded
    model, card = load_model(SHIPPED)
    assert card.params == model.count_params()
    assert card.input_shape == tuple(model.input_shape[1:])
    assert len(card.class_names) == model.output_shape[-1]
    lazy = ModelEntry("shipped", None, card, shipped=True, loader=lambda: model)
    loaded = ModelEntry("shipped", model, card, shipped=True)
    assert not lazy.loaded
    assert (lazy.params, lazy.input_shape, lazy.class_names) == (loaded.params, loaded.input_shape, loaded.class_names)
    assert not lazy.loaded  # reading them did not load the model
    assert lazy.model is model and lazy.loaded


def test_the_shipped_models_inspection_functions_are_traced_ahead_of_the_pages():
    from core.inspection import featurevis, layers
    from ui.shipped import shipped_model, warm_shipped_model

    model = shipped_model()
    warm_shipped_model()  # what the server's preload thread does once the model is loaded
    extractor = layers._EXTRACTORS[model]
    first = layers.conv_layers(model)[0].name
    traced = extractor._fn.experimental_get_tracing_count(), featurevis._PROBES[model][first].step.experimental_get_tracing_count()
    assert traced[0] >= 1 and traced[1] >= 1
    # the Activations and Filters pages' first calls then trace nothing
    layers.activations(model, np.zeros(model.input_shape[1:], np.float32))
    featurevis.maximize_filter(model, first, 2)
    assert (extractor._fn.experimental_get_tracing_count(),
            featurevis._PROBES[model][first].step.experimental_get_tracing_count()) == traced

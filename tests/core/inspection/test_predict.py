"""core.inspection.predict: class probabilities equal the model's output and a softmax by hand; top_k orders them.

The fixture models are those of ``tests/inspection_models.py`` (8x8x3 input, random biases).
"""

from __future__ import annotations

import numpy as np
import pytest

from core.inspection.layers import activations
from core.inspection.predict import class_probabilities, top_k


def test_class_probabilities_equal_model_output(model_of_each_kind, image):
    probs = class_probabilities(model_of_each_kind, image)
    assert probs.shape == (3,)
    np.testing.assert_allclose(probs, np.asarray(model_of_each_kind(image[None], training=False))[0], rtol=1e-5, atol=1e-7)
    assert probs.sum() == pytest.approx(1.0, abs=1e-5)
    # And the dense layer by hand: softmax(flatten @ W + b).
    acts = activations(model_of_each_kind, image)
    w, b = model_of_each_kind.get_layer("predictions").get_weights()
    logits = acts["flatten"].astype(np.float64) @ w + b
    np.testing.assert_allclose(probs, np.exp(logits) / np.exp(logits).sum(), atol=1e-6)


def test_top_k():
    assert top_k(np.array([0.1, 0.6, 0.3]), ["a", "b", "c"], k=2) == [("b", pytest.approx(0.6)), ("c", pytest.approx(0.3))]


def test_top_k_orders_by_probability_and_names_outputs_without_a_class_name():
    probs = np.array([0.05, 0.4, 0.15, 0.1, 0.3])
    assert top_k(probs, ["a", "b", "c"], k=3) == [("b", pytest.approx(0.4)), ("4", pytest.approx(0.3)),
                                                   ("c", pytest.approx(0.15))]
    assert [name for name, _ in top_k(probs, list("abcde"), k=10)] == ["b", "e", "c", "d", "a"]  # k over the classes
    assert all(isinstance(p, float) for _, p in top_k(probs, list("abcde")))

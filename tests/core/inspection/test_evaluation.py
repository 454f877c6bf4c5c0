"""core.inspection.evaluation: predictions, confusion matrix, per-class accuracy and mistakes.

The confusion matrix is checked against scikit-learn; ``evaluate`` against a direct model
call on the shipped model and a 400-image shapes test split.
"""

from __future__ import annotations


import numpy as np
import pytest
from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix

from core.data import load_dataset
from core.inspection.evaluation import (cell_indices, confusion_matrix, evaluate, most_confident_mistakes, per_class_accuracy,
                             predict_all)


@pytest.fixture(scope="module")
def shapes():
    return load_dataset("shapes", {"n_train": 4, "n_test": 400})


@pytest.fixture(scope="module")
def evaluation(shipped, shapes):
    return evaluate(shipped, shapes)


@pytest.fixture
def labels():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 5, 300)  # class 5 never occurs: an empty row
    y_pred = np.where(rng.random(300) < 0.6, y_true, rng.integers(0, 6, 300))
    return y_true, y_pred


def test_confusion_matrix_equals_sklearn(labels):
    y_true, y_pred = labels
    cm = confusion_matrix(y_true, y_pred, 6)
    np.testing.assert_array_equal(cm, sklearn_confusion_matrix(y_true, y_pred, labels=range(6)))
    assert cm.shape == (6, 6) and np.issubdtype(cm.dtype, np.integer) and cm.sum() == 300
    assert confusion_matrix([], [], 3).sum() == 0


@pytest.mark.parametrize("y_true, y_pred, message", [
    ([0, 1, 3], [0, 1, 1], r"labels in \[0, 2\]"),
    ([0, 1, 2], [0, -1, 1], r"predictions in \[0, 2\]"),
    ([0, 1, 2], [0, 1], "as many predictions as labels"),
])
def test_confusion_matrix_rejects_bad_labels(y_true, y_pred, message):
    with pytest.raises(ValueError, match=message):
        confusion_matrix(y_true, y_pred, 3)


def test_per_class_accuracy_is_diagonal_over_row_sums(labels):
    cm = confusion_matrix(*labels, 6)
    accuracy = per_class_accuracy(cm)
    np.testing.assert_allclose(accuracy[:5], np.diag(cm)[:5] / cm.sum(axis=1)[:5])
    assert np.isnan(accuracy[5]), "a class with no images has no accuracy"
    assert (0.4 < accuracy[:5]).all() and (accuracy[:5] < 1.0).all()  # about 0.67 by construction


def test_cell_indices_partition_the_confusion_matrix(labels):
    y_true, y_pred = labels
    cm = confusion_matrix(y_true, y_pred, 6)
    seen = []
    for t in range(6):
        for p in range(6):
            cell = cell_indices(y_true, y_pred, t, p)
            assert len(cell) == cm[t, p]
            assert (y_true[cell] == t).all() and (y_pred[cell] == p).all()
            seen.extend(cell)
    assert sorted(seen) == list(range(300))


def test_most_confident_mistakes_on_known_probabilities():
    probs = np.array([[0.9, 0.1, 0.0],   # right
                      [0.2, 0.7, 0.1],   # wrong, 0.7
                      [0.05, 0.05, 0.9],  # wrong, 0.9
                      [0.4, 0.35, 0.25],  # wrong, 0.4
                      [0.1, 0.1, 0.8]])  # right
    y_true = np.array([0, 0, 1, 2, 2])
    mistakes = most_confident_mistakes(y_true, probs, k=9)
    assert [m["index"] for m in mistakes] == [2, 1, 3]
    assert mistakes[0] == {"index": 2, "true": 1, "predicted": 2, "confidence": pytest.approx(0.9),
                           "true_probability": pytest.approx(0.05)}
    assert [m["index"] for m in most_confident_mistakes(y_true, probs, k=2)] == [2, 1]
    with pytest.raises(ValueError, match="probabilities of shape"):
        most_confident_mistakes(y_true[:4], probs)


def test_evaluate_the_shipped_model(shipped, shapes, evaluation):
    probs = np.asarray(shipped(shapes.x_test, training=False))
    np.testing.assert_allclose(evaluation.probs, probs, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(evaluation.y_pred, probs.argmax(axis=1))
    direct = float(np.mean(probs.argmax(axis=1) == shapes.y_test))
    assert evaluation.accuracy == pytest.approx(direct) and evaluation.accuracy > 0.9
    np.testing.assert_array_equal(evaluation.cm, sklearn_confusion_matrix(shapes.y_test, probs.argmax(axis=1),
                                                                          labels=range(4)))
    assert evaluation.cm.sum() == 400 and np.trace(evaluation.cm) == round(400 * evaluation.accuracy)
    np.testing.assert_allclose(evaluation.per_class_accuracy, np.diag(evaluation.cm) / evaluation.cm.sum(axis=1))
    assert evaluation.class_names == ["circle", "square", "triangle", "star"]
    for t, p in ((0, 0), (1, 2)):
        np.testing.assert_array_equal(evaluation.cell(t, p), cell_indices(shapes.y_test, probs.argmax(axis=1), t, p))


def test_mistakes_of_the_shipped_model_are_wrong_and_sorted(evaluation):
    mistakes = evaluation.mistakes(k=400)
    assert len(mistakes) == 400 - np.trace(evaluation.cm) > 0
    confidence = [m["confidence"] for m in mistakes]
    assert confidence == sorted(confidence, reverse=True)
    for m in mistakes:
        assert m["predicted"] != m["true"] == evaluation.y_true[m["index"]]
        assert m["predicted"] == evaluation.y_pred[m["index"]]
        assert m["confidence"] == pytest.approx(evaluation.probs[m["index"]].max())
    assert len(evaluation.mistakes(k=3)) == min(3, len(mistakes))


def test_predict_all_batches_and_leaves_the_model_alone(shipped, shapes):
    weights = [w.copy() for w in shipped.get_weights()]
    full = predict_all(shipped, shapes.x_test[:50])
    np.testing.assert_allclose(predict_all(shipped, shapes.x_test[:50], batch_size=7), full, rtol=1e-5, atol=1e-6)
    assert full.shape == (50, 4) and full.dtype == np.float32
    np.testing.assert_allclose(full.sum(axis=1), 1.0, atol=1e-5)
    assert predict_all(shipped, shapes.x_test[:0]).shape == (0, 4)
    with pytest.raises(ValueError, match="shape"):
        predict_all(shipped, shapes.x_test[0])
    with pytest.raises(ValueError, match="split"):
        evaluate(shipped, shapes, split="validation")
    for before, after in zip(weights, shipped.get_weights()):
        np.testing.assert_array_equal(before, after)

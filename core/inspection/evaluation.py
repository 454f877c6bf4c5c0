"""How well a model does on a dataset: predictions, confusion matrix, per-class accuracy, mistakes.

Everything is computed once from the model's outputs on a split (``evaluate``) and then
sliced with NumPy, so a page can redraw a confusion matrix or a gallery of mistakes without
running the model again. ``evaluate`` itself is the slow part: a page should cache it, e.g.
``st.cache_data(max_entries=...)`` over a function taking ``_model`` and a hashable model key
(a saved model's path and time, or a training job's id and epoch) plus the dataset's options.

``evaluate_network`` scores an ImageNet network the same way on a dataset of the user's, through
the mapping of its class names to ImageNet's (``core.inspection.imagenet_labels``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def predict_all(model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The model's outputs for every image, computed in batches with ``training=False``.

    Args:
        model: a Keras classifier; it is not modified.
        x: images of shape (N, height, width, channels).
        batch_size: images per model call.

    Returns:
        float32 (N, classes): class probabilities for a softmax model.
    """
    x = np.asarray(x, np.float32)
    if x.ndim != 4:
        raise ValueError(f"Expected images of shape (N, height, width, channels). Received: shape={x.shape}")
    if batch_size < 1:
        raise ValueError(f"Expected a batch_size of at least 1. Received: {batch_size}")
    # A direct model call per batch: model.predict adds about 50 ms of set-up per call.
    chunks = [np.asarray(model(x[i:i + batch_size], training=False), np.float32) for i in range(0, len(x), batch_size)]
    if not chunks:
        return np.zeros((0, int(model.outputs[0].shape[-1])), np.float32)
    return np.concatenate(chunks)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts of (true, predicted) pairs: int64 (num_classes, num_classes), rows true, columns predicted."""
    y_true = np.asarray(y_true).astype(np.int64).ravel()
    y_pred = np.asarray(y_pred).astype(np.int64).ravel()
    if len(y_true) != len(y_pred):
        raise ValueError(f"Expected as many predictions as labels. Received: {len(y_pred)} predictions "
                         f"for {len(y_true)} labels")
    for what, y in (("labels", y_true), ("predictions", y_pred)):
        if len(y) and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(f"Expected {what} in [0, {num_classes - 1}]. Received: [{y.min()}, {y.max()}]")
    return np.bincount(y_true * num_classes + y_pred, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def per_class_accuracy(cm: np.ndarray) -> np.ndarray:
    """Recall of every class: the diagonal over the row sums; NaN for a class with no images."""
    cm = np.asarray(cm)
    totals = cm.sum(axis=1)
    return np.where(totals > 0, np.diag(cm) / np.maximum(totals, 1), np.nan)


def cell_indices(y_true: np.ndarray, y_pred: np.ndarray, true_class: int, pred_class: int) -> np.ndarray:
    """Indices of the images of ``true_class`` predicted as ``pred_class``: one confusion-matrix cell."""
    return np.flatnonzero((np.asarray(y_true) == true_class) & (np.asarray(y_pred) == pred_class))


def most_confident_mistakes(y_true: np.ndarray, probs: np.ndarray, k: int = 9) -> list[dict]:
    """The ``k`` wrong predictions the model was surest of.

    Returns:
        Dicts, most confident first (ties by index): ``index``, ``true`` and ``predicted``
        classes, ``confidence`` (probability of the predicted class) and ``true_probability``.
    """
    probs = np.asarray(probs)
    y_true = np.asarray(y_true).astype(np.int64)
    if probs.ndim != 2 or len(probs) != len(y_true):
        raise ValueError(f"Expected probabilities of shape ({len(y_true)}, classes). Received: shape={probs.shape}")
    y_pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(y_pred != y_true)
    confidence = probs[wrong, y_pred[wrong]]
    order = wrong[np.argsort(-confidence, kind="stable")][:k]
    return [{"index": int(i), "true": int(y_true[i]), "predicted": int(y_pred[i]),
             "confidence": float(probs[i, y_pred[i]]), "true_probability": float(probs[i, y_true[i]])}
            for i in order]


@dataclass
class Evaluation:
    """A model's results on one split of a dataset."""

    probs: np.ndarray  # (N, classes) model outputs
    y_true: np.ndarray  # (N,) labels
    y_pred: np.ndarray  # (N,) argmax of probs
    cm: np.ndarray  # (classes, classes) confusion matrix, rows true, columns predicted
    per_class_accuracy: np.ndarray  # (classes,) recall of every class, NaN for an empty class
    accuracy: float  # fraction of correct predictions
    class_names: list[str]  # names of the classes, in label order

    def cell(self, true_class: int, pred_class: int) -> np.ndarray:
        """Indices of one confusion-matrix cell."""
        return cell_indices(self.y_true, self.y_pred, true_class, pred_class)

    def mistakes(self, k: int = 9) -> list[dict]:
        """``most_confident_mistakes`` of this evaluation."""
        return most_confident_mistakes(self.y_true, self.probs, k)


def evaluate(model, dataset, split: str = "test", batch_size: int = 256) -> Evaluation:
    """Run ``model`` on a split of ``dataset`` once and derive every figure from its outputs.

    Args:
        model: a Keras classifier whose outputs follow ``dataset.class_names``; not modified.
        dataset: a ``core.data.Dataset``.
        split: ``"test"`` or ``"train"``.
        batch_size: images per model call.
    """
    if split not in ("test", "train"):
        raise ValueError(f"Expected split 'test' or 'train'. Received: {split!r}")
    x, y = (dataset.x_test, dataset.y_test) if split == "test" else (dataset.x_train, dataset.y_train)
    probs = predict_all(model, x, batch_size)
    if probs.ndim != 2 or probs.shape[1] != dataset.num_classes:
        raise ValueError(f"Expected a model with {dataset.num_classes} outputs for {dataset.num_classes} classes. "
                         f"Received: output shape {probs.shape[1:]}")
    y_true = np.asarray(y).astype(np.int64)
    y_pred = probs.argmax(axis=1) if len(probs) else np.zeros(0, np.int64)
    cm = confusion_matrix(y_true, y_pred, dataset.num_classes)
    accuracy = float(np.mean(y_pred == y_true)) if len(y_true) else float("nan")
    return Evaluation(probs=probs, y_true=y_true, y_pred=y_pred, cm=cm, per_class_accuracy=per_class_accuracy(cm),
                      accuracy=accuracy, class_names=list(dataset.class_names))


@dataclass
class NetworkEvaluation:
    """An ImageNet network's results on a dataset of the user's, over the classes whose names map to ImageNet's."""

    evaluation: Evaluation  # over the mapped classes only: probs are their grouped probabilities
    classes: list[int]  # the dataset's label of each mapped class, in the evaluation's class order
    indices: np.ndarray  # (n,) the split's images scored, row by row of the evaluation
    available: int  # images of the mapped classes in the split, before the cap
    top_imagenet: np.ndarray  # (n,) the network's own best of its 1,000 classes for each image


def evaluate_network(model, dataset, mapping: dict[str, list[int]], split: str = "test", limit: int | None = None,
                     batch_size: int = 32) -> NetworkEvaluation:
    """Score an ImageNet network on a dataset through the mapping of its class names to ImageNet's classes.

    Images of classes that map to nothing are left out. At most ``limit`` images are scored, spread
    evenly over the split, and they are made 224×224 colour a batch at a time
    (``core.inspection.imagenet_labels.network_batches``), never all at once.

    Args:
        model: an ImageNet network (1,000 softmax outputs, 224×224×3 input); not modified.
        dataset: a ``core.data.Dataset`` of any image size, grey or colour.
        mapping: ``map_labels(dataset.class_names)``.
        split: ``"test"`` or ``"train"``.
        limit: most images scored; ``imagenet_labels.MAX_IMAGES`` when None.
        batch_size: images per model call.

    Raises:
        ValueError: no class of the dataset maps to an ImageNet class, or the model has not 1,000 outputs.
    """
    from core.inspection.imagenet_labels import MAX_IMAGES, grouped_predictions, network_batches, spread

    if split not in ("test", "train"):
        raise ValueError(f"Expected split 'test' or 'train'. Received: {split!r}")
    names = list(dataset.class_names)
    classes = [c for c, name in enumerate(names) if mapping.get(name)]
    if not classes:
        raise ValueError(f"Expected a class name that maps to ImageNet classes. Received: {names}")
    x, y = (dataset.x_test, dataset.y_test) if split == "test" else (dataset.x_train, dataset.y_train)
    y = np.asarray(y).astype(np.int64)
    wanted = np.flatnonzero(np.isin(y, classes))
    indices = spread(wanted, MAX_IMAGES if limit is None else limit)
    chunks = [np.asarray(model(batch, training=False), np.float32) for batch in network_batches(x[indices], batch_size)]
    probs = np.concatenate(chunks) if chunks else np.zeros((0, 1000), np.float32)
    if probs.ndim != 2 or probs.shape[1] != 1000:
        raise ValueError(f"Expected a network with 1000 outputs. Received: output shape {probs.shape[1:]}")
    pred, grouped = grouped_predictions(probs, {names[c]: mapping[names[c]] for c in classes})
    position = {c: j for j, c in enumerate(classes)}  # a dataset label to its row of the confusion matrix
    y_true = np.asarray([position[int(label)] for label in y[indices]], np.int64)
    cm = confusion_matrix(y_true, pred, len(classes))
    ev = Evaluation(probs=grouped.astype(np.float32), y_true=y_true, y_pred=pred.astype(np.int64), cm=cm,
                    per_class_accuracy=per_class_accuracy(cm),
                    accuracy=float(np.mean(pred == y_true)) if len(y_true) else float("nan"),
                    class_names=[names[c] for c in classes])
    return NetworkEvaluation(ev, classes, indices, len(wanted), probs.argmax(axis=1) if len(probs) else
                             np.zeros(0, np.int64))

"""What a model answers for one image: its class probabilities and the top classes."""

from __future__ import annotations

import numpy as np

from core.inspection.layers import activations, is_big, layer_names


def class_probabilities(model, image: np.ndarray) -> np.ndarray:
    """Softmax output for one image, through the cached all-layer extractor (which the pages share), or for a big
    network through one of its output alone."""
    if is_big(model):
        output = layer_names(model)[-1]
        return activations(model, image, [output])[output]
    acts = activations(model, image)
    return acts[next(reversed(acts))]


def top_k(probabilities: np.ndarray, class_names: list[str], k: int = 3) -> list[tuple[str, float]]:
    """The ``k`` most likely classes as (name, probability), most likely first."""
    # a stable sort of the negated values: among equal probabilities the first class, as np.argmax picks it
    order = np.argsort(-np.asarray(probabilities), kind="stable")[:k]
    return [(class_names[i] if i < len(class_names) else str(i), float(probabilities[i])) for i in order]

"""What a model answers for one image: its class probabilities and the top classes."""

from __future__ import annotations

import numpy as np

from core.inspection.layers import activations


def class_probabilities(model, image: np.ndarray) -> np.ndarray:
    """Softmax output for one image, through the cached extractor."""
    acts = activations(model, image)
    return acts[next(reversed(acts))]


def top_k(probabilities: np.ndarray, class_names: list[str], k: int = 3) -> list[tuple[str, float]]:
    """The ``k`` most likely classes as (name, probability), most likely first."""
    order = np.argsort(probabilities)[::-1][:k]
    return [(class_names[i] if i < len(class_names) else str(i), float(probabilities[i])) for i in order]

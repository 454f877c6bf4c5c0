"""Trace a model's inspection functions before a page needs them.

A page's first visit with a newly trained model paid TensorFlow's tracing of that model's functions:
65 to 380 ms on a quiet machine, and up to 3 s of the page's time in the classroom benchmark (eight
students, each with a model of their own). A training run calls ``warm_up`` once it has ended and
given back its training slot, so the pages find them ready.
"""

from __future__ import annotations

import numpy as np


def warm_up(model) -> None:
    """Build and trace the all-layer activation extractor and the first convolution's feature
    visualisation of ``model``: what the Activations, Step by step, Predict and Filters pages call first."""
    from .featurevis import maximize_filter
    from .layers import conv_layers, get_extractor, is_big, layer_names

    shape = tuple(model.input_shape[1:])
    if any(d is None for d in shape):
        return  # no fixed input size: the pages trace it for the size they are given
    # a big network's pages never ask for every layer at once (Predict asks for its output alone)
    get_extractor(model, [layer_names(model)[-1]] if is_big(model) else None)(np.zeros(shape, np.float32))
    convs = conv_layers(model)
    if convs:
        maximize_filter(model, convs[0].name, 0, steps=1)

"""warm_up: a new model's inspection functions are traced before a page needs them, without changing a result."""

from __future__ import annotations

import numpy as np

from core.inspection import featurevis, layers
from core.inspection.warm import warm_up
from inspection_models import functional_model, random_image, sequential_model


def test_warm_up_traces_the_extractor_and_the_first_filters_ascent_once():
    model = functional_model()
    warm_up(model)
    extractor = layers._EXTRACTORS[model]
    first = layers.conv_layers(model)[0].name
    probe = featurevis._PROBES[model][first]
    assert extractor._fn.experimental_get_tracing_count() == 1
    assert probe.step.experimental_get_tracing_count() == 1
    # the pages' own calls then use them as they are: no second trace
    layers.activations(model, random_image())
    featurevis.maximize_filter(model, first, 3)
    assert extractor._fn.experimental_get_tracing_count() == 1
    assert probe.step.experimental_get_tracing_count() == 1


def test_a_warmed_model_gives_the_same_pictures_as_one_never_warmed():
    warmed, cold = sequential_model(), sequential_model()
    cold.set_weights(warmed.get_weights())
    warm_up(warmed)
    image = random_image()
    ours, theirs = layers.activations(warmed, image), layers.activations(cold, image)
    assert list(ours) == list(theirs)
    for name in ours:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(warmed(image[None], training=False)), ours[list(ours)[-1]][None],
                               rtol=1e-5, atol=1e-6)  # the Keras model itself, for the last layer
    first = layers.conv_layers(warmed)[0].name
    np.testing.assert_allclose(featurevis.maximize_filter(warmed, first, 1),
                               featurevis.maximize_filter(cold, first, 1), rtol=1e-5, atol=1e-6)

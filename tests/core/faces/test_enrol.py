"""core.faces.enrol: recognition names a face only when the model is surer than the threshold."""

from __future__ import annotations

import numpy as np
import pytest

from face_photos import source


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return source("astronaut")


def test_recognise_faces_names_a_face_only_over_the_threshold(astronaut, monkeypatch):
    """Checked against the model's own softmax: the threshold decides between the name and "unknown"."""
    import keras

    from core.faces.enrol import UNKNOWN, recognise_faces

    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, name="conv1")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(x)))
    found = recognise_faces(model, ["a", "b", "c"], astronaut, threshold=0.0)
    assert len(found) == 1
    r = found[0]
    expected = model(r.cnn_input[None], training=False).numpy()[0]
    np.testing.assert_allclose(r.probabilities, expected, rtol=1e-5, atol=1e-6)
    assert r.identity == ["a", "b", "c"][int(np.argmax(expected))] and r.known
    assert r.cnn_input.shape == (32, 32, 3)
    just_over = recognise_faces(model, ["a", "b", "c"], astronaut, threshold=float(expected.max()) - 1e-4)[0]
    assert just_over.known
    at_it = recognise_faces(model, ["a", "b", "c"], astronaut, threshold=float(expected.max()) + 1e-4)[0]
    assert at_it.identity == UNKNOWN and at_it.best == r.identity
    with pytest.raises(ValueError, match="threshold"):
        recognise_faces(model, ["a", "b", "c"], astronaut, threshold=1.5)
    # faces found before (the page keeps them while the sliders move) give the same answer without detecting again
    from core.faces import enrol
    from core.faces.detect import detect_faces

    faces = detect_faces(astronaut)
    calls = []
    monkeypatch.setattr(enrol, "detect_faces", lambda *a, **k: calls.append(a) or detect_faces(*a, **k))
    again = recognise_faces(model, ["a", "b", "c"], astronaut, threshold=0.0, faces=faces)[0]
    assert calls == [] and again.face.box == r.face.box
    np.testing.assert_array_equal(again.probabilities, r.probabilities)


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



def test_recognise_faces_calls_a_face_far_from_the_named_persons_faces_unknown(astronaut):
    """With a reference, the softmax's answer stands only within the distance threshold (core.faces.openset)."""
    import dataclasses

    import keras

    from core.faces.detect import align_face, detect_faces, to_cnn_input
    from core.faces.enrol import UNKNOWN, recognise_faces
    from core.faces.openset import build_reference, decide, face_embedding
    from face_photos import snapshot

    keras.utils.set_random_seed(0)
    inputs = keras.Input((64, 64, 3))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(inputs)))

    def crops(person):
        from core.data.images import decode_image

        out = []
        for seed in range(3):
            photo = np.asarray(decode_image(snapshot(person, seed)).convert("RGB"))
            out.append(to_cnn_input(align_face(photo, detect_faces(photo)[0], (64, 64)).image, (64, 64, 3)))
        return out

    astro, camera = crops("astronaut"), crops("cameraman")
    reference = build_reference(astro + camera, [0] * 3 + [1] * 3, ["a", "b"])
    r = recognise_faces(model, ["a", "b"], astronaut, threshold=0.0, reference=reference)[0]
    expected = decide(reference, face_embedding(r.cnn_input), int(np.argmax(r.probabilities)))
    assert (r.distance, r.distance_threshold) == (expected.distance, reference.threshold)
    assert r.known == expected.known and r.identity == expected.identity and r.sure
    # the threshold decides: just over the distance, the name stands; just under it, the face is unknown
    near = recognise_faces(model, ["a", "b"], astronaut, threshold=0.0,
                           reference=dataclasses.replace(reference, threshold=r.distance + 1e-6))[0]
    assert near.known and near.near and near.identity == near.best == expected.candidate
    far = recognise_faces(model, ["a", "b"], astronaut, threshold=0.0,
                          reference=dataclasses.replace(reference, threshold=r.distance - 1e-6))[0]
    assert far.sure and far.near is False and far.identity == UNKNOWN and far.best == near.best
    np.testing.assert_array_equal(far.probabilities, near.probabilities)  # the softmax is the same either way
    # the probability threshold still applies on top of the distance
    loose = dataclasses.replace(reference, threshold=r.distance + 1e-6)
    unsure = recognise_faces(model, ["a", "b"], astronaut, threshold=1.0, reference=loose)[0]
    assert unsure.identity == UNKNOWN and not unsure.sure and unsure.near
    with pytest.raises(ValueError, match=r"Expected a reference for the classes \['a', 'c'\]"):
        recognise_faces(model, ["a", "c"], astronaut, reference=reference)


# --- a batch of photos: every photo looked at counts, refused or kept ------------------------------

def test_refused_photos_count_towards_the_identitys_room_and_the_batch(monkeypatch):
    from bad_files import strip_png
    from class_photos import TEXT_AS_JPG
    from core.faces import enrol
    from core.faces.enrol import MAX_FACES, FaceGallery
    from face_photos import snapshot

    looked = []
    real = enrol.decode_image
    monkeypatch.setattr(enrol, "decode_image", lambda data: looked.append(1) or real(data))
    gallery = FaceGallery()
    gallery.add_identity("Me")
    report = gallery.enrol_many("Me", [(f"bad{i}.jpg", TEXT_AS_JPG) for i in range(10_000)])
    assert len(looked) == MAX_FACES and report.added == [] and report.not_looked_at == 10_000 - MAX_FACES
    assert report.refused[0][0] == "bad0.jpg" and "not an image we can read" in report.refused[0][1]
    assert report.bound_reason == (f"{10_000 - MAX_FACES} more photos were not looked at: Me had room for {MAX_FACES} "
                                   f"more of the {MAX_FACES} faces a person may have, and every photo sent counts, "
                                   "added or not.")

    looked.clear()
    monkeypatch.setenv("CNNLAB_MAX_UPLOAD_FILES", "3")
    files = [("strip.png", strip_png(100_000, 12)), ("notes.jpg", TEXT_AS_JPG),
             ("me.jpg", snapshot("astronaut", 1)), ("me2.jpg", snapshot("astronaut", 2))]
    report = gallery.enrol_many("Me", files)
    assert len(looked) == 3 and [label for label, _ in report.added] == ["me.jpg"]
    assert [label for label, _ in report.refused] == ["strip.png", "notes.jpg"]
    assert "at most 10 times as long as it is wide" in report.refused[0][1]
    assert report.bound_reason.startswith("1 more photo was not looked at: at most 3 photos are taken at once")
    assert gallery.counts() == {"Me": 1}
    with pytest.raises(KeyError):
        gallery.enrol_many("Nobody", files)

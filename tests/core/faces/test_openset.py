"""core.faces.openset: embeddings, distances, the calibrated threshold and the decision, against NumPy and scikit-image."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.faces import openset as O


def face_like(seed: int, shape=(64, 64, 3)) -> np.ndarray:
    """A random smooth uint8 image: blobs, so that gradients have directions worth counting."""
    import cv2

    rng = np.random.default_rng(seed)
    noise = rng.random((shape[0] // 8, shape[1] // 8, shape[2])).astype(np.float32)
    big = cv2.resize(noise, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC).reshape(shape)
    return np.clip(big * 255, 0, 255).astype(np.uint8)


def people(n_people=3, per_person=4, seed=0) -> tuple[list[np.ndarray], np.ndarray]:
    """Each person a base image, each photo of them that image plus a little noise."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for p in range(n_people):
        base = face_like(100 + p).astype(np.int16)
        for _ in range(per_person):
            images.append(np.clip(base + rng.integers(-25, 26, base.shape), 0, 255).astype(np.uint8))
            labels.append(p)
    return images, np.array(labels)


@pytest.mark.parametrize("make", [
    lambda: face_like(1), lambda: face_like(2)[..., :1], lambda: face_like(3)[..., 0],
    lambda: face_like(4).astype(np.float32) / 255, lambda: face_like(5, (112, 92, 3)),
], ids=["rgb_uint8", "grey_channel", "grey_2d", "float_01", "orl_sized"])
def test_face_embedding_is_scikit_image_hog_of_the_grey_face(make):
    import cv2
    from skimage.feature import hog

    image = make()
    arr = np.asarray(image, np.float64)
    if arr.ndim == 3:
        arr = arr[..., 0] if arr.shape[-1] == 1 else arr @ np.array([0.299, 0.587, 0.114])
    arr = arr / (255.0 if image.dtype == np.uint8 else 1.0)
    if arr.shape != O.EMBED_SIZE:
        arr = cv2.resize(arr, O.EMBED_SIZE[::-1], interpolation=cv2.INTER_AREA)
    expected = hog(arr, orientations=O.ORIENTATIONS, pixels_per_cell=(O.CELL, O.CELL),
                   cells_per_block=(O.BLOCK, O.BLOCK), block_norm="L2-Hys")
    got = O.face_embedding(image)
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected / np.linalg.norm(expected), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(got), 1.0, rtol=1e-6)


@pytest.mark.parametrize("shape", [(64, 64, 4), (64,), (2, 64, 64, 3)])
def test_face_embedding_refuses_what_is_not_an_image(shape):
    with pytest.raises(ValueError, match=r"Expected an image of shape .*Received: shape="):
        O.face_embedding(np.zeros(shape, np.uint8))


def test_pairwise_distances_match_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 7)), rng.normal(size=(4, 7))
    expected = np.linalg.norm(a[:, None] - b[None], axis=-1)
    np.testing.assert_allclose(O.pairwise_distances(a, b), expected, rtol=1e-10, atol=1e-12)
    assert (O.pairwise_distances(a, a).diagonal() < 1e-6).all()


def reference_by_loops(images, labels) -> tuple[np.ndarray, np.ndarray, float]:
    """The calibration written out one face at a time: the rows are the faces, then their mirror images."""
    rows = np.stack([O.face_embedding(i) for i in images] + [O.face_embedding(i[:, ::-1]) for i in images])
    rows = rows.astype(np.float16).astype(np.float64)
    n = len(images)
    row_labels, row_source = np.concatenate([labels, labels]), np.concatenate([np.arange(n)] * 2)
    same, other = [], []
    for i in range(n):
        own = [np.linalg.norm(rows[i] - rows[j]) for j in range(2 * n)
               if row_source[j] != i and row_labels[j] == labels[i]]
        others = [np.linalg.norm(rows[i] - rows[j]) for j in range(2 * n) if row_labels[j] != labels[i]]
        same.append(min(own))
        other.append(min(others))
    same, other = np.array(same), np.array(other)
    return rows, same, other


def test_the_threshold_is_halfway_between_same_person_and_other_person_distances():
    images, labels = people()
    reference = O.build_reference(images, labels, ["a", "b", "c"])
    rows, same, other = reference_by_loops(images, labels)
    np.testing.assert_allclose(reference.embeddings, rows, atol=1e-7)
    np.testing.assert_array_equal(reference.labels, np.concatenate([labels, labels]))
    np.testing.assert_allclose([reference.same_person, reference.other_person], [same.mean(), other.mean()], rtol=1e-6)
    assert reference.threshold == pytest.approx((same.mean() + other.mean()) / 2, rel=1e-6)
    assert reference.same_person < reference.threshold < reference.other_person  # noisy copies of one image


def test_decide_keeps_the_name_only_within_the_threshold_of_that_persons_faces():
    images, labels = people()
    reference = O.build_reference(images, labels, ["a", "b", "c"])
    rows, _, _ = reference_by_loops(images, labels)
    row_labels = np.concatenate([labels, labels])
    # a new photo of "b", and a stranger: another base image
    new_b = np.clip(images[4].astype(np.int16) + 10, 0, 255).astype(np.uint8)
    for face in (new_b, face_like(999)):
        e = O.face_embedding(face)
        for label, name in enumerate("abc"):
            expected = min(np.linalg.norm(e - rows[j]) for j in range(len(rows)) if row_labels[j] == label)
            decision = O.decide(reference, e, label)
            assert decision.distance == pytest.approx(expected, rel=1e-5)
            assert decision.threshold == reference.threshold and decision.candidate == name
            assert decision.known == (expected <= reference.threshold)
            assert decision.identity == (name if decision.known else O.UNKNOWN)
    assert O.decide(reference, O.face_embedding(new_b), 1).identity == "b"
    assert O.decide(reference, O.face_embedding(new_b), 0).identity == O.UNKNOWN  # "b" is not "a"
    assert all(O.decide(reference, O.face_embedding(face_like(999)), k).identity == O.UNKNOWN for k in range(3))
    with pytest.raises(ValueError, match=r"Expected a label in \[0, 3\). Received: 3"):
        O.decide(reference, O.face_embedding(new_b), 3)


@pytest.mark.parametrize("labels, names", [
    ([0, 0, 0, 0], ["a"]),  # one person: nobody else to measure "another face" with
    ([0, 0, 0, 1], ["a", "b"]),  # "b" has a single face: no same-person distance
    ([0, 1], ["a", "b"]),
])
def test_build_reference_needs_two_people_with_two_faces_each(labels, names):
    images = [face_like(i) for i in range(len(labels))]
    with pytest.raises(ValueError, match="Expected faces of at least 2 people, at least 2 faces each"):
        O.build_reference(images, labels, names)


def test_a_reference_decides_the_same_after_json():
    images, labels = people(2, 5)
    reference = O.build_reference(images, labels, ["Me", "Friend"])
    again = O.OpenSetReference.from_dict(json.loads(json.dumps(reference.to_dict())))
    np.testing.assert_array_equal(again.embeddings, reference.embeddings)  # rounded to float16 before, not after
    np.testing.assert_array_equal(again.labels, reference.labels)
    assert (again.threshold, again.same_person, again.other_person, again.class_names) == (
        reference.threshold, reference.same_person, reference.other_person, ["Me", "Friend"])
    for face in images[:2] + [face_like(77)]:
        e = O.face_embedding(face)
        assert O.decide(again, e, 0) == O.decide(reference, e, 0)


@pytest.mark.parametrize("damage", [
    lambda d: d.update(feature="hog-of-another-size"),  # made another way: not comparable
    lambda d: d.pop("embeddings_f16"),
    lambda d: d.update(shape=[3, 5]),
    lambda d: d.update(labels=[7] * len(d["labels"])),
    lambda d: d.update(embeddings_f16="not base64!"),
], ids=["feature", "missing", "shape", "labels", "bytes"])
def test_a_damaged_or_foreign_reference_reads_as_none(damage):
    images, labels = people(2, 3)
    data = O.build_reference(images, labels, ["a", "b"]).to_dict()
    damage(data)
    assert O.OpenSetReference.from_dict(data) is None
    assert O.OpenSetReference.from_dict("not a table") is None

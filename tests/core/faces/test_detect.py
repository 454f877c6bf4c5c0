"""core.faces.detect: MTCNN detection, alignment, the CNN input and the drawn boxes, on scikit-image's astronaut."""

from __future__ import annotations

import numpy as np
import pytest

from core.faces import detect as F
from face_photos import FACE_BOXES, source


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return source("astronaut")


def rotate(image: np.ndarray, degrees: float, centre: tuple[float, float]) -> np.ndarray:
    import cv2

    matrix = cv2.getRotationMatrix2D(centre, degrees, 1.0)
    return cv2.warpAffine(image, matrix, image.shape[1::-1], borderMode=cv2.BORDER_REPLICATE)


def test_exactly_one_face_in_the_astronaut_photo_and_its_box_is_on_the_face(astronaut):
    found = F.detect_faces(astronaut)
    assert len(found) == 1
    face = found[0]
    assert face.confidence > 0.99
    x, y, w, h = face.box
    # Eileen Collins's face is at about x 182-266, y 64-172 of the 512x512 photo: the box must
    # cover most of that region and little else.
    fx0, fy0, fx1, fy1 = FACE_BOXES["astronaut"]
    inter = max(0, min(x + w, fx1) - max(x, fx0)) * max(0, min(y + h, fy1) - max(y, fy0))
    assert inter / (w * h) > 0.9 and inter / ((fx1 - fx0) * (fy1 - fy0)) > 0.6
    assert 60 < w < 120 and 80 < h < 140
    # the landmarks sit inside the box, eyes above the nose above the mouth, left eye left
    for px, py in face.landmarks.values():
        assert x <= px <= x + w and y <= py <= y + h
    lm = face.landmarks
    assert lm["left_eye"][0] < lm["right_eye"][0]
    assert max(lm["left_eye"][1], lm["right_eye"][1]) < lm["nose"][1] < min(lm["mouth_left"][1], lm["mouth_right"][1])


def test_the_compiled_networks_find_what_mtcnn_finds_eagerly(astronaut):
    import tensorflow as tf
    from mtcnn import MTCNN

    from face_photos import snapshot_array

    detector = F.get_detector()
    assert all(isinstance(stage.model, tf.types.experimental.GenericFunction) for stage in detector.stages)
    eager = MTCNN(device="CPU:0")
    both = np.hstack([snapshot_array("astronaut", 3), snapshot_array("cameraman", 3)])
    for image in (astronaut, both, snapshot_array("cameraman", 4)):  # several pyramids: traced, then general
        ours, theirs = detector.detect_faces(image), eager.detect_faces(image)
        assert [f["box"] for f in ours] == [f["box"] for f in theirs] and len(ours) >= 1
        np.testing.assert_allclose([f["confidence"] for f in ours], [f["confidence"] for f in theirs], atol=1e-5)
    compiled = [stage.model for stage in detector.stages]
    assert F._compile_networks(detector) is detector  # compiling twice leaves it as it is
    assert [stage.model for stage in detector.stages] == compiled


@pytest.mark.parametrize("shape", [(480, 640, 3), (480, 640), (100, 100, 1)])
def test_no_face_in_a_plain_grey_image(shape):
    assert F.detect_faces(np.full(shape, 128, np.uint8)) == []


def test_float_and_grey_inputs_find_the_same_face(astronaut):
    ref = F.detect_faces(astronaut)[0]
    as_float = F.detect_faces(astronaut.astype(np.float32) / 255.0)[0]
    assert np.allclose(as_float.box, ref.box, atol=2)
    grey = F.detect_faces(astronaut.mean(axis=-1).astype(np.uint8))
    assert len(grey) == 1 and np.allclose(grey[0].box, ref.box, atol=8)


def test_a_big_photo_is_detected_at_a_smaller_size_and_boxes_come_back_in_its_pixels(astronaut):
    import cv2

    big = cv2.resize(astronaut, (2048, 2048), interpolation=cv2.INTER_CUBIC)  # 4x, over MAX_DETECT_SIDE
    ref = F.detect_faces(astronaut)[0]
    found = F.detect_faces(big)
    assert len(found) == 1
    assert np.allclose(found[0].box, np.array(ref.box) * 4, atol=16)


def test_too_small_or_badly_shaped_images_are_refused_with_a_message():
    with pytest.raises(F.FaceError, match="at least 12 pixels"):
        F.detect_faces(np.zeros((8, 40, 3), np.uint8))
    with pytest.raises(F.FaceError, match=r"Received: shape=\(10, 10, 4\)"):
        F.detect_faces(np.zeros((10, 10, 4), np.uint8))


@pytest.mark.parametrize("degrees", [-30, -12, 15, 30])
def test_alignment_levels_the_eye_line_of_a_rotated_face(astronaut, degrees):
    tilted = rotate(astronaut, degrees, (224, 118))
    face = F.detect_faces(tilted)[0]
    # the detector sees the turn: the eye line is tilted by about the angle (the photo's own is +4°)
    assert abs(face.eye_angle - (4 - degrees)) < 6
    aligned = F.align_face(tilted, face, (160, 160))
    assert aligned.image.shape == (160, 160, 3) and aligned.image.dtype == np.uint8
    eyes = aligned.landmarks(face)
    assert abs(eyes["left_eye"][1] - eyes["right_eye"][1]) < 0.5  # the landmarks, mapped, are level
    # and a fresh detection in the crop agrees: its eyes are level to within a few degrees
    again = F.detect_faces(aligned.image)
    assert len(again) == 1 and abs(again[0].eye_angle) < 4
    # centred: the eyes' midpoint is near the middle, a little above it
    mid_x = (eyes["left_eye"][0] + eyes["right_eye"][0]) / 2
    assert abs(mid_x - 80) < 8 and 40 < eyes["left_eye"][1] < 80


def test_alignment_margin_and_shape(astronaut):
    face = F.detect_faces(astronaut)[0]
    tight = F.align_face(astronaut, face, (56, 46), margin=0.0)
    loose = F.align_face(astronaut, face, (56, 46), margin=0.5)
    assert tight.image.shape == (56, 46, 3)
    # more margin, smaller face: the eyes come closer together in the crop
    gap = lambda a: a.landmarks(face)["right_eye"][0] - a.landmarks(face)["left_eye"][0]  # noqa: E731
    assert gap(loose) < gap(tight) * 0.75
    with pytest.raises(ValueError, match="margin"):
        F.align_face(astronaut, face, (56, 46), margin=2.0)


def test_cnn_input_matches_the_folder_loader(astronaut, tmp_path):
    """A crop fed to a face model is the array the folder loader would make of the same picture."""
    from PIL import Image

    from core.data import load_dataset

    face = F.detect_faces(astronaut)[0]
    crop = F.align_face(astronaut, face, (112, 92)).image
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for i in range(5):
            Image.fromarray(crop).save(tmp_path / name / f"{i}.png")
    ds = load_dataset("folder", {"path": str(tmp_path), "image_size": [56, 46], "channels": 1})
    x = F.to_cnn_input(crop, (56, 46, 1))
    assert x.shape == (56, 46, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x, ds.x_train[0], atol=1e-6)
    assert F.to_cnn_input(crop, (32, 32, 3)).shape == (32, 32, 3)


def test_draw_faces_marks_the_box(astronaut):
    face = F.detect_faces(astronaut)[0]
    drawn = F.draw_faces(astronaut, [face], ["Me"])
    assert drawn.shape == astronaut.shape and not np.array_equal(drawn, astronaut)
    x, y, w, h = face.box
    assert tuple(drawn[y, x + w // 2]) == (0, 200, 80)  # the box's top edge
    assert np.array_equal(drawn[0:10, 400:500], astronaut[0:10, 400:500])  # far from the face: untouched


def test_a_100000x12_strip_is_refused_with_a_message_not_an_opencv_error():
    from bad_files import strip_png
    from core.data.images import decode_image

    photo = np.asarray(decode_image(strip_png(100_000, 12)).convert("RGB"))
    assert photo.shape == (12, 100_000, 3)
    import cv2

    with pytest.raises(cv2.error):  # what detection did with it before: OpenCV refuses a 0-pixel side
        cv2.resize(photo, (1024, round(12 * 1024 / 100_000)), interpolation=cv2.INTER_AREA)
    for strip in (photo, photo.transpose(1, 0, 2)):
        with pytest.raises(F.FaceError, match=r"at most 10 times as long as it is wide.*Received: (100000x12|12x100000)"):
            F.detect_faces(strip)


def test_a_photo_just_within_the_aspect_ratio_is_searched(astronaut):
    panorama = np.concatenate([astronaut[100:150]] * 2, axis=1)[:, :500]  # 500x50: 10 times as wide
    assert F.detect_faces(panorama) == []
    with pytest.raises(F.FaceError, match="at most 10 times"):
        F.detect_faces(panorama[:49])


def test_alignment_turns_opencv_errors_into_a_message(astronaut, monkeypatch):
    import cv2

    face = F.detect_faces(astronaut)[0]

    def refuse(*args, **kwargs):
        raise cv2.error("OpenCV(5.0.0) warp.cpp: error: (-215:Assertion failed) dsize.area() > 0")

    monkeypatch.setattr(cv2, "warpAffine", refuse)
    with pytest.raises(F.FaceError, match="cannot be cut out"):
        F.align_face(astronaut, face, (64, 64))

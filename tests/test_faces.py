"""The face pipeline's first stages: MTCNN detection, alignment, the CNN input, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from core import faces as F
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

    from core.datasets import load_dataset

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


def test_orl_photos_have_one_face_each(shared_datasets):
    from PIL import Image

    files = sorted((shared_datasets / "orl_faces").glob("s*/*.pgm"))
    assert len(files) == 400
    counts = [len(F.detect_faces(np.asarray(Image.open(f)))) for f in files[::3]]
    assert counts == [1] * len(counts), [str(f) for f, n in zip(files[::3], counts) if n != 1]


def run_cli(*args: str, env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core.faces", *args], capture_output=True, text=True, env=env,
                          timeout=180)


def test_cli_prints_one_json_object_per_face(tmp_path, astronaut, make_subprocess_env, shared_datasets_or_none):
    from PIL import Image

    env = make_subprocess_env()
    Image.fromarray(astronaut).save(tmp_path / "astronaut.png")
    Image.fromarray(np.full((480, 640, 3), 128, np.uint8)).save(tmp_path / "grey.png")
    paths = [tmp_path / "astronaut.png", tmp_path / "grey.png"]
    expected = [1, 0]
    if shared_datasets_or_none is not None:
        paths += [shared_datasets_or_none / "orl_faces" / "s1" / "1.pgm", shared_datasets_or_none / "orl_faces" / "s37" / "4.pgm"]
        expected += [1, 1]
    for path, n in zip(paths, expected):
        done = run_cli(str(path), env=env)
        assert done.returncode == 0, done.stderr
        faces = json.loads(done.stdout.strip().splitlines()[-1])
        assert isinstance(faces, list) and len(faces) == n, (path, faces)
        for face in faces:
            assert set(face) == {"box", "confidence", "landmarks"}
            assert len(face["box"]) == 4 and 0.9 <= face["confidence"] <= 1
            assert set(face["landmarks"]) == set(F.LANDMARKS)


def test_cli_explains_a_bad_file(tmp_path, make_subprocess_env):
    env = make_subprocess_env()
    (tmp_path / "notes.png").write_text("not a picture")
    done = run_cli(str(tmp_path / "notes.png"), env=env)
    assert done.returncode == 2 and "not an image we can read" in done.stderr
    done = run_cli(str(tmp_path / "missing.jpg"), env=env)
    assert done.returncode == 2 and "No such file" in done.stderr


def test_face_latency_benchmark_prints_its_figures():
    from bench import face_latency

    out = face_latency.main(["--runs", "3"])
    assert out["faces"] == 1 and out["photo"] == "640x480"
    assert 0 < out["detection_ms_p50"] <= out["detection_ms_p90"]
    assert out["pipeline_ms_p50"] >= out["align_ms_p50"] > 0


def test_recognise_faces_names_a_face_only_over_the_threshold(astronaut):
    """Checked against the model's own softmax: the threshold decides between the name and "unknown"."""
    import keras

    from core.enrol import UNKNOWN, recognise_faces

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

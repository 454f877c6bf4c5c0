"""Find faces in a photo and align them for a CNN: the first two stages of a face pipeline.

A plain CNN shown whole photos has to learn where the face is, how big and how
tilted, before it can learn who it is; with a few photos per person it never
does. So the pipeline is: MTCNN (Zhang et al., 2016, from the ``mtcnn``
package, which ships its weights) finds every face with its box, confidence
and five landmarks; ``align_face`` turns the photo so that the eye line is
level and cuts the face out, with a margin, at the size the CNN takes.

    >>> faces = detect_faces(photo)                    # photo: uint8 (H, W, 3)
    >>> crop = align_face(photo, faces[0], (64, 64))   # level eyes, uint8 (64, 64, 3)

Run ``python -m core.faces IMAGE`` to print the faces of a photo as JSON.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

LANDMARKS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")  # left and right as seen in the photo
MIN_CONFIDENCE = 0.9  # MTCNN's last stage already drops boxes under 0.8; 0.9 also drops most faces in wallpaper
MIN_FACE_SIZE = 20  # pixels: MTCNN's smallest window is 12, faces under 20 px have no usable landmarks
# MTCNN works on an image pyramid whose cost grows with the photo's area; a 12 MP photo
# is detected at this longest side and the boxes are scaled back.
MAX_DETECT_SIDE = 1024
# A face that fills the frame (a passport photo, an ORL picture, a close webcam shot) has
# no border around it for MTCNN's windows to see; a replicated border of this share of the
# shorter side (at most MAX_BORDER pixels, which bounds the extra work on big photos) gives it
# one. On the 400 ORL photos MTCNN finds every face with 0.25, and misses one with 0.15.
CONTEXT_BORDER = 0.25
MAX_BORDER = 96
# Sides of a photo faces are looked for in: MTCNN's smallest window is 12 pixels, and a photo much longer
# than it is wide (a phone panorama is about 4:1, a 360° one 8:1) shrunk to MAX_DETECT_SIDE leaves its
# short side too thin for any face; a 100000x12 strip would make OpenCV fail on a 0-pixel side.
MIN_DETECT_SIDE = 12
MAX_ASPECT_RATIO = 10
DEFAULT_MARGIN = 0.2  # of the box's height, added above and below the face when cropping

_detector = None
_detector_lock = threading.Lock()


class FaceError(ValueError):
    """A photo the face pipeline cannot use; the message is meant for the user."""


@dataclass(frozen=True)
class Face:
    """One face found in a photo, in the photo's pixel coordinates."""

    box: tuple[int, int, int, int]  # x, y of the top-left corner, width, height
    confidence: float  # MTCNN's last-stage probability that the box is a face
    landmarks: dict[str, tuple[float, float]]  # LANDMARKS -> (x, y)

    @property
    def eye_angle(self) -> float:
        """Degrees the eye line turns clockwise from level in the photo (y grows downwards)."""
        (lx, ly), (rx, ry) = self.landmarks["left_eye"], self.landmarks["right_eye"]
        return math.degrees(math.atan2(ry - ly, rx - lx))

    def to_dict(self) -> dict:
        return {"box": [int(v) for v in self.box], "confidence": round(float(self.confidence), 4),
                "landmarks": {k: [round(float(x), 1), round(float(y), 1)] for k, (x, y) in self.landmarks.items()}}


@dataclass(frozen=True)
class AlignedFace:
    """A face cut out of its photo with a level eye line."""

    image: np.ndarray  # uint8 (height, width, 3)
    matrix: np.ndarray  # 2x3 affine map from photo pixels to crop pixels
    angle: float  # degrees the photo was turned to level the eyes

    def landmarks(self, face: Face) -> dict[str, tuple[float, float]]:
        """The face's landmarks in the crop's pixel coordinates."""
        points = transform_points(self.matrix, np.array([face.landmarks[k] for k in LANDMARKS]))
        return {k: (float(x), float(y)) for k, (x, y) in zip(LANDMARKS, points)}


def get_detector():
    """The process's one MTCNN detector, built on first use (about a second) and shared by every session."""
    global _detector
    with _detector_lock:
        if _detector is None:
            import core  # noqa: F401  (TensorFlow's settings before mtcnn imports it)
            from mtcnn import MTCNN

            _detector = _compile_networks(MTCNN(device="CPU:0" if not _gpu_present() else "GPU:0"))
        return _detector


def _compile_networks(detector):
    """``detector`` with its three networks called as ``tf.function`` graphs instead of eagerly.

    MTCNN runs its first network once per scale of the image pyramid (about ten a photo) and
    ``mtcnn`` calls it eagerly: compiled, a 320x240 snapshot is detected in 121 ms instead of
    271 ms, with the same boxes (``tests/core/faces/test_detect.py``). Shapes vary with the
    scale and the number of candidate boxes, so each graph is traced for a general shape after
    its second call. A detector whose stages no longer keep ``_model`` (another ``mtcnn``
    version) is used as it is.
    """
    import tensorflow as tf

    for stage in getattr(detector, "stages", []):
        model = getattr(stage, "_model", None)
        if model is not None and not isinstance(model, tf.types.experimental.GenericFunction):
            stage._model = tf.function(model, reduce_retracing=True)
    return detector


def _gpu_present() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))


def as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """An (H, W), (H, W, 1) or (H, W, 3) image, uint8 or float in [0, 1], as uint8 (H, W, 3)."""
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise FaceError(f"Expected an image of shape (H, W), (H, W, 1) or (H, W, 3). Received: shape={arr.shape}")
    if arr.dtype != np.uint8:
        arr = (np.clip(arr.astype(np.float32), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return np.ascontiguousarray(arr)


def detect_faces(image: np.ndarray, min_confidence: float = MIN_CONFIDENCE,
                 min_face_size: int = MIN_FACE_SIZE) -> list[Face]:
    """Every face MTCNN finds in ``image``, left to right.

    Args:
        image: the photo, grey or RGB, uint8 or float in [0, 1].
        min_confidence: faces MTCNN is less sure of are left out.
        min_face_size: smallest face side searched for, in the photo's pixels.

    Returns:
        The faces, their boxes clipped to the photo.
    """
    import cv2

    rgb = as_rgb_uint8(image)
    h, w = rgb.shape[:2]
    check_photo_shape(w, h)
    scale = min(1.0, MAX_DETECT_SIDE / max(h, w))
    try:
        small = rgb if scale == 1.0 else cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    except cv2.error as exc:  # check_photo_shape leaves OpenCV nothing to refuse; a message, never a traceback
        raise FaceError(f"This photo cannot be searched for faces ({w}x{h} pixels): {exc.err or exc}") from exc
    border = min(MAX_BORDER, max(8, round(CONTEXT_BORDER * min(small.shape[:2]))))
    padded = np.pad(small, ((border, border), (border, border), (0, 0)), mode="edge")
    found = get_detector().detect_faces(padded, min_face_size=max(12, round(min_face_size * scale)))
    faces = []
    for item in found:
        confidence = float(item["confidence"])
        if confidence < min_confidence:
            continue
        x, y, bw, bh = (float(v) for v in item["box"])
        x0, y0 = (x - border) / scale, (y - border) / scale
        x1, y1 = x0 + bw / scale, y0 + bh / scale
        x0, y0, x1, y1 = max(0.0, x0), max(0.0, y0), min(float(w), x1), min(float(h), y1)
        if x1 - x0 < 1 or y1 - y0 < 1:
            continue  # a face found only in the replicated border
        landmarks = {k: ((float(item["keypoints"][k][0]) - border) / scale, (float(item["keypoints"][k][1]) - border) / scale)
                     for k in LANDMARKS}
        faces.append(Face(box=(round(x0), round(y0), round(x1 - x0), round(y1 - y0)), confidence=confidence,
                          landmarks=landmarks))
    return sorted(faces, key=lambda f: f.box[0])


def check_photo_shape(width: int, height: int) -> None:
    """Raise ``FaceError`` unless a ``width`` x ``height`` photo can be searched for faces.

    Each side must be at least ``MIN_DETECT_SIDE`` pixels, and the longer at most
    ``MAX_ASPECT_RATIO`` times the shorter.
    """
    if min(width, height) < MIN_DETECT_SIDE:
        raise FaceError(f"Expected a photo at least {MIN_DETECT_SIDE} pixels on each side to look for faces. "
                        f"Received: {width}x{height}")
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise FaceError(f"Expected a photo at most {MAX_ASPECT_RATIO} times as long as it is wide to look for faces. "
                        f"Received: {width}x{height}, {max(width, height) / min(width, height):.0f} times. "
                        "Crop it around the faces first.")


def align_face(image: np.ndarray, face: Face, size: tuple[int, int], margin: float = DEFAULT_MARGIN) -> AlignedFace:
    """Turn the photo about the face so that its eyes are level, and cut the face out at ``size``.

    Args:
        image: the photo the face was found in.
        face: one of ``detect_faces(image)``.
        size: (height, width) of the crop, usually the CNN's input.
        margin: share of the box's height added above and below (and the same
            width each side, scaled to the crop's aspect ratio) so hair and chin stay in.

    Returns:
        The crop, the affine map that made it, and the angle turned.
    """
    import cv2

    if not 0.0 <= margin <= 1.0:
        raise ValueError(f"Expected a margin in [0, 1]. Received: {margin}")
    out_h, out_w = int(size[0]), int(size[1])
    if out_h < 1 or out_w < 1:
        raise ValueError(f"Expected a crop size of at least 1x1. Received: {size}")
    rgb = as_rgb_uint8(image)
    x, y, bw, bh = face.box
    # Centre on the landmarks' midpoint between eyes and mouth: the box of a turned head
    # is off-centre, the landmarks are not.
    points = np.array([face.landmarks[k] for k in LANDMARKS])
    cx, cy = float(points[:, 0].mean()), float((points[:2, 1].mean() + points[3:, 1].mean()) / 2)
    crop_h = max(bh, bw * out_h / out_w) * (1.0 + 2.0 * margin)
    scale = out_h / crop_h
    angle = face.eye_angle
    # getRotationMatrix2D turns counter-clockwise for a positive angle on screen, which undoes
    # an eye line that falls to the right by that many degrees; then the face centre moves to
    # the crop's centre.
    matrix = cv2.getRotationMatrix2D((cx, cy), angle, scale)
    matrix[0, 2] += out_w / 2.0 - cx
    matrix[1, 2] += out_h / 2.0 - cy
    try:
        crop = cv2.warpAffine(rgb, matrix, (out_w, out_h), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
    except cv2.error as exc:  # a face from another photo, or a crop OpenCV cannot make: a message, not a traceback
        raise FaceError(f"This face cannot be cut out of a {rgb.shape[1]}x{rgb.shape[0]} photo at "
                        f"{out_w}x{out_h}: {exc.err or exc}") from exc
    return AlignedFace(image=crop, matrix=matrix, angle=angle)


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, 2) points mapped by a 2x3 affine matrix."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return points @ matrix[:, :2].T + matrix[:, 2]


def to_cnn_input(crop: np.ndarray, input_shape: tuple[int, int, int]) -> np.ndarray:
    """An aligned crop as the float (H, W, C) array in [0, 1] a model with ``input_shape`` takes.

    The crop goes through ``core.data.images.to_model_input``, as every photo of a dataset folder
    does, so a face model sees its own faces exactly as it saw its training photos.
    """
    from PIL import Image

    from core.data.images import to_model_input

    return to_model_input(Image.fromarray(as_rgb_uint8(crop)), input_shape, fit="crop")


def draw_faces(image: np.ndarray, faces: list[Face], labels: list[str] | None = None) -> np.ndarray:
    """A copy of the photo with each face's box, landmarks and number (or label) drawn on it."""
    import cv2

    canvas = as_rgb_uint8(image).copy()
    thick = max(1, round(max(canvas.shape[:2]) / 300))
    for i, face in enumerate(faces):
        x, y, bw, bh = face.box
        cv2.rectangle(canvas, (x, y), (x + bw, y + bh), (0, 200, 80), thick)
        for k in LANDMARKS:
            px, py = face.landmarks[k]
            cv2.circle(canvas, (round(px), round(py)), max(2, thick + 1), (255, 60, 60) if "eye" in k else (60, 140, 255), -1)
        text = labels[i] if labels else str(i + 1)
        cv2.putText(canvas, text, (x, max(12, y - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thick, (0, 200, 80), thick)
    return canvas

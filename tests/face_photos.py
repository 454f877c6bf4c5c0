"""Photos of faces as a webcam would give them, made from scikit-image's sample photos (no download).

Two people: ``astronaut`` (Eileen Collins, colour, facing the camera) and
``cameraman`` (grey, a man behind a camera). Each call gives another snapshot:
a crop that keeps the face in, a small turn, a brightness change, as JPEG bytes.
"""

from __future__ import annotations

import io
from functools import lru_cache

import numpy as np
from PIL import Image

PEOPLE = ("astronaut", "cameraman")
# Where each face is in the source photo (x0, y0, x1, y1), from MTCNN's box with a little room.
FACE_BOXES = {"astronaut": (175, 55, 275, 180), "cameraman": (190, 105, 265, 205)}


@lru_cache(maxsize=None)
def source(person: str) -> np.ndarray:
    from skimage import data

    img = getattr(data, "astronaut" if person == "astronaut" else "camera")()
    return img if img.ndim == 3 else np.stack([img] * 3, axis=-1)


def jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def snapshot_array(person: str, seed: int, size: tuple[int, int] = (320, 240)) -> np.ndarray:  # (width, height)
    """One uint8 (height, width, 3) snapshot of ``person``: random crop around the face, turn of up to 8°, brightness."""
    rng = np.random.default_rng(seed)
    src = source(person)
    h, w = src.shape[:2]
    x0, y0, x1, y1 = FACE_BOXES[person]
    side = int(rng.uniform(1.8, 2.6) * (y1 - y0))
    cx = (x0 + x1) / 2 + rng.uniform(-0.15, 0.15) * side
    cy = (y0 + y1) / 2 + rng.uniform(-0.1, 0.1) * side
    left = int(np.clip(cx - side * 2 / 3, 0, w - side * 4 / 3))
    top = int(np.clip(cy - side / 2, 0, h - side))
    crop = Image.fromarray(src).crop((left, top, left + int(side * 4 / 3), top + side))
    crop = crop.rotate(rng.uniform(-8, 8), resample=Image.Resampling.BILINEAR)
    arr = np.asarray(crop.resize(size, Image.Resampling.BILINEAR), np.float32)  # size is (width, height)
    return np.clip(arr * rng.uniform(0.85, 1.15), 0, 255).astype(np.uint8)


def snapshot(person: str, seed: int) -> bytes:
    return jpeg(snapshot_array(person, seed))


def two_faces(seed: int = 0) -> bytes:
    """Both people side by side in one frame."""
    return jpeg(np.hstack([snapshot_array("astronaut", seed), snapshot_array("cameraman", seed)]))


def no_face() -> bytes:
    """A real photo with no face in it: scikit-image's cup of coffee."""
    from skimage import data

    return jpeg(data.coffee())

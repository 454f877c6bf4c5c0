"""Photos of three visibly different kinds, as a webcam or a camera would give them.

``china`` and ``flower`` are crops of scikit-learn's two sample photos (shipped
with the package, no download); ``sunset`` is drawn: an orange-to-purple sky over
dark hills. Each call gives another crop, shift and brightness, as JPEG bytes.
"""

from __future__ import annotations

import io
from functools import lru_cache

import numpy as np
from PIL import Image

KINDS = ("china", "flower", "sunset")


@lru_cache(maxsize=None)
def _source(kind: str) -> np.ndarray:
    if kind in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return load_sample_image(f"{kind}.jpg")
    h, w = 427, 640
    t = np.linspace(0.0, 1.0, h)[:, None]
    sky = np.stack([255 * (1 - 0.3 * t), 140 * (1 - t) + 40, 60 + 120 * t], axis=-1) * np.ones((1, w, 1))
    xs = np.arange(w)
    ridge = (0.62 + 0.08 * np.sin(xs / 45.0) + 0.05 * np.sin(xs / 17.0 + 1.0)) * h
    sky[np.arange(h)[:, None] > ridge[None, :]] = (25, 20, 45)
    return np.clip(sky, 0, 255).astype(np.uint8)


def photo(kind: str, seed: int, size: tuple[int, int] = (160, 120)) -> bytes:
    """One JPEG of ``kind``: a random 60-85 % crop, brightness x0.85-1.15, resized to ``size``."""
    rng = np.random.default_rng(seed)
    src = _source(kind)
    h, w = src.shape[:2]
    scale = rng.uniform(0.6, 0.85)
    ch, cw = int(h * scale), int(w * scale)
    top, left = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    crop = src[top:top + ch, left:left + cw].astype(np.float32) * rng.uniform(0.85, 1.15)
    img = Image.fromarray(np.clip(crop, 0, 255).astype(np.uint8)).resize(size, Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def png_bytes(seed: int = 0, size: int = 40) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def truncated_png() -> bytes:
    data = png_bytes(1, 64)
    return data[: len(data) // 2]


TEXT_AS_JPG = b"These are my holiday notes, not a picture.\n" * 20

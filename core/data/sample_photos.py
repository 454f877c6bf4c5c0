"""Sample photos for the ImageNet networks: a person, a cat, a cup and a rocket (``assets/photos``).

The networks know ImageNet's 1,000 classes, not any dataset of CNN Lab's, so their pages offer
these photos as samples, with the ImageNet classes a correct answer would name (ImageNet has no
"person" class: a network names what the astronaut wears or holds).

    >>> photo = load_sample_photo("chelsea")       # uint8 (213, 320, 3)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2] / "assets" / "photos"


@dataclass(frozen=True)
class SamplePhoto:
    key: str
    title: str
    expected: tuple[str, ...]  # ImageNet class names (core.models.imagenet.imagenet_class_names) a right answer gives


SAMPLE_PHOTOS: dict[str, SamplePhoto] = {p.key: p for p in (
    SamplePhoto("chelsea", "Chelsea the cat", ("tabby", "tiger cat", "Egyptian cat")),
    SamplePhoto("coffee", "A cup of coffee", ("espresso", "cup", "coffee mug")),
    SamplePhoto("rocket", "A rocket lifting off", ("missile", "projectile", "space shuttle")),
    SamplePhoto("astronaut", "The astronaut Eileen Collins", ()),
)}


def load_sample_photo(key: str) -> np.ndarray:
    """The photo as a uint8 RGB array (height, width, 3)."""
    from core.data.images import open_image

    if key not in SAMPLE_PHOTOS:
        raise KeyError(f"Expected a sample photo among {list(SAMPLE_PHOTOS)}. Received: {key!r}")
    with open_image(ROOT / f"{key}.jpg") as im:
        return np.asarray(im.convert("RGB"))

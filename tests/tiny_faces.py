"""A tiny ORL-like faces folder (PGM photos of a few people, 112x92 like ORL's), for recipe and benchmark tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def tiny_faces(root: Path, people: int = 4, per_person: int = 6) -> None:
    """``root/tiny/s1 ... s<people>``, each with ``per_person`` noisy copies of one random face-sized picture."""
    rng = np.random.default_rng(0)
    for p in range(people):
        (root / "tiny" / f"s{p + 1}").mkdir(parents=True)
        base = rng.integers(0, 255, (112, 92))
        for i in range(per_person):
            noisy = np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)
            Image.fromarray(noisy).save(root / "tiny" / f"s{p + 1}" / f"{i + 1}.pgm")


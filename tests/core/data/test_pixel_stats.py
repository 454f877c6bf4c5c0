"""core.data.pixel_stats against NumPy computed directly."""

from __future__ import annotations

import numpy as np
import pytest

from core.data.pixel_stats import pixel_statistics


def test_statistics_match_numpy_per_channel():
    rng = np.random.default_rng(0)
    images = rng.random((50, 6, 5, 3)).astype(np.float32)
    images[..., 2] *= 0.5  # the blue channel is darker
    stats = pixel_statistics(images, bins=10)
    assert stats["channels"] == ["red", "green", "blue"] and stats["images"] == 50
    np.testing.assert_allclose(stats["mean"], images.reshape(-1, 3).mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(stats["std"], images.reshape(-1, 3).std(axis=0), rtol=1e-5)
    np.testing.assert_allclose(stats["histogram"].sum(axis=1), 1.0)
    expected, _ = np.histogram(images[..., 2], np.linspace(0, 1, 11))
    np.testing.assert_allclose(stats["histogram"][2], expected / images[..., 2].size)
    assert stats["histogram"][2][5:].sum() == pytest.approx(0.0, abs=1e-3)  # nothing above 0.5 in blue


def test_grey_images_and_sampling():
    images = np.zeros((200, 4, 4, 1), np.float32)
    images[:100] = 1.0
    stats = pixel_statistics(images, bins=4, max_images=50)
    assert stats["channels"] == ["grey"] and stats["images"] == 50
    assert stats["min"] == [0.0] and stats["max"] == [1.0]
    assert stats["histogram"][0][0] + stats["histogram"][0][-1] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="Expected images of shape"):
        pixel_statistics(np.zeros((4, 4)))

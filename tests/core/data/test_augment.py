"""core.data.augment: each setting checked against a NumPy reference, and the augmented training pipeline."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.data.augment import Augmentation, augment_images, augmented_dataset, build_augmenter
from core.training.config import TrainConfig


def photos(n=16, size=24, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    # smooth, asymmetric images (a gradient plus a bright corner blob) so flips and shifts are visible
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    base = 0.2 + 0.5 * xx * (1 - 0.3 * yy)
    x = np.repeat(base[None, ..., None], n, axis=0).repeat(channels, axis=-1)
    x[:, : size // 4, : size // 4] += 0.25
    return np.clip(x + rng.uniform(-0.05, 0.05, x.shape), 0, 1).astype(np.float32)


def test_nothing_on_builds_nothing_and_leaves_images_alone():
    x = photos()
    assert build_augmenter(Augmentation()) is None
    assert not Augmentation().active
    out = augment_images(x, Augmentation())
    np.testing.assert_array_equal(out, x)
    assert out is not x


def test_horizontal_flip_gives_each_image_or_its_mirror_and_both_occur():
    x = photos(32)
    out = augment_images(x, Augmentation(flip="horizontal"), seed=1)
    same = [np.allclose(o, i) for o, i in zip(out, x)]
    mirrored = [np.allclose(o, i[:, ::-1]) for o, i in zip(out, x)]
    assert all(s or m for s, m in zip(same, mirrored))
    assert any(same) and any(mirrored)


def test_vertical_flip_mirrors_rows():
    x = photos(32)
    out = augment_images(x, Augmentation(flip="vertical"), seed=2)
    assert all(np.allclose(o, i) or np.allclose(o, i[::-1]) for o, i in zip(out, x))
    assert any(np.allclose(o, i[::-1]) for o, i in zip(out, x))


def test_brightness_adds_one_offset_per_image_within_the_factor():
    x = photos(16) * 0.5 + 0.25  # room on both sides, so nothing is clipped at ±0.2
    out = augment_images(x, Augmentation(brightness=0.2), seed=3)
    offsets = (out - x).reshape(len(x), -1)
    np.testing.assert_allclose(offsets, offsets[:, :1].repeat(offsets.shape[1], axis=1), atol=1e-5)
    assert np.all(np.abs(offsets[:, 0]) <= 0.2 + 1e-6)
    assert np.std(offsets[:, 0]) > 0.01  # different images get different offsets


def test_contrast_scales_around_each_channel_mean():
    x = photos(16) * 0.5 + 0.25
    out = augment_images(x, Augmentation(contrast=0.3), seed=4)
    for o, i in zip(out, x):
        mean = i.mean(axis=(0, 1), keepdims=True)
        centred = (i - mean).ravel()
        factor = float(np.dot((o - mean).ravel(), centred) / np.dot(centred, centred))
        assert 0.7 - 1e-3 <= factor <= 1.3 + 1e-3
        np.testing.assert_allclose(o, np.clip(mean + factor * (i - mean), 0, 1), atol=1e-4)


def test_rotation_zoom_translation_move_pixels_but_keep_shape_and_range():
    x = photos(8)
    for aug in (Augmentation(rotation_degrees=30), Augmentation(zoom=0.3), Augmentation(translation=0.3)):
        out = augment_images(x, aug, seed=5)
        assert out.shape == x.shape and out.dtype == np.float32
        assert out.min() >= 0 and out.max() <= 1
        assert np.mean([not np.allclose(o, i, atol=0.02) for o, i in zip(out, x)]) > 0.5, aug


def test_translation_by_whole_pixels_matches_a_numpy_roll_inside_the_image():
    # one image, many draws: a shift found by search must reproduce the output away from the border
    x = photos(1, size=32)
    out = augment_images(np.repeat(x, 6, axis=0), Augmentation(translation=0.15), seed=6)
    for o in out:
        best = min(((dy, dx) for dy in range(-6, 7) for dx in range(-6, 7)),
                   key=lambda d: np.abs(np.roll(x[0], d, axis=(0, 1))[8:24, 8:24] - o[8:24, 8:24]).mean())
        assert np.abs(np.roll(x[0], best, axis=(0, 1))[8:24, 8:24] - o[8:24, 8:24]).mean() < 0.03


def test_same_seed_same_preview():
    x = photos(8)
    aug = Augmentation(flip="horizontal", rotation_degrees=15, zoom=0.1, translation=0.1, brightness=0.1, contrast=0.1)
    np.testing.assert_array_equal(augment_images(x, aug, seed=7), augment_images(x, aug, seed=7))


@pytest.mark.parametrize("bad", [{"flip": "sideways"}, {"rotation_degrees": -1}, {"zoom": 1.0},
                                 {"translation": -0.1}, {"brightness": 2}, {"contrast": 1.5}, {"shear": 0.1}])
def test_bad_settings_are_refused_with_a_message(bad):
    with pytest.raises(ValueError, match="Expected"):
        Augmentation.from_dict(bad)
    with pytest.raises(ValueError, match="Expected"):
        TrainConfig(augmentation=bad).validate()


def test_settings_round_trip_through_json_and_describe_themselves():
    aug = Augmentation(flip="horizontal", rotation_degrees=10, zoom=0.1)
    assert Augmentation.from_dict(json.loads(json.dumps(aug.to_dict()))) == aug
    assert aug.describe() == "horizontal flip, rotation ±10°, zoom ±10%"
    assert Augmentation().describe() == "none"


def test_training_pipeline_keeps_labels_with_their_images_and_redraws_every_epoch():
    # Label = brightness level of a flat image with one bright pixel: a flip moves the pixel but keeps the
    # image's sum, so every batch can be checked against its labels.
    n, size = 40, 12
    y = np.arange(n) % 4
    x = np.repeat((0.1 + 0.2 * y)[:, None, None, None], size, 1).repeat(size, 2).astype(np.float32)
    x[:, 2, 3, 0] = 1.0
    data = augmented_dataset(x, y, Augmentation(flip="horizontal_and_vertical"), batch_size=8, seed=0)
    epochs = []
    for _ in range(2):
        seen = []
        for images, labels in data:
            images, labels = images.numpy(), labels.numpy()
            expected = (0.1 + 0.2 * labels) * (size * size - 1) + 1.0
            np.testing.assert_allclose(images.sum(axis=(1, 2, 3)), expected, rtol=1e-5)
            seen.append(images)
        epochs.append(np.concatenate(seen))
    assert len(epochs[0]) == n
    assert not np.array_equal(epochs[0], epochs[1])



def test_a_repeated_pipeline_gives_every_image_once_an_epoch_in_a_new_order():
    # one endless stream for a whole run: each run of ceil(n / batch) batches is one whole epoch
    n, batch = 10, 4
    y = np.arange(n)
    x = np.repeat(y[:, None, None, None].astype(np.float32) / n, 6, 1).repeat(6, 2)
    data = augmented_dataset(x, y, Augmentation(flip="horizontal"), batch_size=batch, seed=3, repeat=True)
    stream = iter(data)
    orders = []
    for _ in range(3):
        batches = [next(stream) for _ in range(-(-n // batch))]
        assert [len(b[1]) for b in batches] == [4, 4, 2]
        labels = np.concatenate([b[1].numpy() for b in batches])
        images = np.concatenate([b[0].numpy() for b in batches])
        assert sorted(labels) == list(range(n))
        np.testing.assert_allclose(images[:, 0, 0, 0], labels / n, rtol=1e-6)  # each image with its label
        orders.append(list(labels))
    assert orders[0] != orders[1] or orders[1] != orders[2]

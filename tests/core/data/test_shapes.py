"""core.data.shapes: the synthetic offline dataset, and the drawing of one shape with its box."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.data import DATASETS, load_dataset
from core.data import shapes
from core.data.shapes import CLASS_NAMES, draw_shape, draw_shape_with_box
from dataset_files import assert_well_formed

SMALL_SHAPES = {"n_train": 200, "n_test": 80}


def test_shapes_default_size():
    ds = load_dataset("shapes")
    assert_well_formed(ds)
    assert ds.x_train.shape == (4000, 32, 32, 3)
    assert ds.x_test.shape == (1000, 32, 32, 3)
    assert ds.class_names == ["circle", "square", "triangle", "star"]
    assert ds.class_counts("train") == {name: 1000 for name in ds.class_names}
    assert ds.class_counts("test") == {name: 250 for name in ds.class_names}
    assert DATASETS["shapes"].offline


def test_shapes_small_is_balanced_and_varied():
    ds = load_dataset("shapes", SMALL_SHAPES)
    assert_well_formed(ds)
    assert ds.x_train.shape == (200, 32, 32, 3) and ds.x_test.shape == (80, 32, 32, 3)
    assert set(ds.class_counts().values()) == {50}
    assert set(ds.class_counts("test").values()) == {20}
    # Labels are shuffled, not in blocks, and images use a good part of the range.
    assert len(set(ds.y_train[:8].tolist())) > 1
    assert ds.x_train.std() > 0.1


def test_shapes_same_seed_same_arrays_other_seed_other_arrays():
    a = load_dataset("shapes", {**SMALL_SHAPES, "seed": 3})
    b = load_dataset("shapes", {**SMALL_SHAPES, "seed": 3})
    c = load_dataset("shapes", {**SMALL_SHAPES, "seed": 4})
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.x_train, c.x_train)
    assert a.options == {**SMALL_SHAPES, "size": 32, "seed": 3}
    # The options reload the same dataset.
    np.testing.assert_array_equal(load_dataset("shapes", a.options).x_test, a.x_test)


def test_shapes_train_and_test_share_no_image():
    ds = load_dataset("shapes", SMALL_SHAPES)
    train = {img.tobytes() for img in ds.x_train}
    assert not any(img.tobytes() in train for img in ds.x_test)
    assert len(train) == len(ds.x_train)  # no duplicates inside train either


@pytest.mark.parametrize("size", [8, 12, 16, 19])
def test_shapes_draws_small_images_too(size):
    from core.data.shapes import load_shapes

    ds = load_shapes(n_train=40, n_test=8, size=size, seed=1)
    assert ds.x_train.shape == (40, size, size, 3)
    # every image shows a shape: foreground and background differ somewhere
    assert np.all(ds.x_train.reshape(40, -1).std(axis=1) > 0.05)


# --- draw_shape_with_box -----------------------------------------------------------------

def draw_shape_before_refactor(kind, rng, size=32, noise=0.06):
    """``draw_shape`` as it was before ``draw_shape_with_box`` shared its code."""
    bg, fg = shapes._contrasting_colours(rng)
    r = rng.uniform(0.17, 0.36) * size
    margin = r * 1.25 + 1
    cx = rng.uniform(margin, size - margin)
    cy = rng.uniform(margin, size - margin)
    angle = rng.uniform(0, 2 * np.pi)
    canvas = np.zeros((size, size), np.uint8)
    if kind == "circle":
        cv2.circle(canvas, (int(cx * 4), int(cy * 4)), int(r * 4), 255, -1, cv2.LINE_AA, 2)
    else:
        pts = np.round(shapes._polygon(kind, cx, cy, r, angle) * 4).astype(np.int32)
        cv2.fillPoly(canvas, [pts], 255, cv2.LINE_AA, 2)
    alpha = canvas.astype(np.float32)[..., None] / 255.0
    image = bg[None, None, :] * (1 - alpha) + fg[None, None, :] * alpha
    image = image + rng.normal(0.0, noise, image.shape)
    return np.clip(image, 0.0, 1.0).astype(np.float32)


@pytest.mark.parametrize("size", [32, 20])
def test_draw_shape_is_bit_identical_and_boxes_are_tight(size):
    for seed in range(5):
        old_rng, rng, box_rng = (np.random.default_rng(seed) for _ in range(3))
        for kind in CLASS_NAMES * 2:
            expected = draw_shape_before_refactor(kind, old_rng, size)
            np.testing.assert_array_equal(draw_shape(kind, rng, size), expected)
            image, box = draw_shape_with_box(kind, box_rng, size)
            np.testing.assert_array_equal(image, expected)
        assert rng.random() == old_rng.random() == box_rng.random()  # each advanced by the same amount
    for seed in range(10):
        kind = CLASS_NAMES[seed % 4]
        image, (x0, y0, x1, y1) = draw_shape_with_box(kind, np.random.default_rng(seed), size, noise=0.0)
        assert 0 <= x0 < x1 <= size and 0 <= y0 < y1 <= size
        background = image[0, 0] if (x0, y0) != (0, 0) else image[-1, -1]
        differs = (image != background).any(axis=-1)
        outside = np.ones((size, size), bool)
        outside[y0:y1, x0:x1] = False
        assert not differs[outside].any(), "the shape reaches outside its box"
        # Tight: every edge of the box touches the shape.
        assert differs[y0].any() and differs[y1 - 1].any() and differs[:, x0].any() and differs[:, x1 - 1].any()


"""core.training.config: TrainConfig's checks and round trip, and the arithmetic of epochs, batches and validation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from core.training.config import (TrainConfig, epoch_images, epoch_steps, split_validation, steps_per_epoch,
                                  validation_size)


BAD_CONFIGS = {
    "zero_epochs": dict(epochs=0),
    "zero_batch": dict(batch_size=0),
    "zero_lr": dict(learning_rate=0.0),
    "negative_lr": dict(learning_rate=-1e-3),
    "nan_lr": dict(learning_rate=float("nan")),
    "unknown_optimizer": dict(optimizer="adagrad_plus"),
    "validation_split_1": dict(validation_split=1.0),
    "negative_validation_split": dict(validation_split=-0.1),
    "label_smoothing_1": dict(label_smoothing=1.0),
    "negative_label_smoothing": dict(label_smoothing=-0.1),
}


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_train_config_rejects_bad_values(case):
    with pytest.raises(ValueError, match="Expected"):
        TrainConfig(**BAD_CONFIGS[case]).validate()


def test_train_config_defaults_are_valid_and_serialisable():
    config = TrainConfig()
    config.validate()
    assert TrainConfig(**json.loads(json.dumps(config.to_dict()))) == config


def test_an_unknown_schedule_is_refused_and_augmentation_is_read_as_settings():
    with pytest.raises(ValueError, match="schedule"):
        TrainConfig(schedule="step").validate()
    assert not TrainConfig().augmenter_settings().active
    aug = TrainConfig(augmentation={"flip": "horizontal", "zoom": 0.1}).augmenter_settings()
    assert (aug.flip, aug.zoom, aug.rotation_degrees) == ("horizontal", 0.1, 0.0)


def test_split_validation_is_disjoint_and_seeded():
    x = np.arange(100)[:, None].astype(np.float32)
    y = np.arange(100) % 4
    xt, yt, (xv, yv) = split_validation(x, y, 0.2, seed=1)
    assert len(xv) == 20 and len(xt) == 80
    assert set(xt[:, 0]).isdisjoint(xv[:, 0]) and len(set(xt[:, 0]) | set(xv[:, 0])) == 100
    np.testing.assert_array_equal(yt, xt[:, 0].astype(int) % 4)  # labels follow their images
    again = split_validation(x, y, 0.2, seed=1)
    np.testing.assert_array_equal(again[2][0], xv)
    xt0, yt0, val0 = split_validation(x, y, 0.0, seed=1)
    assert val0 is None and len(xt0) == 100


def test_split_validation_always_leaves_training_images():
    # TrainConfig accepts any validation_split below 1; on a small dataset a large split
    # must still leave something to train on (10 images at 0.95 rounds to 10 held out).
    x = np.zeros((10, 2), np.float32)
    y = np.arange(10) % 2
    xt, yt, validation = split_validation(x, y, 0.95, seed=0)
    assert len(xt) >= 1 and len(xt) + len(validation[0]) == 10


@pytest.mark.parametrize("n, fraction, expected", [(100, 0.1, 10), (100, 0.0, 0), (1, 0.5, 0), (10, 0.95, 9),
                                                   (10, 0.01, 1), (33, 0.1, 3), (2, 0.5, 1)])
def test_validation_size_is_the_rounded_share_with_at_least_one_image_each_side(n, fraction, expected):
    assert validation_size(n, fraction) == expected
    x = np.zeros((n, 1), np.float32)
    _, _, validation = split_validation(x, np.zeros(n, np.int64), fraction, seed=0)
    assert (0 if validation is None else len(validation[0])) == expected  # what split_validation holds out


def test_epoch_images_whole_epochs_then_the_focused_share():
    assert epoch_images(1000, TrainConfig(epochs=4)) == [1000] * 4
    config = TrainConfig(epochs=5, focus=0.5, focus_warmup=2, focus_revisit=0.2)
    # the hardest 500, and a fifth of the other 500
    assert epoch_images(1000, config) == [1000, 1000, 600, 600, 600]
    # by default: 2 whole epochs, then a tenth of the others
    assert epoch_images(1000, TrainConfig(epochs=3, focus=0.5)) == [1000, 1000, 550]
    assert epoch_images(1000, TrainConfig(epochs=3, focus=0.3, focus_warmup=1, focus_revisit=0.0)) == [1000, 300, 300]
    assert epoch_images(1000, TrainConfig(epochs=2, focus=0.3, focus_warmup=1, focus_revisit=1.0)) == [1000, 1000]
    assert epoch_images(1, TrainConfig(epochs=2, focus=0.3, focus_warmup=1)) == [1, 1]  # at least one image


@pytest.mark.parametrize("fields, message", [
    ({"focus": 1.0}, "focus in"), ({"focus": -0.1}, "focus in"),
    ({"focus": 0.5, "focus_warmup": 0}, "focus_warmup"), ({"focus_revisit": 1.5}, "focus_revisit"),
])
def test_bad_focus_settings_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**fields).validate()
    TrainConfig(focus_warmup=0).validate()  # no focus: the warm-up does not matter


def test_epoch_steps_and_steps_per_epoch_are_ceiling_divisions():
    config = TrainConfig(epochs=3, batch_size=32, focus=0.5, focus_warmup=1, focus_revisit=0.0)
    assert epoch_steps(1000, config) == [math.ceil(k / 32) for k in epoch_images(1000, config)] == [32, 16, 16]
    assert epoch_steps(64, TrainConfig(epochs=2, batch_size=32)) == [2, 2]
    # 160 images, 16 held out, batches of 32: 144 / 32 rounded up
    assert steps_per_epoch(160, 0.1, 32) == math.ceil((160 - validation_size(160, 0.1)) / 32) == 5
    assert steps_per_epoch(160, 0.0, 32) == 5 and steps_per_epoch(161, 0.0, 32) == 6


@pytest.mark.parametrize("n", [5, 12, 40, 200, 1_438, 4_000, 60_000])
def test_suggested_runs_give_enough_weight_updates(n):
    from core.training.config import BATCH_SIZES, FEW_UPDATES, suggested_run

    epochs, batch = suggested_run(n, 0.1)
    assert batch in BATCH_SIZES and 5 <= epochs <= 60
    updates = epochs * steps_per_epoch(n, 0.1, batch)
    assert updates >= FEW_UPDATES or epochs == 60
    if n >= 4_000:
        assert (epochs, batch) == (5, 64)  # thousands of images: the usual 5 epochs of 64

"""core.training.small_data: settings for a few dozen to a few hundred photos of a user's own classes."""

from __future__ import annotations

from core.models.presets import PRESETS
from core.training.small_data import MILD_AUGMENTATION, PRESET, choose_config, choose_spec


def test_choose_config_fits_few_images():
    few = choose_config(15)
    assert (few.batch_size, few.epochs, few.validation_split) == (4, 25, 0.0)  # 4 steps an epoch, 100 in all
    assert (choose_config(60).batch_size, choose_config(60).epochs) == (8, 13)
    assert (choose_config(2000).batch_size, choose_config(2000).epochs) == (32, 10)
    assert choose_config(15, epochs=7, learning_rate=3e-3).epochs == 7
    few.validate()
    assert few.augmentation == MILD_AUGMENTATION
    assert few.augmenter_settings().flip == "none"  # a hand pointing left is not one pointing right
    assert choose_config(15, augment=False).augmentation is None


def test_choose_config_keeps_about_a_hundred_updates_within_10_to_40_epochs():
    for n in (1, 6, 15, 40, 60, 150, 400, 2000):
        config = choose_config(n, seed=3)
        config.validate()
        steps = -(-n // config.batch_size)
        assert 4 <= config.batch_size <= 32 and 10 <= config.epochs <= 40, n
        assert config.epochs == min(40, max(10, -(-100 // steps))), n
        assert config.seed == 3 and config.optimizer == "adam"


def test_choose_spec_is_a_fresh_small_cnn():
    spec = choose_spec()
    assert spec == PRESETS[PRESET].spec() and spec is not choose_spec()

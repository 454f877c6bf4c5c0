"""Fine-tuning in one run (TrainConfig.fine_tune_*): the head alone first, then the backbone's last block too."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from core.data import Dataset
from core.models.architecture import build_model
from core.models.backbones import build_transfer_model
from core.models.presets import airbench_layout
from core.training.config import TrainConfig
from core.training.run import train_model


@pytest.fixture(scope="module")
def photos():
    rng = np.random.default_rng(0)
    x = rng.random((96, 20, 20, 3), np.float32)
    y = (x[:, :10].mean(axis=(1, 2, 3)) > x[:, 10:].mean(axis=(1, 2, 3))).astype(np.int64)
    return Dataset("folder", "Photos", "", ["top", "bottom"], x[:64], y[:64], x[64:], y[64:])


def network():
    backbone = build_model(airbench_layout("tiny_photo", 4, (6, 8)), (16, 16, 3), 5, seed=0)
    return build_transfer_model(backbone, "global_maxpool", (20, 20, 3), 2, seed=0)


def weights(model) -> dict:
    return {layer.name: [np.array(w) for w in layer.get_weights()] for layer in model.layers}


def changed(before: dict, model) -> set[str]:
    return {layer.name for layer in model.layers
            if any(not np.array_equal(a, b) for a, b in zip(before[layer.name], layer.get_weights()))}


def test_the_last_block_learns_only_after_the_head_had_its_epochs(photos):
    model = network()
    before = weights(model)
    config = TrainConfig(epochs=3, batch_size=16, learning_rate=0.01, validation_split=0.0, schedule="constant",
                         fine_tune_blocks=1, fine_tune_from=2, fine_tune_rate=0.1)
    result = train_model(model, photos, config)
    assert result["epochs_done"] == 3
    # the last block's convolutions and the head; batch norm (its statistics too) and earlier blocks as they were
    assert changed(before, model) == {"conv3_1", "conv3_2", "predictions"}
    assert model.optimizer.learning_rate.numpy() == pytest.approx(0.001)  # the fine-tuning optimizer


def test_the_cosine_schedule_starts_again_at_the_fine_tuning_rate(photos):
    model = network()
    config = TrainConfig(epochs=4, batch_size=16, learning_rate=0.01, validation_split=0.0, schedule="cosine",
                         fine_tune_blocks=1, fine_tune_from=2, fine_tune_rate=0.1)
    seen = []

    class Rates(keras.callbacks.Callback):  # after the schedule train_model puts first
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(float(self.model.optimizer.learning_rate.numpy()))

    train_model(model, photos, config, callbacks=[Rates()])
    steps = 4  # 64 photos in batches of 16
    head, fine = seen[:2 * steps], seen[2 * steps:]
    assert len(fine) == 2 * steps
    assert max(head) == pytest.approx(0.01, rel=1e-3) and head[-1] < 0.01 * 0.5  # a cosine to nearly 0
    assert max(fine) == pytest.approx(0.001, rel=1e-3)  # a new one from a tenth of the rate
    assert fine[-1] < fine[1] and fine[-1] < 0.001 * 0.2


@pytest.mark.parametrize("changes, words", [
    ({"fine_tune_blocks": 1, "fine_tune_from": 0}, "after 1 to 2 epochs"),
    ({"fine_tune_blocks": 1, "fine_tune_from": 3}, "after 1 to 2 epochs"),
    ({"fine_tune_blocks": 1, "fine_tune_from": 1, "fine_tune_rate": 0.0}, "fine_tune_rate"),
    ({"fine_tune_blocks": -1}, "fine_tune_blocks"),
    ({"fine_tune_blocks": 0, "fine_tune_from": 2}, "with every layer frozen there is nothing to fine-tune")])
def test_fine_tuning_settings_that_cannot_work_are_refused(changes, words):
    with pytest.raises(ValueError, match=words):
        TrainConfig(epochs=3, **changes).validate()

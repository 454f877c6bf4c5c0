"""The shipped photo model scores what its card says on CIFAR-10's 10,000 test photos (the shared JPEGs).

Its card's 88.26 % was measured when it was trained (``core.train --data-dir
../shared/datasets/cifar10_full``); this loads the shipped file and scores the same photos
again (RGB divided by 255, as the card's preprocessing says), so a model file and a card that
drift apart fail here. About 35 s; skipped without ``../shared/datasets``.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ui.shipped import SHIPPED, shipped_card

PHOTO_ID = "shipped:photo_cifar10"


def test_the_photo_model_scores_its_cards_accuracy_on_the_cifar10_test_photos(shared_datasets):
    from core.storage.files import load_model
    from core.training.run import evaluate_model
    from core.data import Dataset

    card = shipped_card(PHOTO_ID)
    folder = shared_datasets / "cifar10_full" / "test"
    images, labels = [], []
    for label, name in enumerate(card.class_names):
        for path in sorted((folder / name).glob("*.jpg")):
            images.append(np.asarray(Image.open(path).convert("RGB"), np.float32) / 255.0)
            labels.append(label)
    assert len(images) == 10_000
    x, y = np.stack(images), np.array(labels)
    test = Dataset("cifar10", "CIFAR-10", "", card.class_names, x[:1], y[:1], x, y)
    model, _ = load_model(SHIPPED[PHOTO_ID].path)
    accuracy = evaluate_model(model, test)[1]
    assert accuracy >= 0.88
    assert abs(accuracy - card.metrics.test_accuracy) <= 0.001, (accuracy, card.metrics.test_accuracy)

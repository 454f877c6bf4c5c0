"""An ImageNet network scored and embedded on a small grey dataset of the user's (core.inspection.evaluation and
.embedding): checked against the model's own outputs on images made 224×224 colour here."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from core.data import Dataset
from core.inspection.embedding import embed_network
from core.inspection.evaluation import evaluate_network
from core.inspection.imagenet_labels import map_labels

NAMES = ["cats", "spaceship_xyz", "dogs"]


@pytest.fixture(scope="module")
def network():
    """A stand-in with a network's shape: 224×224×3 in, pooled features, 1,000 softmax outputs."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((224, 224, 3), name="image")
    x = keras.layers.Conv2D(16, 16, strides=16, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = keras.layers.Dense(1000, activation="softmax", name="predictions",
                                 kernel_initializer=keras.initializers.RandomNormal(stddev=3.0))(x)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def grey_dataset():
    rng = np.random.default_rng(1)
    y_test = np.array([0, 1, 2, 0, 2, 1, 0, 2, 2, 0, 1, 0], np.int64)
    x_test = rng.uniform(0, 1, (len(y_test), 16, 16, 1)).astype(np.float32)
    return Dataset("folder", "pets", "", list(NAMES), x_test[:3], y_test[:3], x_test, y_test)


def by_hand(model, images):
    """The model's outputs on the images, resized and made colour without the code under test."""
    big = tf.image.resize(np.repeat(images, 3, axis=-1), (224, 224), method="bilinear").numpy()
    return np.asarray(model(big, training=False), np.float64), big


def test_the_accuracy_is_over_the_mapped_classes_from_the_grouped_probabilities(network, grey_dataset):
    result = evaluate_network(network, grey_dataset, map_labels(NAMES), batch_size=4)
    ev = result.evaluation
    mapped = np.flatnonzero(grey_dataset.y_test != 1)  # spaceship_xyz is left out
    assert result.indices.tolist() == mapped.tolist() and result.available == len(mapped) == 9
    assert result.classes == [0, 2] and ev.class_names == ["cats", "dogs"]

    probs, _ = by_hand(network, grey_dataset.x_test[mapped])
    cats, dogs = probs[:, 281:286].sum(axis=1), probs[:, 151:269].sum(axis=1)
    pred = np.where(dogs > cats, 1, 0)
    truth = np.where(grey_dataset.y_test[mapped] == 2, 1, 0)
    np.testing.assert_allclose(ev.probs, np.stack([cats, dogs], axis=1), rtol=1e-4, atol=1e-7)
    assert ev.y_true.tolist() == truth.tolist() and ev.y_pred.tolist() == pred.tolist()
    assert ev.accuracy == pytest.approx(np.mean(pred == truth))
    assert ev.cm.sum() == 9 and ev.cm.shape == (2, 2)
    assert result.top_imagenet.tolist() == probs.argmax(axis=1).tolist()


def test_at_most_limit_images_are_scored_spread_over_the_split(network, grey_dataset):
    result = evaluate_network(network, grey_dataset, map_labels(NAMES), limit=4)
    assert result.available == 9 and len(result.indices) == 4
    assert result.indices.tolist() == [0, 4, 7, 11]  # the 1st, 4th, 6th and 9th of the 9 mapped images


def test_a_dataset_whose_classes_map_to_nothing_is_refused_with_its_names(network, grey_dataset):
    with pytest.raises(ValueError, match=r"Expected a class name that maps to ImageNet classes. Received: \['cats'"):
        evaluate_network(network, grey_dataset, {name: [] for name in NAMES})
    with pytest.raises(ValueError, match="Expected split 'test' or 'train'"):
        evaluate_network(network, grey_dataset, map_labels(NAMES), split="valid")


def test_embed_network_gives_the_pooled_features_of_the_enlarged_colour_images(network, grey_dataset):
    features = embed_network(network, grey_dataset.x_test, batch_size=5)
    _, big = by_hand(network, grey_dataset.x_test)
    pooled = keras.Model(network.inputs[0], network.get_layer("avg_pool").output)(big, training=False)
    assert features.shape == (12, 16) and features.dtype == np.float32
    np.testing.assert_allclose(features, np.asarray(pooled), rtol=1e-4, atol=1e-5)
    assert embed_network(network, grey_dataset.x_test[:0]).shape == (0, 16)

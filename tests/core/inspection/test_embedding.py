"""core.inspection.embedding: the penultimate layer, features, PCA and t-SNE layouts, nearest neighbours.

Features are checked against a ``keras.Model`` sub-model built here, PCA against scikit-learn,
neighbours against a brute-force search.
"""

from __future__ import annotations


import keras
import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.metrics.pairwise import cosine_distances

from core.data import load_dataset
from core.inspection.embedding import embed, nearest_neighbours, penultimate_layer, project


@pytest.fixture(scope="module")
def shapes():
    return load_dataset("shapes", {"n_train": 300, "n_test": 200})


@pytest.fixture(scope="module")
def features(shipped, shapes):
    return embed(shipped, shapes.x_train)


def functional(*layers, input_shape=(8, 8, 3)):
    inputs = keras.Input(input_shape)
    x = inputs
    for layer in layers:
        x = layer(x)
    return keras.Model(inputs, x)


L = keras.layers
ARCHITECTURES = {
    "sequential_dense_dropout": (lambda: keras.Sequential([
        keras.Input((8, 8, 3)), L.Conv2D(4, 3, name="conv"), L.MaxPooling2D(2, name="pool"), L.Flatten(name="flat"),
        L.Dense(16, activation="relu", name="hidden"), L.Dropout(0.5, name="drop"),
        L.Dense(3, activation="softmax", name="out")]), "hidden"),
    "global_average_pooling": (lambda: functional(
        L.Conv2D(4, 3, name="conv"), L.GlobalAveragePooling2D(name="gap"), L.Dense(3, activation="softmax", name="out")),
        "gap"),
    "flatten_only": (lambda: functional(
        L.Conv2D(4, 3, name="conv"), L.Flatten(name="flat"), L.Dense(3, activation="softmax", name="out")), "flat"),
    "logits_then_softmax": (lambda: functional(
        L.Conv2D(4, 3, name="conv"), L.Flatten(name="flat"), L.Dense(8, name="hidden"), L.Dense(3, name="logits"),
        L.Activation("softmax", name="softmax")), "hidden"),
}


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_penultimate_layer_of_other_architectures(name):
    build, expected = ARCHITECTURES[name]
    assert penultimate_layer(build()) == expected


def test_penultimate_layer_of_the_shipped_model(shipped):
    assert penultimate_layer(shipped) == "dense1"


def test_a_model_without_a_vector_layer_raises():
    model = functional(L.Conv2D(4, 3, name="conv"), L.GlobalAveragePooling2D(name="gap"))
    with pytest.raises(ValueError, match="1-D output per sample"):
        penultimate_layer(model)


def test_embed_equals_the_sub_model_output(shipped, shapes, features):
    reference = keras.Model(shipped.inputs[0], shipped.get_layer("dense1").output)(shapes.x_train, training=False)
    assert features.shape == (300, 64) and features.dtype == np.float32
    np.testing.assert_allclose(features, np.asarray(reference), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(embed(shipped, shapes.x_train, batch_size=7), features, rtol=1e-5, atol=1e-5)
    maps = embed(shipped, shapes.x_train[:10], layer_name="maxpool3")  # a layer of maps, flattened
    pooled = keras.Model(shipped.inputs[0], shipped.get_layer("maxpool3").output)(shapes.x_train[:10])
    np.testing.assert_allclose(maps, np.asarray(pooled).reshape(10, -1), rtol=1e-5, atol=1e-5)
    assert embed(shipped, shapes.x_train[:0]).shape == (0, 64)
    with pytest.raises(ValueError, match="shape"):
        embed(shipped, shapes.x_train[0])


def test_pca_equals_sklearn_up_to_sign(features):
    points, projection = project(features, "pca")
    reference = PCA(n_components=2).fit(features.astype(np.float64))
    expected = reference.transform(features.astype(np.float64))
    assert points.shape == (300, 2)
    scale = np.abs(expected).max()
    for axis in range(2):
        sign = np.sign(points[:, axis] @ expected[:, axis])
        np.testing.assert_allclose(points[:, axis], sign * expected[:, axis], atol=1e-6 * scale, err_msg=f"axis {axis}")
    np.testing.assert_allclose(projection.explained_variance_ratio, reference.explained_variance_ratio_, rtol=1e-6)


def test_pca_transform_places_a_training_point_on_itself(features):
    points, projection = project(features, "pca")
    np.testing.assert_allclose(projection.transform(features[17]), points[17], atol=1e-9)
    np.testing.assert_allclose(projection.transform(features), points, atol=1e-9)
    with pytest.raises(ValueError, match="features of shape"):
        projection.transform(features[:, :10])


def test_tsne_layout_is_finite_and_places_new_points_near_their_own(features):
    # How long it takes is measured by bench/inspect_latency.py (tsne_300_s), not here: a shared
    # machine's load made this call take 1.6 to 34 s.
    points, projection = project(features, "tsne", seed=0)
    assert points.shape == (300, 2) and np.isfinite(points).all()
    # A training vector lands among its neighbours, so much closer to its own point than typical.
    placed = projection.transform(features[:20])
    typical = np.median(np.linalg.norm(points[:, None] - points[None], axis=-1))
    assert (np.linalg.norm(placed - points[:20], axis=1) < 0.25 * typical).all()
    # Perplexity 30 would be too large for 10 points: it is clipped, not an error.
    assert project(features[:10], "tsne")[0].shape == (10, 2)
    with pytest.raises(ValueError, match="at least 4 points"):
        project(features[:3], "tsne")
    with pytest.raises(ValueError, match="'pca' or 'tsne'"):
        project(features, "umap")


def test_nearest_neighbours_against_brute_force(features):
    assert (nearest_neighbours(features, features, k=1)[:, 0] == np.arange(len(features))).all()
    query = features[5] + 0.01
    distances = np.linalg.norm(features - query, axis=1)
    found = nearest_neighbours(features, query, k=5)
    assert found.shape == (5,) and found[0] == 5
    np.testing.assert_array_equal(found, np.argsort(distances, kind="stable")[:5])
    cosine = nearest_neighbours(features, features[:3], k=4, metric="cosine")
    np.testing.assert_array_equal(cosine[:, 0], [0, 1, 2])
    np.testing.assert_allclose(np.sort(cosine_distances(features[:3], features), axis=1)[:, :4],
                               np.take_along_axis(cosine_distances(features[:3], features), cosine, axis=1),
                               atol=1e-9)
    assert nearest_neighbours(features[:3], features[0], k=10).shape == (3,)
    with pytest.raises(ValueError, match="query of shape"):
        nearest_neighbours(features, features[0, :5])


def test_pca_of_dense1_separates_the_classes(shipped, shapes, features):
    points, projection = project(features, "pca")
    placed = projection.transform(embed(shipped, shapes.x_test))  # held-out images, placed by transform
    centroids = np.stack([points[shapes.y_train == c].mean(axis=0) for c in range(4)])
    nearest_centroid = np.argmin(np.linalg.norm(placed[:, None] - centroids[None], axis=-1), axis=1)
    votes = shapes.y_train[nearest_neighbours(points, placed, k=5)]
    knn = np.array([np.bincount(v, minlength=4).argmax() for v in votes])
    # Chance is 0.25. The classes lie along a curve on the plane, circle to star, and
    # neighbouring classes touch: measured 0.85 (nearest centroid) and 0.92 (5 neighbours).
    assert (nearest_centroid == shapes.y_test).mean() > 0.7
    assert (knn == shapes.y_test).mean() > 0.8


def test_embedding_leaves_the_model_unchanged(shipped, shapes):
    weights = [w.copy() for w in shipped.get_weights()]
    outputs = np.asarray(shipped(shapes.x_test[:8], training=False))
    feats = embed(shipped, shapes.x_test[:50])
    project(feats, method="pca")
    nearest_neighbours(feats, feats[0], k=3)
    assert all(np.array_equal(a, b) for a, b in zip(weights, shipped.get_weights()))
    np.testing.assert_array_equal(outputs, np.asarray(shipped(shapes.x_test[:8], training=False)))
    assert [layer.name for layer in shipped.layers][-1] == "predictions"

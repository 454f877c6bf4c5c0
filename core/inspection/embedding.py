"""A model's view of a dataset as points on a plane: features of the penultimate layer, projected to 2-D.

Each image becomes the output of the last hidden layer (``dense1`` in the app's models), the
vector the softmax layer separates the classes by. PCA or t-SNE lays those vectors out on a
plane, and a new image can be placed among them. Nothing here changes the model it is given.
An ImageNet network is read at its pooled features instead (``embed_network``).
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import numpy as np

_EMBEDDERS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # model -> {layer name: tf.function}
# Half of scikit-learn's default 1,000: on the shipped model's 1,000 test embeddings the layout
# keeps its neighbours as well (trustworthiness at 10 neighbours 0.9927 against 0.9930, KL
# divergence 0.583 against 0.562) in 2.9 s instead of 4.6 s on 2 cores.
TSNE_ITERATIONS = 500

_LOCK = threading.Lock()


def _inference_identity_layers() -> tuple:
    """Layer types that pass their input through unchanged at inference (dropout, noise)."""
    import keras

    names = ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
             "GaussianDropout", "AlphaDropout", "ActivityRegularization")
    return tuple(getattr(keras.layers, name) for name in names if hasattr(keras.layers, name))


def penultimate_layer(model) -> str:
    """Name of the last layer before the output layer whose output is one vector per sample.

    Dropout and noise layers are passed over (at inference they repeat the layer before them).
    When the output layer is a bare ``Activation`` or ``Softmax``, the layer feeding it (the
    logits) counts as part of the output. A model without hidden dense layers gets its
    ``Flatten`` or global pooling layer. Layers are searched in ``model.layers`` order.

    Raises:
        ValueError: no layer before the output has a 1-D output per sample.
    """
    import keras

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    output = model.outputs[0]
    end = next((i for i, layer in enumerate(layers) if layer.output is output), len(layers) - 1)
    if isinstance(layers[end], (keras.layers.Activation, keras.layers.Softmax)):
        end -= 1
    skip = _inference_identity_layers()
    for layer in reversed(layers[:max(end, 0)]):
        if not isinstance(layer, skip) and len(layer.output.shape) == 2:
            return layer.name
    raise ValueError("Expected a layer with a 1-D output per sample (Dense, Flatten, global pooling) before the "
                     f"output layer. Received: layers {[layer.name for layer in layers]}")


def _embedder(model, layer_name: str):
    import keras
    import tensorflow as tf

    with _LOCK:
        per_model = _EMBEDDERS.setdefault(model, {})
        if layer_name not in per_model:
            if len(model.inputs) != 1:
                raise ValueError(f"Expected a model with one image input. Received: {len(model.inputs)} inputs")
            sub = keras.Model(model.inputs[0], model.get_layer(layer_name).output)
            spec = tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32)
            per_model[layer_name] = tf.function(lambda x: sub(x, training=False), input_signature=[spec],
                                                reduce_retracing=True)
        return per_model[layer_name]


def embed(model, x: np.ndarray, layer_name: str | None = None, batch_size: int = 256) -> np.ndarray:
    """Features of every image at one layer, computed in batches.

    Args:
        model: a Keras image classifier; it is not modified.
        x: images of shape (N, height, width, channels).
        layer_name: the layer to read; ``penultimate_layer(model)`` when None.
        batch_size: images per call.

    Returns:
        float32 (N, D); the output of a layer with maps is flattened to one vector per image.
    """
    x = np.asarray(x, np.float32)
    if x.ndim != 4:
        raise ValueError(f"Expected images of shape (N, height, width, channels). Received: shape={x.shape}")
    layer_name = layer_name or penultimate_layer(model)
    fn = _embedder(model, layer_name)
    chunks = [fn(x[i:i + batch_size]).numpy().reshape(len(x[i:i + batch_size]), -1)
              for i in range(0, len(x), batch_size)]
    if not chunks:
        return np.zeros((0, int(np.prod(model.get_layer(layer_name).output.shape[1:]))), np.float32)
    return np.concatenate(chunks)


def embed_network(model, x: np.ndarray, layer_name: str | None = None, batch_size: int = 32) -> np.ndarray:
    """An ImageNet network's pooled features of images of any size, grey or colour, a batch at a time.

    Each batch is made 224×224 colour just before it goes through the network
    (``core.inspection.imagenet_labels.network_batches``), so the whole set never is.

    Args:
        model: an ImageNet network (``core.models.imagenet.build_network``); not modified.
        x: images (N, height, width, 1 or 3) in [0, 1].
        layer_name: the layer to read; the pooled features (``core.models.imagenet.feature_layer``) when None,
            not the 1,000 class scores.
        batch_size: images per call.

    Returns:
        float32 (N, D): MobileNetV3Small's 576 pooled features of each image, for one.
    """
    from core.inspection.imagenet_labels import network_batches
    from core.models.imagenet import feature_layer

    layer_name = layer_name or feature_layer(model)
    chunks = [embed(model, batch, layer_name, batch_size) for batch in network_batches(x, batch_size)]
    if not chunks:
        return np.zeros((0, int(np.prod(model.get_layer(layer_name).output.shape[1:]))), np.float32)
    return np.concatenate(chunks)


@dataclass
class Projection:
    """A fitted 2-D layout of features that can place new points.

    PCA places a new vector exactly, by the same linear map. t-SNE has no map for new points:
    a new vector is placed at the mean position of its ``neighbours`` nearest fitted vectors
    (Euclidean, in feature space).
    """

    method: str  # "pca" or "tsne"
    points: np.ndarray  # (N, 2) positions of the fitted features
    mean: np.ndarray | None = None  # (D,) PCA centre
    components: np.ndarray | None = None  # (2, D) PCA axes, largest loading of each positive
    explained_variance_ratio: np.ndarray | None = None  # (2,) PCA share of variance per axis
    features: np.ndarray | None = None  # (N, D) fitted t-SNE features, to find neighbours
    neighbours: int = 5  # t-SNE: how many neighbours place a new point

    def transform(self, features: np.ndarray) -> np.ndarray:
        """Positions of new feature vectors: (2,) for one vector (D,), else (M, 2)."""
        f = np.asarray(features, np.float64)
        single = f.ndim == 1
        f = np.atleast_2d(f)
        dim = self.mean.shape[0] if self.method == "pca" else self.features.shape[1]
        if f.ndim != 2 or f.shape[1] != dim:
            raise ValueError(f"Expected features of shape (M, {dim}) or ({dim},). Received: shape={np.shape(features)}")
        if self.method == "pca":
            out = (f - self.mean) @ self.components.T
        else:
            idx = nearest_neighbours(self.features, f, k=self.neighbours)
            out = self.points[idx].mean(axis=1)
        return out[0] if single else out


def project(features: np.ndarray, method: str = "pca", seed: int = 0) -> tuple[np.ndarray, Projection]:
    """Lay out feature vectors on a plane.

    Args:
        features: (N, D) vectors, e.g. from ``embed``.
        method: ``"pca"`` (NumPy SVD of the centred features) or ``"tsne"``
            (``sklearn.manifold.TSNE``, perplexity 30 clipped to (N - 1) / 3 for small N,
            ``TSNE_ITERATIONS`` iterations).
        seed: seeds t-SNE.

    Returns:
        (points (N, 2), the ``Projection`` that made them).
    """
    f = np.asarray(features, np.float64)
    if f.ndim != 2 or len(f) == 0:
        raise ValueError(f"Expected features of shape (N, D) with N >= 1. Received: shape={f.shape}")
    if method == "pca":
        mean = f.mean(axis=0)
        _, s, vt = np.linalg.svd(f - mean, full_matrices=False)
        # Fewer than 2 axes (one point, or D = 1): the missing axis is all zeros.
        components = np.zeros((2, f.shape[1]))
        components[:min(2, len(vt))] = vt[:2]
        signs = np.sign(components[np.arange(2), np.abs(components).argmax(axis=1)])
        components *= np.where(signs == 0, 1.0, signs)[:, None]
        variance = s[:2] ** 2
        ratio = np.zeros(2)
        ratio[:len(variance)] = variance / (s ** 2).sum() if (s ** 2).sum() > 0 else 0.0
        projection = Projection("pca", (f - mean) @ components.T, mean=mean, components=components,
                                explained_variance_ratio=ratio)
    elif method == "tsne":
        from sklearn.manifold import TSNE

        if len(f) < 4:
            raise ValueError(f"Expected at least 4 points for t-SNE. Received: {len(f)}")
        tsne = TSNE(n_components=2, perplexity=min(30.0, (len(f) - 1) / 3), init="pca", learning_rate="auto",
                    max_iter=TSNE_ITERATIONS, random_state=seed)
        projection = Projection("tsne", tsne.fit_transform(f).astype(np.float64), features=f,
                                neighbours=min(5, len(f)))
    else:
        raise ValueError(f"Expected method 'pca' or 'tsne'. Received: {method!r}")
    return projection.points, projection


def nearest_neighbours(features: np.ndarray, query: np.ndarray, k: int = 5, metric: str = "euclidean") -> np.ndarray:
    """Indices of the ``k`` rows of ``features`` nearest to ``query``, nearest first (ties by index).

    Args:
        features: (N, D) vectors to search.
        query: one vector (D,) or several (M, D).
        k: neighbours per query, at most N.
        metric: ``"euclidean"`` distance, or ``"cosine"`` (one minus the cosine similarity).

    Returns:
        int (k,) for one query, (M, k) for several.
    """
    f = np.asarray(features, np.float64)
    q = np.asarray(query, np.float64)
    single = q.ndim == 1
    q = np.atleast_2d(q)
    if f.ndim != 2 or q.ndim != 2 or q.shape[1] != f.shape[1]:
        raise ValueError(f"Expected a query of shape ({f.shape[-1]},) or (M, {f.shape[-1]}) for features of "
                         f"shape (N, D). Received: query shape {np.shape(query)}, features shape {f.shape}")
    if metric == "euclidean":
        dist = (q ** 2).sum(axis=1)[:, None] - 2.0 * q @ f.T + (f ** 2).sum(axis=1)[None, :]
    elif metric == "cosine":
        unit = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
        dist = 1.0 - (q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)) @ unit.T
    else:
        raise ValueError(f"Expected metric 'euclidean' or 'cosine'. Received: {metric!r}")
    idx = np.argsort(dist, axis=1, kind="stable")[:, :max(1, min(k, len(f)))]
    return idx[0] if single else idx

"""Embedding map: how the network arranges images just before it decides."""

import numpy as np
import streamlit as st

from core.inspection.embedding import embed, embed_network, nearest_neighbours, penultimate_layer, project
from core.inspection.imagenet_labels import image_limit, spread
from core.models.imagenet import feature_layer
from core.visuals.figures import embedding_scatter
from core.visuals.tiles import image_grid
from ui.dataset_fit import is_imagenet, require_dataset
from ui.networks import network_key
from ui.router import require_router
from ui.session import current_model, dataset_key, model_key
from ui.widget_memory import persist
from ui.widgets import image_input, picture
from ui.text import plain

require_router(__file__)

MAX_POINTS = 1500  # test images drawn; t-SNE on more would take too long on a laptop CPU

entry = current_model()
st.title("Embedding map")
st.caption("The layer before the output turns each image into a list of numbers, its embedding. Images the "
           "network finds similar get similar lists. Squashed to two dimensions, each dot is one test image: "
           "well-separated colours mean the last layer has an easy job.")

network = is_imagenet(entry)  # an ImageNet network: its pooled features, not the 1,000 class scores after them
dataset = require_dataset(entry, key="emb", network_use="each dot coloured by its own label")
# A network sees each image at 224×224: a few hundred of them at most, spread over the test split so every class shows.
limit = image_limit(network_key(entry.id)) if network else MAX_POINTS
shown = spread(np.arange(len(dataset.x_test)), limit) if network else np.arange(min(limit, len(dataset.x_test)))
try:
    layer = feature_layer(entry.model) if network else penultimate_layer(entry.model)
except ValueError as exc:
    st.warning(str(exc))
    st.stop()

c1, c2 = st.columns([1, 2])
method = c1.radio("Projection", ["pca", "tsne"], horizontal=True, key=persist("emb_method", "pca"),
                  format_func={"pca": "PCA (fast, linear)", "tsne": "t-SNE (slower, keeps neighbours)"}.get)
c2.caption(f"Embeddings of layer **{plain(layer)}**, {len(shown):,} test images"
           + (f" of {len(dataset.x_test):,}, spread evenly: the network's pooled features, each image made 224×224"
              if network and len(shown) < len(dataset.x_test) else ", the network's pooled features" if network else "")
           + ". PCA keeps the two directions of largest spread; t-SNE keeps close images close but distorts distances.")


@st.cache_data(max_entries=8, show_spinner="Computing embeddings…")
def cached_projection(_model, model_key: str, _dataset, dataset_key: str, layer_name: str, method: str):
    n = min(MAX_POINTS, len(_dataset.x_test))
    features = embed(_model, _dataset.x_test[:n], layer_name)
    points, projection = project(features, method=method, seed=0)
    train_features = embed(_model, _dataset.x_train[:MAX_POINTS], layer_name)  # where neighbours are searched
    return features, points, projection, train_features


@st.cache_data(max_entries=4, show_spinner="Computing the embeddings of the images at 224×224…")
def cached_network_projection(_model, model_key: str, _dataset, dataset_key: str, layer_name: str, method: str,
                              limit: int):
    features = embed_network(_model, _dataset.x_test[spread(np.arange(len(_dataset.x_test)), limit)], layer_name)
    points, projection = project(features, method=method, seed=0)
    return features, points, projection


if network:
    # Neighbours are searched among the map's own images: a second set at 224×224 would double the wait.
    features, points, projection = cached_network_projection(entry.model, model_key(entry), dataset,
                                                             dataset_key(dataset), layer, method, limit)
    train_features, pool_x, pool_y = features, dataset.x_test[shown], dataset.y_test[shown]
    names = list(dataset.class_names)
else:
    features, points, projection, train_features = cached_projection(entry.model, model_key(entry), dataset,
                                                     dataset_key(dataset), layer, method)
    pool_x, pool_y, names = dataset.x_train, dataset.y_train, entry.class_names
labels = dataset.y_test[shown] if network else dataset.y_test[: len(points)]

picked = image_input(entry, key="emb", dataset=dataset)
neighbours = where = None
if picked is not None:
    image, caption, _ = picked
    query = embed_network(entry.model, image[None], layer) if network else embed(entry.model, image[None], layer)
    neighbours = nearest_neighbours(train_features, query[0], k=6)
    where = projection.transform(query)[0]
st.plotly_chart(embedding_scatter(points, labels, names, query=where), key="emb_chart")

if neighbours is not None:
    st.markdown(f"**Its nearest {'images of the map' if network else 'training images'} in embedding space** (your "
                "image is the black star on the map):")
    picture(st, image_grid(pool_x[neighbours], cols=len(neighbours), tile_px=80),
            caption=" · ".join(names[int(pool_y[i])] for i in neighbours))

"""Embedding map: how the network arranges images just before it decides."""

import streamlit as st

from core.inspection.embedding import embed, nearest_neighbours, penultimate_layer, project
from core.visuals.figures import embedding_scatter
from core.visuals.tiles import image_grid
from ui.dataset_fit import require_dataset
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

dataset = require_dataset(entry, key="emb")
try:
    layer = penultimate_layer(entry.model)
except ValueError as exc:
    st.warning(str(exc))
    st.stop()

c1, c2 = st.columns([1, 2])
method = c1.radio("Projection", ["pca", "tsne"], horizontal=True, key=persist("emb_method", "pca"),
                  format_func={"pca": "PCA (fast, linear)", "tsne": "t-SNE (slower, keeps neighbours)"}.get)
c2.caption(f"Embeddings of layer **{plain(layer)}**, {min(MAX_POINTS, len(dataset.x_test)):,} test images. PCA keeps the "
           "two directions of largest spread; t-SNE keeps close images close but distorts distances.")


@st.cache_data(max_entries=8, show_spinner="Computing embeddings…")
def cached_projection(_model, model_key: str, _dataset, dataset_key: str, layer_name: str, method: str):
    n = min(MAX_POINTS, len(_dataset.x_test))
    features = embed(_model, _dataset.x_test[:n], layer_name)
    points, projection = project(features, method=method, seed=0)
    train_features = embed(_model, _dataset.x_train[:MAX_POINTS], layer_name)  # where neighbours are searched
    return features, points, projection, train_features


features, points, projection, train_features = cached_projection(entry.model, model_key(entry), dataset,
                                                 dataset_key(dataset), layer, method)
labels = dataset.y_test[: len(points)]

picked = image_input(entry, key="emb", dataset=dataset)
neighbours = where = None
if picked is not None:
    image, caption, _ = picked
    query = embed(entry.model, image[None], layer)
    neighbours = nearest_neighbours(train_features, query[0], k=6)
    where = projection.transform(query)[0]
st.plotly_chart(embedding_scatter(points, labels, entry.class_names, query=where), key="emb_chart")

if neighbours is not None:
    st.markdown("**Its nearest training images in embedding space** (your image is the black star on the map):")
    picture(st, image_grid(dataset.x_train[neighbours], cols=len(neighbours), tile_px=80),
            caption=" · ".join(entry.class_names[int(dataset.y_train[i])] for i in neighbours))

"""Overview: what CNN Lab is and where to start."""

import streamlit as st

from ui.router import require_router
from ui.session import current_model

require_router(__file__)

entry = current_model()

st.title("CNN Lab")
st.markdown(
    "See inside a convolutional neural network. A CNN looks at an image through small **filters** that slide "
    "over it; each filter answers *\"is my pattern here?\"* at every position, producing a **feature map**. "
    "Layers of filters build edges into corners, corners into shapes, shapes into a class."
)

acc = entry.card.test_accuracy
c1, c2, c3, c4 = st.columns(4)
c1.metric("Current model", entry.name)
c2.metric("Dataset", entry.card.dataset_title or "—")
c3.metric("Test accuracy", f"{acc:.1%}" if acc is not None else "—")
c4.metric("Parameters", f"{entry.params:,}")

st.subheader("Start here")
cols = st.columns(3)
with cols[0]:
    st.page_link("pages/data.py", label="Data: browse the images", icon=":material/photo_library:")
    st.caption("Pick a dataset and look at samples of every class.")
    st.page_link("pages/train.py", label="Train: build and train a CNN", icon=":material/model_training:")
    st.caption("Choose a preset or design your own, then watch it learn.")
with cols[1]:
    st.page_link("pages/filters.py", label="Filters: what the model learned", icon=":material/filter:")
    st.caption("The weights of every convolution layer, as pictures.")
    st.page_link("pages/activations.py", label="Activations: what the model sees", icon=":material/layers:")
    st.caption("Feature maps of every layer for one image.")
    st.page_link("pages/arithmetic.py", label="Step by step: the arithmetic", icon=":material/calculate:")
    st.caption("One output value of a convolution or a pooling layer, computed by hand.")
    st.page_link("pages/evaluation.py", label="Evaluation: right and wrong", icon=":material/grid_on:")
    st.caption("Confusion matrix, accuracy per class and the most confident mistakes.")
with cols[2]:
    st.page_link("pages/predict.py", label="Predict: try your own picture", icon=":material/image_search:")
    st.caption("Upload a photo or take a webcam snapshot and see the class probabilities.")
    st.page_link("pages/faces.py", label="Who am I?: face recognition", icon=":material/face:")
    st.caption("Enrol faces from the webcam, train, and see detection, alignment and the CNN at work.")
    st.page_link("pages/embedding.py", label="Embedding map: how it groups images", icon=":material/scatter_plot:")
    st.caption("Every test image as a dot, placed by what the network makes of it.")
    st.page_link("pages/models.py", label="Models: your saved models", icon=":material/inventory_2:")
    st.caption("Every model you train is kept here: load, rename, download or upload one.")

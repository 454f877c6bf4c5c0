"""CNN Lab: see inside a convolutional neural network.

Router and frame: page config, the shared sidebar, then the chosen page.
Run with ``streamlit run app.py`` (or ``make run``).
"""

from pathlib import Path

import pandas  # noqa: F401  (here, before the shipped model's preload thread imports TensorFlow: see below)
import streamlit as st

import core  # noqa: F401  (first: it sets TensorFlow's environment before anything imports TensorFlow)

from core.training.give_way import page_run

from ui.identity import gate
from ui.runtime import keep_keras_state_between_reruns
from ui.router import mark_routed, take_pending_page
from ui.shipped import preload_shipped_model
from ui.sidebar import draw_sidebar
from ui.upkeep import start_upkeep

keep_keras_state_between_reruns()

# A file of our own: a material icon as page_icon is fetched by the browser from a font host.
st.set_page_config(page_title="CNN Lab", page_icon=Path(__file__).parent / "assets" / "icon.png", layout="wide")

start_upkeep()  # once per process, at start and daily: half-done zip extractions, stale classroom workspaces
gate()  # classroom mode: who this is (a login screen until logged in, or a private link)

pages = [
    st.Page("pages/home.py", title="Overview", icon=":material/home:", default=True),
    st.Page("pages/data.py", title="Data", icon=":material/photo_library:"),
    st.Page("pages/classes.py", title="My classes", icon=":material/photo_camera:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/filters.py", title="Filters", icon=":material/filter:"),
    st.Page("pages/activations.py", title="Activations", icon=":material/layers:"),
    st.Page("pages/arithmetic.py", title="Step by step", icon=":material/calculate:"),
    st.Page("pages/predict.py", title="Predict", icon=":material/image_search:"),
    st.Page("pages/faces.py", title="Who am I?", icon=":material/face:"),
    st.Page("pages/evaluation.py", title="Evaluation", icon=":material/grid_on:"),
    st.Page("pages/embedding.py", title="Embedding map", icon=":material/scatter_plot:"),
    st.Page("pages/models.py", title="Models", icon=":material/inventory_2:"),
]
navigation = st.navigation(pages)
# A page run without this mark was started by Streamlit's legacy pages/ discovery
# (see ui.router.require_router) and is sent back here.
mark_routed()
pending = take_pending_page()
if pending:
    st.switch_page(pending)
with page_run():  # training runs give way until the page is drawn
    draw_sidebar()
    navigation.run()
# The page is drawn: load the default model (and TensorFlow) for the next one. pandas is imported above,
# in this thread: TensorFlow's import in the preload thread imports it too, and a page drawing a Plotly
# chart meanwhile found it half-initialised ("partially initialized module 'pandas' has no attribute
# 'Series'"), on every page of eight students who opened a fresh classroom server at once.
preload_shipped_model()

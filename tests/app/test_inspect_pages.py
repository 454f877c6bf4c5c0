"""The Evaluation and Embedding map pages under AppTest, for the shipped model and a new one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from apptest_helpers import APP, open_page, plotly_array, widget_by_prefix


def test_evaluation_page_matches_a_direct_evaluation():
    from core.data import load_dataset
    from core.storage.files import load_model

    at = open_page("pages/evaluation.py")
    model, card = load_model(Path(APP).parent / "assets" / "models" / "shapes_default")
    ds = load_dataset("shapes", card.dataset.options)
    predicted = np.concatenate([np.argmax(model(ds.x_test[i:i + 250], training=False), axis=1)
                                for i in range(0, len(ds.x_test), 250)])
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Test accuracy"] == f"{np.mean(predicted == ds.y_test):.1%}"
    assert metrics["Mistakes"] == f"{int(np.sum(predicted != ds.y_test)):,}"
    cm = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    assert cm["x"] == ["circle", "square", "triangle", "star"]
    # choosing a cell shows exactly its images
    widget_by_prefix(at.selectbox, "eval_true_").set_value(0).run()
    widget_by_prefix(at.selectbox, "eval_pred_").set_value(0).run()
    assert not at.exception
    n_cell = int(np.sum((ds.y_test == 0) & (predicted == 0)))
    assert any(f"{n_cell} images of circle predicted as circle" in str(img.proto) for img in at.get("image"))
    assert any("Grad-CAM for “circle”" in str(img.proto) for img in at.get("image"))


def test_embedding_page_places_the_chosen_image_among_its_neighbours():
    at = open_page("pages/embedding.py")
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = [trace["name"] for trace in figure["data"]]
    assert names == ["circle", "square", "triangle", "star", "your image"]
    assert "dense1" in " ".join(c.value for c in at.caption)
    # the default image is test image 0; its nearest training image is of its own class
    from core.data import load_dataset
    from core.inspection.embedding import embed, nearest_neighbours
    from core.storage.files import load_model

    model, card = load_model(Path(APP).parent / "assets" / "models" / "shapes_default")
    ds = load_dataset("shapes", card.dataset.options)
    train = embed(model, ds.x_train[:1500], "dense1")
    expected = nearest_neighbours(train, embed(model, ds.x_test[:1], "dense1")[0], k=6)
    caption = [str(img.proto) for img in at.get("image")][-1]
    assert " · ".join(ds.class_names[int(ds.y_train[i])] for i in expected) in caption
    assert any("nearest training images" in m.value for m in at.markdown)
    # t-SNE is switched on in the next test, on a smaller test split (it takes seconds on 1,000 points)


def test_inspection_pages_render_for_a_new_model_of_another_architecture():
    at = open_page("pages/data.py")
    at.selectbox(key="data_name").set_value("digits").run()
    at = open_page("pages/train.py", at)
    at.selectbox(key="train_preset").set_value("lenet5").run()
    at.number_input(key="train_epochs").set_value(3).run()
    at.text_input(key="train_name").input("digits_lenet").run()
    at.button(key="train_start").click().run()
    at.session_state["job"].join(120)
    at.run()
    assert at.session_state["current_model"] == "session:digits_lenet"
    for page in ("pages/filters.py", "pages/activations.py", "pages/arithmetic.py", "pages/predict.py",
                 "pages/evaluation.py", "pages/embedding.py"):
        at = open_page(page, at)
        assert not at.error, (page, [e.value for e in at.error])
    at = open_page("pages/predict.py", at)
    at.radio(key="pred_source").set_value("sample").run()
    assert not at.exception and any("Grad-CAM" in str(img.proto) for img in at.get("image"))
    at = open_page("pages/activations.py", at)
    at.toggle(key="act_preact").set_value(True).run()  # LeNet-5's tanh convolutions, before and after
    assert not at.exception and any("after tanh" in str(img.proto) for img in at.get("image"))
    at = open_page("pages/arithmetic.py", at)
    checks = [m.value for m in at.markdown if "layer's own output" in m.value]
    assert len(checks) == 2 and all(c.endswith(":material/check_circle: the same]") for c in checks)
    at = open_page("pages/evaluation.py", at)
    assert float({m.label: m.value for m in at.metric}["Test accuracy"].rstrip("%")) > 50
    at = open_page("pages/embedding.py", at)
    at.radio(key="emb_method").set_value("tsne").run()
    assert not at.exception
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    shown = sum(len(plotly_array(trace["x"])) for trace in figure["data"] if trace["name"] != "your image")
    from core.data import load_dataset

    assert shown == len(load_dataset("digits").x_test)  # every test image, laid out by t-SNE

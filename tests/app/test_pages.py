"""Every page under Streamlit's AppTest: renders without an exception and shows what it promises."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from streamlit.testing.v1 import AppTest

from apptest_helpers import APP, markdown_rows, open_page, plotly_array, sample_grids

PAGES = ["pages/home.py", "pages/data.py", "pages/train.py", "pages/filters.py", "pages/activations.py", "pages/predict.py",
         "pages/faces.py"]


def jpeg_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="JPEG", quality=92)
    return buf.getvalue()


def star_photo(kind: str = "star") -> bytes:
    """A big photo-like picture of a star (or another shape) from the shapes generator."""
    from core.data.shapes import draw_shape

    image = draw_shape(kind, np.random.default_rng(3), size=32, noise=0.02)
    big = Image.fromarray((image * 255).astype(np.uint8)).resize((480, 480), Image.Resampling.BICUBIC)
    return jpeg_bytes(np.asarray(big))


def test_overview_shows_the_shipped_model():
    # The default page, reached through the router exactly as a browser first opens it.
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    # the model and dataset in view, in full (a metric would cut the model's name)
    in_view = next(m.value for m in at.markdown if "**Current model**" in m.value)
    assert "shapes_small_cnn (shipped)" in in_view and "test accuracy 98.1%" in in_view
    assert "**Dataset** Shapes (synthetic)" in in_view
    assert len(at.get("page_link")) == 11  # the four steps' 8 pages, My classes, Who am I? and Models
    # the shared sidebar: dataset, model picker, accuracy, training status
    sidebar = [getattr(e, "value", None) for e in at.sidebar]
    assert "**Dataset** · Shapes (synthetic)" in sidebar
    assert "shipped:shapes_default" in sidebar and "98.1%" in sidebar and "Training: idle" in sidebar


def test_data_page_shows_samples_of_every_class_and_counts():
    at = open_page("pages/data.py")
    assert at.selectbox(key="data_name").value == "shapes"
    assert len(sample_grids(at)) == 4  # one grid per class
    # the other views do not run until opened: no chart, no augmentation preview
    assert len(at.get("image")) == 4 and not at.get("plotly_chart") and "aug_rotation" not in [w.key for w in at.slider]
    assert {m.label: m.value for m in at.metric}["Classes"] == "4"
    from core.data import load_dataset

    shapes = load_dataset("shapes")
    counts = np.bincount(shapes.y_train, minlength=4), np.bincount(shapes.y_test, minlength=4)
    headings = [m.value for m in at.markdown if m.value.startswith("**")]
    for i, name in enumerate(shapes.class_names):
        assert f"**{name}** · {counts[0][i]:,} training, {counts[1][i]:,} test" in headings

    at.session_state["data_view"] = "Class counts"  # a click on the tab
    at.run()
    (chart,) = at.get("plotly_chart")
    bars = json.loads(chart.proto.spec)["data"]
    assert [list(plotly_array(b["y"])) for b in bars] == [list(counts[0]), list(counts[1])]
    assert not sample_grids(at)

    at.session_state["data_view"] = "Pixel values"
    at.run()
    rows = markdown_rows(at, "channel")
    assert [row["channel"] for row in rows] == ["red", "green", "blue"]
    means = [float(row["mean"]) for row in rows]  # shown to 3 decimals
    np.testing.assert_allclose(means, shapes.x_train.reshape(-1, 3).mean(axis=0), atol=6e-4)

    at.session_state["data_view"] = "Samples"
    at.run()
    at.selectbox(key="data_name").set_value("digits").run()
    assert not at.exception
    assert at.session_state["dataset"]["name"] == "digits"
    assert len(sample_grids(at)) == 10


def test_the_data_pages_open_view_is_kept_across_pages():
    at = open_page("pages/data.py")
    at.session_state["data_view"] = "Augmentation"
    at.run()
    assert at.slider(key="aug_rotation").value == 0
    at = open_page("pages/home.py", at)
    at = open_page("pages/data.py", at)
    assert at.session_state["data_view"] == "Augmentation" and not sample_grids(at)
    assert len(at.get("image")) == 4  # the preview of four classes


def test_data_page_reports_a_missing_folder():
    at = open_page("pages/data.py")
    at.selectbox(key="data_name").set_value("mnist").run()
    at.radio(key="data_source").set_value("folder").run()
    at.text_input(key="data_folder").input("/nonexistent/mnist").run()
    at.button(key="data_load").click().run()
    assert not at.exception
    assert any("Folder not found" in e.value for e in at.error)
    assert at.session_state["dataset"]["name"] == "shapes"  # the loaded dataset stays


def test_filters_page_draws_every_conv_layer():
    at = open_page("pages/filters.py")
    layer_box = at.selectbox(key="filters_layer")
    assert layer_box.options == ["conv1 (1 of 3)", "conv2 (2 of 3)", "conv3 (3 of 3)"]
    # the filter grid, one filter's preferred picture, the 9 test images it likes most and their maps
    assert len(at.get("image")) == 4
    layer_box.set_value("conv3").run()
    at.number_input(key="filters_pick").set_value(7).run()
    assert not at.exception and len(at.get("image")) == 4
    assert "32 filters of 3×3×32" in " ".join(m.value for m in at.markdown)
    assert any("conv3, filter 7" in str(img.proto) for img in at.get("image"))
    # the summary ranks the filters by the L2 norm of their weights, as the picture does
    from core.data import load_dataset
    from core.storage.files import load_model

    model, card = load_model(Path(APP).parent / "assets" / "models" / "shapes_default")
    kernel = model.get_layer("conv3").get_weights()[0]
    norms = np.linalg.norm(kernel.reshape(-1, kernel.shape[-1]), axis=0)
    assert len([m for m in at.markdown if m.value.startswith("| filter | strength (L2 norm) |")]) == 1
    rows = markdown_rows(at, "filter")
    assert [int(row["filter"]) for row in rows] == np.argsort(-norms, kind="stable").tolist()
    np.testing.assert_allclose([float(row["strength (L2 norm)"]) for row in rows], np.sort(norms)[::-1], atol=6e-4)
    assert any("16 of 32 filters, strongest first" in str(img.proto) for img in at.get("image"))
    n_test = len(load_dataset("shapes", card.dataset.options).x_test)
    searched = f"all {n_test:,} in the test split" if n_test <= 1000 else f"the first 1,000 of {n_test:,}"
    assert any(f"the 9 test images it responds to most, of {searched}" in str(img.proto) for img in at.get("image"))


def test_activations_page_shows_every_map_layer():
    at = open_page("pages/activations.py")
    # input image + conv1, conv2, conv3 + three pools drawn beside their inputs (2 images each)
    assert len(at.get("image")) == 1 + 3 + 3 * 2
    assert any(m.value.startswith("Prediction:") for m in at.markdown)
    at.slider(key="act_index").set_value(7).run()
    assert not at.exception
    # one map enlarged as coloured cells whose hover values are the layer's real output
    at.selectbox(key="act_inspect_layer").set_value("conv2").run()
    at.number_input(key="act_inspect_channel").set_value(5).run()
    assert not at.exception
    assert not at.get("plotly_chart")  # no chart library for the browser to load on this page
    (grid,) = [h.proto.body for h in at.get("html") if "conv2, channel 5" in h.proto.body]
    shown = np.array([[float(v) for v in re.findall(r'title="row \d+, col \d+: ([-0-9.e]+)"', row)]
                      for row in re.findall(r"<tr>(.*?)</tr>", grid)])
    from core.data import load_dataset
    from core.inspection.layers import activations
    from core.storage.files import load_model

    model, card = load_model(Path(APP).parent / "assets" / "models" / "shapes_default")
    expected = activations(model, load_dataset("shapes", card.dataset.options).x_test[7])["conv2"][..., 5]
    np.testing.assert_allclose(shown, expected, rtol=1e-3, atol=1e-4)


def test_predict_page_classifies_an_upload_and_a_snapshot():
    at = open_page("pages/predict.py")
    at.file_uploader(key="pred_upload").set_value(("star.jpg", star_photo(), "image/jpeg")).run()
    assert not at.exception and not at.error
    prediction = {m.label: m.value for m in at.metric}["Prediction"]
    assert prediction == "star"
    assert len(at.get("plotly_chart")) == 1
    assert any(c.value.startswith("Top 3: star ") for c in at.caption)

    at.radio(key="pred_source").set_value("camera").run()
    at.camera_input(key="pred_camera").set_value(("snapshot.jpg", star_photo(), "image/jpeg")).run()
    assert not at.exception and not at.error
    assert {m.label: m.value for m in at.metric}["Prediction"] == "star"


def _truncated_jpeg() -> bytes:
    data = star_photo()
    return data[: len(data) // 3]


@pytest.mark.parametrize("name, data, expected", [
    ("notes.jpg", b"This is a text file, not a photo.\n" * 20, "not an image"),
    ("broken.jpg", None, "damaged or truncated"),
    ("empty.jpg", b"", "empty"),
])
def test_predict_page_explains_bad_uploads(name, data, expected):
    data = _truncated_jpeg() if data is None else data
    at = open_page("pages/predict.py")
    at.file_uploader(key="pred_upload").set_value((name, data, "image/jpeg")).run()
    assert not at.exception
    messages = [e.value for e in at.error]
    assert len(messages) == 1 and expected in messages[0] and name in messages[0]
    assert "Prediction" not in {m.label for m in at.metric}
    # the app keeps working: a good picture right after is classified
    at.file_uploader(key="pred_upload").set_value(("star.jpg", star_photo(), "image/jpeg")).run()
    assert not at.exception and not at.error
    assert {m.label: m.value for m in at.metric}["Prediction"] == "star"


def test_train_then_every_page_uses_the_new_model():
    at = open_page("pages/data.py")
    at.selectbox(key="data_name").set_value("digits").run()
    at = open_page("pages/train.py", at)
    assert at.selectbox(key="train_preset").value == "small_cnn"
    assert markdown_rows(at, "layer")[0]["layer"] == "image"
    at.number_input(key="train_epochs").set_value(2).run()
    at.text_input(key="train_name").input("digits_test_model").run()
    at.button(key="train_start").click().run()
    assert not at.exception
    job = at.session_state["job"]
    job.join(timeout=120)
    at.run()
    assert not at.exception
    snap = job.snapshot()
    assert snap.state == "done" and len(snap.epoch_log) == 2 and snap.batch_log
    assert at.session_state["current_model"] == "session:digits_test_model"
    entry = at.session_state["models"]["session:digits_test_model"]
    # 2 epochs at the default rate: 35 to 60 % over seeds, against 10 % for chance
    assert entry.card.test_accuracy > 0.3
    assert len(at.get("plotly_chart")) == 2  # loss and accuracy curves
    assert any("test accuracy" in s.value for s in at.success)

    for page in PAGES:
        at = open_page(page, at)
    # the Activations page now runs digits through the new model
    at = open_page("pages/activations.py", at)
    predictions = [m.value for m in at.markdown if m.value.startswith("Prediction:")]
    assert predictions and predictions[0].split("**")[1] in [str(d) for d in range(10)]


def test_train_page_edits_the_architecture():
    at = open_page("pages/train.py")
    preset_rows = markdown_rows(at, "layer")
    at.toggle(key="train_custom").set_value(True).run()
    assert not at.exception and not at.error
    (blocks,) = [d.value for d in at.dataframe]  # the editable block table
    assert blocks["filters"].tolist() == [16, 32, 32]
    # the editable table starts from the preset, so the layers are the same
    assert markdown_rows(at, "layer") == preset_rows
    at.text_input(key="train_dense_small_cnn").input("128, 32").run()
    layers = {row["layer"]: row for row in markdown_rows(at, "layer")}
    assert list(layers)[-3:] == ["dense1", "dense2", "predictions"]
    assert layers["dense2"]["parameters"] == f"{128 * 32 + 32:,}" and layers["dense2"]["output shape"] == "(32,)"
    at.text_input(key="train_dense_small_cnn").input("lots").run()
    assert not at.exception and any("invalid value" in e.value for e in at.error)


def _wait(predicate, timeout=90.0):
    import time

    deadline = time.perf_counter() + timeout
    while not predicate():
        assert time.perf_counter() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_train_page_pause_resume_learning_rate_stop_and_continue():
    at = open_page("pages/data.py")
    at.selectbox(key="data_name").set_value("digits").run()
    at = open_page("pages/train.py", at)
    at.number_input(key="train_epochs").set_value(40).run()
    at.select_slider(key="train_batch").set_value(16).run()
    at.text_input(key="train_name").input("ctl").run()
    assert at.button(key="train_continue").disabled  # the shipped shapes model does not fit digits
    at.button(key="train_start").click().run()
    job = at.session_state["job"]
    _wait(lambda: len(job.snapshot().batch_log) >= 3)
    at.run()
    assert at.button(key="train_start").disabled and not at.button(key="train_stop").disabled

    at.button(key="train_pause").click().run()
    _wait(lambda: job.state == "paused")
    at.run()
    assert not at.exception
    at.select_slider(key="train_new_lr").set_value(1e-4).run()
    at.button(key="train_apply_lr").click().run()
    # applied while paused: the page says when it takes effect, and the control keeps the choice
    assert any("New learning rate 0.0001 takes effect when training resumes" in i.value for i in at.info)
    assert at.select_slider(key="train_new_lr").value == 1e-4 and at.button(key="train_apply_lr").disabled
    at.button(key="train_resume").click().run()
    _wait(lambda: job.snapshot().learning_rate == 1e-4)
    assert job.state in ("running", "done")
    at.run()
    # once applied, the curves mark it, above the plot area
    assert not any("takes effect" in i.value for i in at.info)
    loss = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [(a["text"], a["yref"], a["y"]) for a in loss["layout"]["annotations"]] == [("lr 0.0001", "paper", 1)]

    at.button(key="train_stop").click().run()
    job.join(60)
    at.run()
    assert not at.exception and job.state == "stopped"
    # one training time, pauses left out, in the metric and in the result's sentence
    shown = {m.label: m.value for m in at.metric}["Training time"]
    assert any(f"({shown} of training" in s.value for s in at.success), ([s.value for s in at.success], shown)
    assert at.session_state["current_model"] == "session:ctl"
    entry = at.session_state["models"]["session:ctl"]
    assert entry.evolution and entry.evolution[0].epoch == 0
    from core.storage.registry import ModelRegistry

    saved = {e.name: e for e in ModelRegistry().list_entries()}
    assert entry.saved_id == saved["ctl"].id  # kept in the models folder too
    replay, probe = ModelRegistry().load_replay(saved["ctl"].id)  # with its training replay
    assert [s.epoch for s in replay] == [s.epoch for s in entry.evolution] and probe.shape == (8, 8, 1)
    assert float(entry.model.optimizer.learning_rate.numpy()) == pytest.approx(1e-4)

    # continue the stopped model for two more epochs: a new model, the first left as it was
    before = [w.copy() for w in entry.model.get_weights()]
    at.number_input(key="train_epochs").set_value(2).run()
    assert not at.button(key="train_continue").disabled
    at.button(key="train_continue").click().run()
    more = at.session_state["job"]
    more.join(120)
    at.run()
    assert not at.exception and more.state == "done"
    current = at.session_state["models"][at.session_state["current_model"]]
    assert current.id != "session:ctl" and current.card.parent_id == "session:ctl"
    assert all(np.array_equal(a, b) for a, b in zip(before, entry.model.get_weights()))

    # the finished model's replay shows on the Filters page
    at = open_page("pages/filters.py", at)
    assert at.select_slider(key="filters_evo_epoch").options[0] == "0"


def test_two_workspaces_training_at_once_see_only_their_own_jobs_and_models():
    sessions = []
    for name in ("alice", "bob"):
        at = open_page("pages/data.py", user=name)
        at.selectbox(key="data_name").set_value("digits").run()
        at = open_page("pages/train.py", at)
        at.number_input(key="train_epochs").set_value(2).run()
        at.text_input(key="train_name").input(name).run()
        at.button(key="train_start").click().run()
        sessions.append(at)
    jobs = [at.session_state["job"] for at in sessions]
    assert jobs[0] is not jobs[1]
    for job in jobs:
        job.join(120)
    for at, name, other in zip(sessions, ("alice", "bob"), ("bob", "alice")):
        at.run()
        assert not at.exception
        models = at.session_state["models"]
        assert f"session:{name}" in models and f"session:{other}" not in models
        assert at.session_state["current_model"] == f"session:{name}"
        assert at.session_state["job"].name == name
    assert sessions[0].session_state["models"]["session:alice"].model is not \
        sessions[1].session_state["models"]["session:bob"].model


def test_activations_page_shows_maps_before_and_after_the_activation():
    at = open_page("pages/activations.py")
    before = len(at.get("image"))
    at.toggle(key="act_preact").set_value(True).run()
    assert not at.exception
    assert len(at.get("image")) == before + 3  # conv1, conv2, conv3 each drawn twice
    captions = " ".join(str(img.proto) for img in at.get("image"))
    assert "before the activation" in captions and "every negative value becomes 0" in captions


def test_step_by_step_page_checks_its_arithmetic_against_the_layers():
    at = open_page("pages/arithmetic.py")
    at.selectbox(key="arith_conv_layer").set_value("conv2").run()
    at.number_input(key="arith_conv_channel").set_value(3).run()
    at.number_input(key="arith_conv_row").set_value(7).run()
    at.number_input(key="arith_conv_col").set_value(15).run()
    at.selectbox(key="arith_pool_layer").set_value("maxpool2").run()
    at.number_input(key="arith_pool_row").set_value(3).run()
    assert not at.exception and not at.error
    checks = [m.value for m in at.markdown if "layer's own output" in m.value]
    assert len(checks) == 2 and all(c.endswith(":material/check_circle: the same]") for c in checks)
    assert "row 7, column 15, channel 3" in checks[0]
    # the sliding windows over the input and the outputs they make (clickable maps: a click moves the window);
    # patch, weights, products and the pooling window as tables of numbers; no chart library to load
    maps = at.get("bidi_component")
    assert [m.proto.component_name for m in maps] == ["cnnlab.clickable_map"] * 4
    assert "window at row 7, column 15" in str(maps[0].proto) and not at.get("plotly_chart")
    grids = [h.proto.body for h in at.get("html")]
    for title in ("input patch (channel 0)", "filter 3 weights", "patch × weights", "input window"):
        assert sum(title in g for g in grids) == 1, title


def test_predict_page_explains_the_prediction():
    at = open_page("pages/predict.py")
    at.file_uploader(key="pred_upload").set_value(("star.jpg", star_photo(), "image/jpeg")).run()
    captions = [str(img.proto) for img in at.get("image")]
    for name in ("Grad-CAM", "Saliency", "SmoothGrad", "Occlusion"):
        assert any(name in c for c in captions), name
    def explain_box():
        (box,) = [b for b in at.selectbox if b.label == "Explain the class"]
        return box

    assert explain_box().value == 3  # star, the predicted class
    explain_box().set_value(0).run()
    assert not at.exception and not at.error and explain_box().value == 0
    # a new photo starts on its own predicted class, with its own probabilities, not the last photo's choice
    at.file_uploader(key="pred_upload").set_value(("square.jpg", star_photo("square"), "image/jpeg")).run()
    assert not at.exception and not at.error
    prediction = next(m for m in at.metric if m.label == "Prediction").value
    assert prediction == "square" and explain_box().value == 1
    assert explain_box().options[1].startswith("square (") and explain_box().options[1].endswith("· predicted")
    assert not explain_box().options[3].endswith("· predicted")




def test_a_dataset_without_test_images_is_refused_by_the_data_page_and_the_train_page(tmp_path):
    import dataclasses

    import ui.dataset_cache
    from apptest_helpers import load_folder

    for name in ("cats", "dogs"):
        (tmp_path / "one" / name).mkdir(parents=True)
        Image.new("RGB", (8, 8), "red" if name == "cats" else "blue").save(tmp_path / "one" / name / "1.png")
    at = open_page("pages/data.py")
    at.selectbox(key="data_name").set_value("folder").run()
    at.radio(key="data_where").set_value("server").run()
    at.text_input(key="data_path").input(str(tmp_path / "one")).run()
    at.button(key="data_load").click().run()
    assert not at.exception
    assert any("Each class needs at least 2 images to keep one for testing. Received: 1 in cats, 1 in dogs" in e.value
               for e in at.error), [e.value for e in at.error]

    # A dataset that has no test images all the same (made elsewhere) is refused by the Train page, not trained
    # into an IndexError.
    for name in ("cats", "dogs"):
        Image.new("RGB", (8, 8), "green").save(tmp_path / "one" / name / "2.png")
    at = load_folder(tmp_path / "one", at)
    key = next(k for k, ds in ui.dataset_cache._DATASETS.items() if ds.source == str(tmp_path / "one"))
    full = ui.dataset_cache._DATASETS[key]
    ui.dataset_cache._DATASETS[key] = dataclasses.replace(full, x_test=full.x_test[:0], y_test=full.y_test[:0])
    try:
        at = open_page("pages/train.py", at)
        assert any("has no test images to measure a model with" in e.value for e in at.error)
        assert "train_start" not in [b.key for b in at.button]
    finally:
        ui.dataset_cache._DATASETS[key] = full

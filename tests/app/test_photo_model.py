"""The shipped photo model under AppTest: offered beside the shapes model, every page works with it, and
Predict names a cat and says a face is not something it knows."""

from __future__ import annotations

import pytest
import skimage.data

from apptest_helpers import APP, open_page
from face_photos import jpeg
from ui.shipped import SHIPPED, shipped_card, shipped_ids

PHOTO_ID = "shipped:photo_cifar10"
PAGES = ("pages/filters.py", "pages/activations.py", "pages/arithmetic.py", "pages/predict.py", "pages/evaluation.py",
         "pages/embedding.py")


@pytest.fixture()
def cifar_cache(tmp_path, monkeypatch, shared_datasets_or_none):
    """CIFAR-10 where the app finds it once downloaded: real photos from the shared folder, else random pixels."""
    home = tmp_path / "keras"
    if shared_datasets_or_none is not None:
        from cifar_cache import write_cifar_cache

        write_cifar_cache(home, shared_datasets_or_none, train_per_class=20, test_per_class=10)
    else:
        from download_fixtures import cifar_batch
        from core.data.download import CIFAR_BATCHES, CIFAR_DIR

        folder = home / "datasets" / CIFAR_DIR
        folder.mkdir(parents=True)
        for i, name in enumerate(CIFAR_BATCHES):
            (folder / name).write_bytes(cifar_batch(40, i))
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


def use_photo_model(at):
    at.button(key=f"home_use_{PHOTO_ID}").click().run()
    assert at.session_state["current_model"] == PHOTO_ID
    return at


def test_the_photo_model_ships_small_with_a_complete_card():
    assert PHOTO_ID in shipped_ids()
    path = SHIPPED[PHOTO_ID].path
    assert path.with_suffix(".keras").stat().st_size + path.with_suffix(".json").stat().st_size <= 10 * 2**20
    card = shipped_card(PHOTO_ID)
    assert card.dataset.name == "cifar10" and card.dataset.options == {}  # where the app downloads or imports it
    assert card.class_names[3] == "cat" and len(card.class_names) == 10 and card.input_shape == (32, 32, 3)
    assert card.test_accuracy >= 0.88


def test_the_overview_offers_both_shipped_models_and_the_sidebar_names_what_they_know():
    from streamlit.testing.v1 import AppTest

    first = AppTest.from_file(APP, default_timeout=180).run()  # through app.py: the sidebar and the Overview
    assert not first.exception, [e.value for e in first.exception]
    picker = first.sidebar.selectbox[0]
    assert len(picker.options) == 2
    assert picker.options[0].startswith("shapes_small_cnn (shipped, knows 4 drawn shapes) · ")
    assert picker.options[1].startswith(f"{shipped_card(PHOTO_ID).name} (shipped, knows 10 kinds of photos) · ")
    at = open_page("pages/home.py")
    assert at.button(key="home_use_shipped:shapes_default").disabled  # the default, in use
    text = " ".join(m.value for m in at.markdown)
    assert "knows 10 kinds of photos" in text and "airplane" in text
    use_photo_model(at)
    at.run()
    assert at.button(key=f"home_use_{PHOTO_ID}").disabled and not at.button(key="home_use_shipped:shapes_default").disabled


def test_every_page_works_with_the_photo_model(cifar_cache):
    at = use_photo_model(open_page("pages/home.py"))
    for page in PAGES:
        at = open_page(page, at)
        assert not at.exception, (page, [e.value for e in at.exception])
        assert not at.error, (page, [e.value for e in at.error])
    at = open_page("pages/evaluation.py", at)
    assert "Test accuracy" in {m.label for m in at.metric}


def test_predict_names_the_cat_and_says_a_face_is_not_something_it_knows():
    at = use_photo_model(open_page("pages/home.py"))
    at = open_page("pages/predict.py", at)
    at.file_uploader(key="pred_upload").set_value(("chelsea.jpg", jpeg(skimage.data.chelsea(), quality=92), "image/jpeg")).run()
    assert not at.exception and not at.error
    assert {m.label: m.value for m in at.metric}["Prediction"] == "cat"
    assert not at.warning, [w.value for w in at.warning]
    at.file_uploader(key="pred_upload").set_value(("astronaut.jpg", jpeg(skimage.data.astronaut(), quality=92), "image/jpeg")).run()
    assert not at.exception and not at.error
    assert [w.value for w in at.warning] == ["This photo looks unlike the images this model was trained on: its answer "
                                             "is a guess among its 10 classes."]

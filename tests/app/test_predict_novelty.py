"""Predict says what its percentages mean, flags pictures unlike the model's data with the thresholds it used,
and keeps a bounded gallery of the pictures tried."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import skimage.data
from PIL import Image

from apptest_helpers import open_page
from core.inspection.novelty import CARD_KEY, stored_calibration
from ui.photo_gallery import GALLERY, GALLERY_SIZE
from ui.shipped import shipped_card


def jpeg_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="JPEG", quality=92)
    return buf.getvalue()


def shape_photo(kind: str = "star", seed: int = 3) -> bytes:
    from core.data.shapes import draw_shape

    image = draw_shape(kind, np.random.default_rng(seed), size=32, noise=0.02)
    return jpeg_bytes(np.asarray(Image.fromarray((image * 255).astype(np.uint8)).resize((480, 480),
                                                                                          Image.Resampling.BICUBIC)))


def upload(at, name: str, data: bytes):
    at.file_uploader(key="pred_upload").set_value((name, data, "image/jpeg")).run()
    assert not at.exception and not at.error, [e.value for e in at.exception]
    return at


def checks(at) -> dict:
    table = at.dataframe[0].value
    return {row["check"]: row for _, row in table.iterrows()}


def prediction(at) -> str:
    return {m.label: m.value for m in at.metric}["Prediction"]


def gallery_buttons(at) -> list:
    return [b for b in at.button if b.key.startswith("pred_gallery_show_")]


def test_a_photo_of_a_cat_is_flagged_with_the_thresholds_of_the_card():
    at = upload(open_page("pages/predict.py"), "chelsea.jpg", jpeg_bytes(skimage.data.chelsea()))
    assert prediction(at) == "star"  # the softmax has no "none of these"
    text = " ".join(m.value for m in at.markdown)
    assert "shares 100 % among the 4 classes" in text and '"none of these"' in text
    assert "not a guarantee" in text and f"right **{shipped_card().test_accuracy:.1%}**" in text
    assert [w.value for w in at.warning] == ["This photo looks unlike the images this model was trained on: its answer "
                                             "is a guess among its 4 classes."]
    cal = stored_calibration(shipped_card())
    rows = checks(at)
    assert rows["Top probability"]["threshold"] == f"at least {cal.min_top_probability:.1%}"
    feature = rows["Feature distance (conv2)"]
    assert feature["threshold"] == f"at most {cal.max_distance:.2f}" and feature["result"] == "too far"
    assert float(feature["this picture"]) > cal.max_distance
    assert any("kept in its card" in c.value and "Shapes (synthetic)" in c.value for c in at.caption)


def test_a_drawn_shape_passes_both_checks():
    at = upload(open_page("pages/predict.py"), "star.jpg", shape_photo())
    assert prediction(at) == "star" and not at.warning
    assert any("passes both checks" in s.value for s in at.success)
    assert {row["result"] for name, row in checks(at).items() if not name.startswith("Entropy")} == {"passes"}


def test_without_stored_thresholds_the_page_measures_them_on_the_matching_dataset_or_says_it_cannot_tell():
    at = open_page("pages/predict.py")
    shipped = at.session_state["models"]["shipped:shapes_default"]
    from ui.workspace import personal_user, workspace_for

    ws = workspace_for(personal_user())  # the models of the user's workspace, which every tab shows
    bare = replace(shipped.card, extra={k: v for k, v in shipped.card.extra.items() if k != CARD_KEY})
    ws.set_current(ws.add_model(shipped.model, bare).id)
    upload(at, "chelsea.jpg", jpeg_bytes(skimage.data.chelsea()))
    assert any("measured just now on 1,000 test images of Shapes (synthetic)" in c.value for c in at.caption)
    assert at.warning and checks(at)["Feature distance (conv2)"]["result"] == "too far"

    # the same model under other class names: no dataset fits it and its card holds nothing
    renamed = replace(bare, class_names=["ring", "box", "wedge", "spark"], dataset=None)
    ws.set_current(ws.add_model(shipped.model, renamed).id)
    at.run()
    assert not at.exception and not at.dataframe
    # the only warning is the page's context line: the chosen dataset is not one this model was made for
    assert [w.value for w in at.warning if "was not made for" not in w.value] == [] and len(at.warning) == 1
    assert any("cannot tell" in i.value for i in at.info)


def test_the_gallery_shows_a_picture_again_and_can_be_cleared():
    at = open_page("pages/predict.py")
    upload(at, "chelsea.jpg", jpeg_bytes(skimage.data.chelsea()))
    upload(at, "square.jpg", shape_photo("square"))
    assert prediction(at) == "square"
    labels = [str(img.proto) for img in at.get("image")]
    assert any("square" in c and "like its data" in c for c in labels)
    assert any("star" in c and "unlike its data" in c for c in labels)
    assert len(gallery_buttons(at)) == 2
    upload(at, "square.jpg", shape_photo("square"))  # the same picture again: not twice
    assert len(gallery_buttons(at)) == 2

    gallery_buttons(at)[1].click().run()  # the older one, the cat
    assert not at.exception and prediction(at) == "star" and at.warning
    assert any("from the gallery again: chelsea.jpg" in i.value for i in at.info)
    at.button(key="pred_gallery_back").click().run()
    assert prediction(at) == "square" and not at.warning

    at.button(key="pred_gallery_clear").click().run()
    # the cat is gone; the picture on screen is the one being tried, so it starts the gallery again
    assert not at.exception and len(gallery_buttons(at)) == 1
    assert [item.caption for item in at.session_state[GALLERY]] == ["square.jpg (480×480)"]


def test_the_gallery_keeps_the_last_pictures_only():
    at = open_page("pages/predict.py")
    upload(at, "star.jpg", shape_photo())
    (first,) = at.session_state[GALLERY]
    at.session_state[GALLERY] = [replace(first, id=f"old{i}", caption=f"old {i}") for i in range(GALLERY_SIZE)]
    upload(at, "triangle.jpg", shape_photo("triangle"))
    items = at.session_state[GALLERY]
    assert len(items) == GALLERY_SIZE and len(gallery_buttons(at)) == GALLERY_SIZE
    assert items[0].caption.startswith("triangle.jpg") and items[-1].caption == "old 10"  # the oldest dropped
    assert all(len(item.thumbnail) < 20_000 and len(item.preview) < 40_000 for item in items)

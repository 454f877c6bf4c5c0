"""The shipped photo model and transfer learning as a new user meets them in Chromium.

A cat photo on Predict with the photo model, then a face ("unlike the images this model was
trained on"); My classes trained from random weights, then from the photo model, the two
held-out accuracies side by side and the first run's curve drawn dotted with the second.
"""

from __future__ import annotations

import pytest

from browser import MAIN, act, choose, exceptions, go, main_text, open_app, prediction, shot, upload, wait_idle, wait_text
from class_photos import photo
from face_photos import jpeg


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    import skimage.data

    folder = tmp_path_factory.mktemp("transfer_photos")
    (folder / "chelsea.jpg").write_bytes(jpeg(skimage.data.chelsea(), quality=92))
    (folder / "astronaut.jpg").write_bytes(jpeg(skimage.data.astronaut(), quality=92))
    return {"cat": folder / "chelsea.jpg", "face": folder / "astronaut.jpg"}


def use_photo_model(page, url: str) -> None:
    open_app(page, url)
    wait_text(page, "knows 10 kinds of photos")
    act(page, page.locator(MAIN).get_by_role("button", name="Use it").first.click)
    wait_text(page, "In use")


def test_the_photo_model_names_a_cat_and_says_a_face_is_unlike_its_photos(app_server, browser_page, photos, artifacts):
    page = browser_page
    use_photo_model(page, app_server["url"])
    go(page, "Predict", "Predict")
    choose(page, "Upload a photo")
    upload(page, "Photo", str(photos["cat"]))
    wait_text(page, "chelsea.jpg (451×300)")
    wait_idle(page)
    assert prediction(page) == "cat"
    assert "looks unlike the images this model was trained on" not in main_text(page)
    shot(page, artifacts, "photo_model_cat")
    upload(page, "Photo", str(photos["face"]))
    wait_text(page, "astronaut.jpg (512×512)")
    wait_idle(page)
    text = main_text(page)
    assert "This photo looks unlike the images this model was trained on" in text, text[:3000]
    shot(page, artifacts, "photo_model_face")
    assert not exceptions(page) and page.errors == []


def test_my_classes_from_the_photo_model_beside_random_weights(app_server, browser_page, tmp_path, artifacts):
    page = browser_page
    open_app(page, app_server["url"])
    go(page, "My classes", "My classes")
    for name, kind in (("Class 1", "china"), ("Class 2", "flower")):
        paths = []
        for i in range(6):
            paths.append(tmp_path / f"{kind}{i}.jpg")
            paths[-1].write_bytes(photo(kind, i))
        upload(page, f"Add images to {name}", [str(p) for p in paths])
        wait_text(page, f"Added 6 images to {name}.")
    train = page.locator(MAIN).get_by_role("button", name="Train", exact=True)
    act(page, train.click)
    wait_text(page, "of the held-out images right after", timeout=240)  # from random weights: the Small CNN
    wait_idle(page)
    choose(page, "A trained network (transfer learning)")
    wait_text(page, "The network it trains:")
    act(page, train.click)
    wait_text(page, "Held-out images right:", timeout=240)
    wait_idle(page)
    text = main_text(page)
    line = next(t for t in text.splitlines() if t.startswith("Held-out images right:"))
    assert "for this run, from CNN Lab photo model" in line and "for my_classes, from random weights" in line, line
    assert "Dotted: my_classes, from random weights" in text
    traces = page.evaluate("() => Array.from(document.querySelectorAll('[data-testid=\"stMain\"] .js-plotly-plot'))"
                           ".flatMap(g => (g.data || []).map(t => t.name || ''))")
    assert any(t.startswith("my_classes, from random weights") for t in traces), traces
    shot(page, artifacts, "my_classes_transfer")
    assert not exceptions(page) and page.errors == []

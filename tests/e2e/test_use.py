"""What a user does in Chromium: upload real photos, classify a webcam snapshot, train and watch the live chart."""

from __future__ import annotations

import time

import pytest

from browser import (MAIN, chart_points, choose, exceptions, main_text, open_app, open_predict, prediction, shot,
                     start_training, upload,
                     wait_camera, wait_idle, wait_text)
from files import real_photos



@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return real_photos(tmp_path_factory.mktemp("photos"))


def test_real_photos_of_every_kind_are_classified(app_server, browser_page, photos, artifacts):
    page = browser_page
    classes = open_predict(page, app_server["url"])
    choose(page, "Upload a photo")
    for photo in photos:
        upload(page, "Photo", str(photo.path))
        width, height = photo.size
        wait_text(page, f"{photo.path.name} ({width}×{height})")  # upright size, as decoded
        wait_idle(page)
        text = main_text(page)
        for note in photo.notes:
            assert note in text, (photo.path.name, note)
        assert prediction(page) in classes, (photo.path.name, prediction(page))
        assert "What the model sees" in text
        assert not exceptions(page), (photo.path.name, exceptions(page))
        shot(page, artifacts, f"upload_{photo.path.stem}")
    assert page.errors == []


def test_webcam_snapshot_is_classified(app_server, browser_page, camera_video, artifacts):
    page = browser_page
    classes = open_predict(page, app_server["url"])
    choose(page, "Webcam snapshot")
    take = page.get_by_role("button", name="Take Photo").first
    take.wait_for(state="visible", timeout=30_000)
    wait_camera(page)  # the fake camera's first frames
    take.click()
    wait_text(page, "webcam snapshot (")  # its caption, with the size the browser captured
    wait_idle(page)
    assert prediction(page) in classes
    assert not exceptions(page) and page.errors == []
    shot(page, artifacts, "predict_webcam")


def test_training_shows_a_live_chart_that_grows(app_server, browser_page, artifacts):
    page = browser_page
    open_app(page, app_server["url"])
    # long enough for the curves to be redrawn several times however fast the machine; stopped once they have
    start_training(page, 200)
    counts, deadline = [], time.time() + 240
    while time.time() < deadline:
        points = chart_points(page)
        if points:
            counts.append(sum(points))
        if sum(b > a for a, b in zip(counts, counts[1:])) >= 3:
            break
        time.sleep(0.5)
    grew = [b > a for a, b in zip(counts, counts[1:])]
    assert sum(grew) >= 3, counts  # drawn again and again with more points while it trains
    page.locator(MAIN).get_by_role("button", name="Stop", exact=True).click()
    wait_text(page, "test accuracy", timeout=120)  # stopped: the model keeps its weights and is scored
    text = main_text(page)
    assert "after " in text and " epochs (" in text, text[-800:]
    wait_idle(page)
    assert len(chart_points(page)) == 2  # the loss and accuracy curves stay, with the run's result
    assert not exceptions(page) and page.errors == []
    shot(page, artifacts, "train_done")

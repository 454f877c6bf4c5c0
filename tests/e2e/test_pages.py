"""Every page in headless Chromium, and a webcam snapshot from Chromium's fake camera on Who am I?."""

from __future__ import annotations


from browser import act, exceptions, go, main_text, open_app, shot, wait_camera, wait_idle, wait_text


# sidebar label -> text of the page's h1
PAGES = {"Overview": "CNN Lab", "Data": "Data", "My classes": "My classes", "Train": "Train", "Filters": "Filters",
         "Activations": "Activations", "Step by step": "step by step", "Predict": "Predict", "Who am I?": "Who am I?",
         "Evaluation": "Evaluation", "Embedding map": "Embedding map", "Models": "Models"}


def test_every_page_opens_without_an_error(app_server, browser_page, artifacts):
    page = browser_page
    open_app(page, app_server["url"])
    for label, heading in PAGES.items():
        go(page, label, heading)
        assert not exceptions(page), (label, exceptions(page))
        assert len(main_text(page)) > 100, label
        assert shot(page, artifacts, f"page_{label.lower().replace(' ', '_').replace('?', '')}").stat().st_size > 10_000
    assert page.errors == []
    assert "Traceback" not in app_server["log"].read_text()


def test_webcam_snapshot_of_a_face_is_enrolled(app_server, browser_page, camera_video, artifacts):
    page = browser_page
    files = lambda: sorted(p for folder in ("data", "models") for p in app_server[folder].rglob("*") if p.is_file())  # noqa: E731
    before = files()
    open_app(page, app_server["url"])
    go(page, "Who am I?", "Who am I?")
    act(page, page.get_by_text("Webcam", exact=True).first.click)
    take = page.get_by_role("button", name="Take Photo").first
    take.wait_for(state="visible", timeout=30_000)
    wait_camera(page)  # the fake camera's first frames
    take.click()
    wait_text(page, "face found")
    wait_text(page, "Now: 1 face of 1 person.")
    wait_idle(page)
    text = main_text(page)
    assert "added to Me" in text and "Now: 1 face of 1 person." in text
    shot(page, artifacts, "who_am_i_webcam")
    assert not exceptions(page) and page.errors == []
    # enrolling writes nothing to disk: not the snapshot, not the crop
    assert files() == before

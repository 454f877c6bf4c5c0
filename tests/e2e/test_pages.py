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


def test_a_click_on_the_input_moves_the_step_by_step_window(app_server, browser_page, artifacts):
    page = browser_page
    open_app(page, app_server["url"])
    go(page, "Step by step", "step by step")
    position = page.locator('[data-testid="stNumberInput"] input')  # conv channel, row, column; pool's three

    def conv_row_col():
        return int(position.nth(1).input_value()), int(position.nth(2).input_value())

    start = conv_row_col()
    # the first conv layer of the shipped 32x32 model reads 'same' padding: one grey cell around the image
    plot = page.locator("img.cnnlab-map").first  # the input with its window (ui.clickable_map)
    plot.scroll_into_view_if_needed()
    box = plot.bounding_box()
    cell = box["width"] / 34
    for row, col in ((27, 4), (3, 30), (16, 16)):
        target = (row, col) if (row, col) != start else (row - 1, col)
        act(page, lambda: page.mouse.click(box["x"] + (target[1] + 1.5) * cell, box["y"] + (target[0] + 1.5) * cell))
        assert conv_row_col() == target
        assert f"output at row {target[0]}, column {target[1]}" in main_text(page)
    # the number inputs still move the window after a click
    act(page, lambda: (position.nth(1).fill("5"), position.nth(1).press("Enter")))
    assert conv_row_col() == (5, 16) and "output at row 5, column 16" in main_text(page)
    shot(page, artifacts, "step_by_step_clicked")
    assert not exceptions(page) and page.errors == []

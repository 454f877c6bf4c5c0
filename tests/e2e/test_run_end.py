"""A click on the Data page as the user's training run ends must not change their dataset.

When a run ends, the sidebar's training status (a fragment polled every 4 s) redraws the whole
app (``st.rerun(scope="app")``) so the new model shows. A user who clicks a widget at that
moment can find the Data page back on its first choices: the Dataset box on Shapes, "Images per
class" on 4, and Shapes loaded as their dataset on every page, which they never asked for. The
classroom benchmark met it twice in four runs (a student's dataset became Shapes during their
bad-input round; another's webcam snapshot was lost at the same moment).

The cause was in the browser: leaving the page just after that redraw, it forgot its copy of
the Data page's widget values, while the server still held them and so did not send them again;
back on the page, each widget showed its first option, and the next click sent them all. Every
kept widget's value is now sent with the widget (``ui.widget_memory.persist``). Without it, this
test failed at its first or second run end, four times out of four.

The test trains a short run several times and, while each ends, switches the Data page's
"Images" choice back and forth as a user might; the dataset must stay the user's zip.
"""

from __future__ import annotations

from bench.classroom_files import class_zip
from browser import MAIN, SIDEBAR, act, exceptions, go, open_app, pick, start_training, upload, wait_drawn, wait_idle, wait_text

ATTEMPTS = 6


def test_a_click_as_the_run_ends_keeps_the_users_dataset(app_server, browser_page, tmp_path):
    page = browser_page
    open_app(page, app_server["url"])
    go(page, "Data", "Data")
    pick(page, "Dataset", "Image folder")
    page.locator(MAIN).get_by_text("Upload a .zip of class folders", exact=True).click()
    wait_idle(page)
    upload(page, "A .zip with one folder", class_zip(tmp_path / "mine.zip"))
    wait_text(page, "Press Load dataset")
    act(page, page.locator(MAIN).get_by_role("button", name="Load dataset").click)
    wait_drawn(page)
    choices = ["A folder on this machine", "Upload a .zip of class folders"]
    for attempt in range(ATTEMPTS):
        start_training(page, 6, f"run_end_{attempt}")
        go(page, "Data", "Data")
        wait_drawn(page)
        clicks = 0
        while f"Training run_end_{attempt}: done" not in page.locator(SIDEBAR).inner_text():
            label = page.locator(MAIN).locator("label").filter(has=page.get_by_text(choices[clicks % 2], exact=True))
            try:
                label.first.click(timeout=10_000)
            except Exception:  # the page no longer shows the choice: it was reset (checked below)
                break
            clicks += 1
            page.wait_for_timeout(150)  # a user's pace between clicks, not a wait for the app
        page.locator(SIDEBAR).get_by_text(f"Training run_end_{attempt}: done").wait_for(timeout=120_000)
        wait_idle(page)
        box = page.locator(MAIN).locator('[data-testid="stSelectbox"]').filter(has_text="Dataset").first
        assert box.locator("input").input_value() == "Image folder", (attempt, clicks)
        assert "Folder: mine" in page.locator(SIDEBAR).inner_text(), (attempt, clicks)
        assert not exceptions(page) and page.errors == []

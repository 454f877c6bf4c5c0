"""Take Photo takes the photo whenever the camera shows frames, also just after the widget changed width.

Streamlit's camera widget asks the camera for frames as wide as itself unless given a resolution; a
change of its width (the first measure, a narrower window) then stopped and restarted the camera, and
a click while it restarted took nothing: no photo, no run, the video still live (``ui.camera``).
"""

from __future__ import annotations

from browser import act, choose, go, open_app, wait_camera, wait_text

# Every start of a stream in the page's videos, with the width the video box had then.
WATCH_VIDEOS = """() => { window.__streams = [];
  const hook = v => { if (v.__watched) return; v.__watched = true;
    v.addEventListener('loadstart', () => window.__streams.push(Math.round(v.getBoundingClientRect().width))); };
  document.querySelectorAll('video').forEach(hook);
  new MutationObserver(() => document.querySelectorAll('video').forEach(hook))
    .observe(document.body, {subtree: true, childList: true}); }"""
# The width the widget gives its video (unset until it has measured itself; the video then shows at its own size).
VIDEO_WIDTH = "() => Number(document.querySelector('video').getAttribute('width') || 0)"


def test_a_snapshot_right_after_the_window_narrows_is_taken(app_server, browser_page, camera_video):
    page = browser_page
    open_app(page, app_server["url"])
    go(page, "Predict", "Predict")
    page.evaluate(WATCH_VIDEOS)
    choose(page, "Webcam snapshot")
    take = page.get_by_role("button", name="Take Photo").first
    take.wait_for(state="visible", timeout=30_000)
    wait_camera(page)
    # the widget takes its measured width a second after it appears (a debounce): wait until it has
    page.wait_for_function(f"() => ({VIDEO_WIDTH})() > 400", timeout=30_000, polling=100)
    wait_camera(page)
    wide = page.evaluate(VIDEO_WIDTH)
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"] - 200, "height": size["height"]})
    # the moment the widget has taken its new width, the click: with the camera restarted for that
    # width, it came while the new stream had no frame yet
    page.wait_for_function(f"w => ({VIDEO_WIDTH})() < w", arg=wide, timeout=30_000, polling="raf")
    act(page, take.click, timeout=30)  # (a lost click runs nothing: fail in seconds, not minutes)
    wait_text(page, "webcam snapshot (")
    assert page.evaluate("window.__streams").__len__() == 1, page.evaluate("window.__streams")

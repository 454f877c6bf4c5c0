"""No page asks anything of a host other than the app's own: the app works the same without the internet.

Chromium walks every page while every request it makes is recorded. Streamlit itself can reach out
(a favicon from a font host, for instance); a classroom behind a firewall then sees broken icons and
console errors, and a student's visit is told to a third party.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from browser import exceptions, go, open_app, wait_idle
from test_pages import PAGES

LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
# What Chromium says in the console when something it asked for did not come.
FAILED_LOAD = ("Failed to load resource", "net::ERR_", "ERR_NAME_NOT_RESOLVED", "ERR_INTERNET_DISCONNECTED")


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about", "chrome", "chrome-extension"):
        return True  # made inside the page: no network
    return parts.hostname in LOCAL_HOSTS


def test_every_page_asks_only_the_app_itself(app_server, browser_page):
    page = browser_page
    requests, console, failed, where = [], [], [], ["Overview"]
    page.on("request", lambda r: requests.append(r.url))
    # A request the page itself gave up is not a load that failed (the Models page's download button checks
    # its file with a fetch whose body it never reads: Chromium ends it as ERR_ABORTED when the page moves on).
    page.on("requestfailed", lambda r: None if r.failure == "net::ERR_ABORTED" and is_local(r.url) else
            failed.append(f"{where[-1]}: {r.resource_type} {r.url} ({r.failure})"))
    page.on("console", lambda m: console.append(f"{where[-1]}: {m.type}: {m.text}"))
    open_app(page, app_server["url"])
    for label, heading in PAGES.items():
        where.append(label)
        go(page, label, heading)
        wait_idle(page)
        assert not exceptions(page), (label, exceptions(page))
    page.wait_for_load_state("networkidle")  # the icons, images and fonts the last page asked for have come

    assert requests, "no request was recorded"  # the listener works: the app's own files were asked for
    outside = sorted({url for url in requests if not is_local(url)})
    assert outside == [], "requests to other hosts:\n" + "\n".join(outside)
    # the pages' icons (navigation, links, messages) come from the font Streamlit ships, loaded from the app
    assert any("MaterialSymbols" in url and is_local(url) for url in requests), requests
    assert page.evaluate("() => document.fonts.check('24px \"Material Symbols Rounded\"', 'home')")
    assert page.locator('[data-testid="stSidebarNav"] [data-testid="stIconMaterial"]').count() == len(PAGES)
    assert failed == [], "requests that failed:\n" + "\n".join(failed)
    failed_loads = [line for line in console if any(s in line for s in FAILED_LOAD)]
    assert failed_loads == [], "\n".join(failed_loads)
    assert page.errors == []

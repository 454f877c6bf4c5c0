"""Classroom mode in Chromium: one server, users A and B each on their own private link, and the teacher.

A trains a model, uploads a zip of class photos, makes a class of My classes with a photo and
uploads a ``.keras``. B, clicking through every page as a user does, sees none of it and has no
control that reaches it; an address forged from A's workspace, or a short guess, opens an empty
workspace of its own. A's refreshed tab brings A's work back. The teacher publishes a model and B
loads it from the gallery, with no Publish or Withdraw of their own.

A "cross-user read" is any of A's names (model, uploaded model, zip, class) in what B's page
shows: its text, its text and select boxes, its tables. There must be none; the same reading of
A's own pages must find every one of them, so the check is not blind.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import pytest

from bench.app_server import AppServer
from bench.classroom_files import CLASS_COLOURS, class_zip, keras_classifier, photo_file, photo_png
from browser import (CHROMIUM_ARGS, MAIN, SIDEBAR, act, alerts, choose, chromium_path, exceptions, go, link_key, open_link,
                     options, pick, radio_options, start_training, upload, user_text, wait_drawn, wait_idle,
                     wait_text)
from ui.shipped import shipped_ids

TAG = secrets.token_hex(3)  # the names of this run, so a leftover of another run cannot pass for one
TEACHER_KEY = secrets.token_urlsafe(32)
PAGES = [("Overview", "CNN Lab"), ("Data", "Data"), ("My classes", "My classes"), ("Train", "Train"),
         ("Filters", "Filters"), ("Activations", "Activations"), ("Step by step", "step by step"),
         ("Predict", "Predict"), ("Evaluation", "Evaluation"), ("Embedding map", "Embedding"), ("Models", "Models")]
IMAGE_PLACES = ["A folder the teacher shares", "Upload a .zip of class folders"]


@dataclass
class User:
    page: object
    key: str
    names: dict = field(default_factory=dict)  # what they made: {"model": ..., "upload": ..., "zip": ..., "class": ...}


_OPEN_PAGES: list = []  # every user's page, for the screenshots of a failed test


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    """One classroom server, with a folder the teacher shares (``shared/pets``)."""
    folder = tmp_path_factory.mktemp("classroom")
    shared = folder / "shared"
    for k, name in enumerate(CLASS_COLOURS):
        (shared / "pets" / name).mkdir(parents=True)
        for i in range(5):
            (shared / "pets" / name / f"{i}.png").write_bytes(photo_png(32, CLASS_COLOURS[name], 50 + 10 * k + i))
    server = AppServer(folder / "server", classroom=True, roots=[shared], teacher_key=TEACHER_KEY)
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield server
    server.stop()
    assert "Traceback" not in server.log_text(), server.log_text()[-3000:]


@pytest.fixture(scope="module")
def browser(playwright_instance):
    browser = playwright_instance.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


@pytest.fixture(autouse=True)
def screenshots_on_failure(request, artifacts):
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        for i, page in enumerate(_OPEN_PAGES):
            try:
                page.screenshot(path=str(artifacts / f"FAILED_{request.node.name}_{i}.png"), full_page=True)
            except Exception:  # a closed page: nothing to show
                pass


def new_page(browser):
    """A new browser context (another person's browser) and its page."""
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.set_default_timeout(60_000)
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    _OPEN_PAGES.append(page)
    return page


def assert_clean(page, where: str = "") -> None:
    assert not page.locator('[data-testid="stException"]').count(), (where, exceptions(page))
    assert page.errors == [], (where, page.errors)


def reads_of(names: dict, page) -> list[str]:
    """The names of ``names`` found in what ``page`` shows."""
    text = user_text(page)
    return [name for name in names.values() if name in text]


def visit(page, label: str, heading: str) -> None:
    go(page, label, heading)
    wait_drawn(page)
    assert_clean(page, label)


def class_name_boxes(page) -> list[str]:
    return [box.input_value() for box in page.locator(MAIN).locator('input[aria-label="Class name"]').all()]


def uploads_box(page):
    """The Data page's "Your uploads" select box (there only when the user has uploads)."""
    return page.locator(MAIN).locator('[data-testid="stSelectbox"]').filter(has_text="Your uploads")


def show_uploads(page) -> None:
    """On the Data page: the image-folder dataset, from a zip (where a user's own uploads are listed)."""
    pick(page, "Dataset", "Image folder")
    choose(page, "Upload a .zip of class folders")
    wait_drawn(page)


@pytest.fixture(scope="module")
def alice(classroom, browser, tmp_path_factory) -> User:
    """A on a new private link: a zip on Data, a trained model, a class with a photo, an uploaded .keras."""
    folder = tmp_path_factory.mktemp("alice")
    names = {"zip": f"alice_zip_{TAG}", "model": f"alice_model_{TAG}", "class": f"alice_class_{TAG}",
             "upload": f"alice_upload_{TAG}"}
    page = new_page(browser)
    key = open_link(page, classroom.link())
    assert key and len(key) >= 43, page.url
    # the sidebar shows the link to bookmark (drawn once its code block's element has loaded)
    page.locator(SIDEBAR).get_by_text(f"?ws={key}").first.wait_for()
    assert "Your private link" in page.locator(SIDEBAR).inner_text()

    visit(page, "Data", "Data")
    show_uploads(page)
    upload(page, "A .zip with one folder of images per class", class_zip(folder / f"{names['zip']}.zip"))
    wait_text(page, "Press Load dataset to use it.")
    assert_clean(page, "A's zip upload")
    act(page, page.locator(MAIN).get_by_role("button", name="Load dataset").click)
    page.wait_for_function("t => document.querySelector('[data-testid=\"stSidebar\"]').innerText.includes(t)",
                           arg=f"Folder: {names['zip']}", timeout=60_000)
    wait_drawn(page)
    assert_clean(page, "A's dataset")

    start_training(page, 3, names["model"])
    wait_text(page, f"{names['model']}: test accuracy", timeout=240)
    wait_idle(page)
    assert_clean(page, "A's training")

    go(page, "My classes", "My classes")
    box = page.locator(MAIN).locator('input[aria-label="Class name"]').first
    box.fill(names["class"])
    act(page, lambda: box.press("Enter"))
    upload(page, f"Add images to {names['class']}", photo_file(folder / "red.png"))
    wait_text(page, f"Added 1 image to {names['class']}.")
    assert_clean(page, "A's class")

    go(page, "Models", "Models")
    upload(page, "Model file (.keras)", keras_classifier(folder / f"{names['upload']}.keras"))
    wait_text(page, f"Added {names['upload']} to your models")
    assert_clean(page, "A's work")

    # The reading that must find nothing of A's on B's pages finds all of it on A's own.
    assert {names["model"], names["upload"]} <= set(reads_of(names, page)), user_text(page)[-2000:]
    assert names["model"] in " ".join(options(page, "Saved model")) and names["upload"] in " ".join(
        options(page, "Saved model"))
    go(page, "Data", "Data")
    show_uploads(page)
    assert names["zip"] in reads_of(names, page)
    go(page, "My classes", "My classes")
    assert names["class"] in reads_of(names, page)
    return User(page, key, names)


@pytest.fixture(scope="module")
def bob(classroom, browser) -> User:
    page = new_page(browser)
    return User(page, open_link(page, classroom.link()))


def test_b_sees_none_of_a_work_and_has_no_control_that_reaches_it(classroom, alice, bob):
    page = bob.page
    assert bob.key and bob.key != alice.key and len(bob.key) >= 43
    cross_user_reads = []
    for label, heading in PAGES:
        visit(page, label, heading)
        cross_user_reads += [(label, name) for name in reads_of(alice.names, page)]

        if label == "Models":
            assert "No saved models yet" in page.locator(MAIN).inner_text()
            assert options(page, "Saved model") == []  # nothing of A's to pick, so nothing to rename or delete
            for button in ("Load", "Rename", "Delete"):
                assert page.locator(MAIN).get_by_role("button", name=button, exact=True).first.is_disabled(), button
            assert page.locator(MAIN).get_by_label("New name").is_disabled()
            sidebar_models = options(page, "Model", area=SIDEBAR)
            assert len(sidebar_models) == len(shipped_ids()), sidebar_models  # the shipped models only
            assert all("(shipped" in label for label in sidebar_models), sidebar_models
            cross_user_reads += [("Models, pickers", name) for name in alice.names.values()
                                 if name in " ".join(sidebar_models)]
        if label == "Data":
            pick(page, "Dataset", "Image folder")
            wait_drawn(page)
            # no path to type: a folder the teacher shares, or a zip of one's own
            assert radio_options(page, "Images") == IMAGE_PLACES
            assert page.locator(MAIN).locator('[data-testid="stTextInput"]').count() == 0
            choose(page, "Upload a .zip of class folders")
            wait_drawn(page)
            assert uploads_box(page).count() == 0  # B has none; A's are not listed
            assert page.locator(MAIN).locator('[data-testid="stTextInput"]').count() == 0
            cross_user_reads += [("Data, zip", name) for name in reads_of(alice.names, page)]
            choose(page, "A folder the teacher shares")
            wait_drawn(page)
            assert options(page, "Folder with one sub-folder per class") == ["shared", "shared/pets"]
            for dataset in ("MNIST", "CIFAR-10"):
                pick(page, "Dataset", dataset)
                wait_drawn(page)
                # official files: only the teacher imports them; nobody types a folder of the server
                assert radio_options(page, "Source") == ["Download (once, then kept for every session)"]
                assert page.locator(MAIN).locator('[data-testid="stTextInput"]').count() == 0
                assert page.locator(MAIN).locator('[data-testid="stFileUploader"]').count() == 0
            assert_clean(page, "Data, every source")
        if label == "My classes":
            assert class_name_boxes(page) == ["Class 1", "Class 2"]
    assert cross_user_reads == [], cross_user_reads
    assert alice.names["model"] not in page.locator(SIDEBAR).inner_text()


@pytest.mark.parametrize("forged", ["workspace_folder", "short_guess", "cut_key"])
def test_a_forged_address_opens_an_empty_workspace_of_its_own(classroom, alice, browser, forged):
    from ui.identity import link_workspace

    value = {"workspace_folder": link_workspace(alice.key),  # the folder name of A's workspace on the server
             "short_guess": "alice", "cut_key": alice.key[:31]}[forged]
    page = new_page(browser)
    key = open_link(page, classroom.link(value))
    if forged == "workspace_folder":  # long enough to be a key: it is one, of a workspace of its own
        assert key == value and link_workspace(key) != link_workspace(alice.key)
    else:  # too short to be a key: a new key replaces it in the address
        assert key not in (value, alice.key) and len(key) >= 43, page.url
    reads = reads_of(alice.names, page)
    visit(page, "Models", "Models")
    assert options(page, "Saved model") == []
    reads += reads_of(alice.names, page)
    visit(page, "Data", "Data")
    show_uploads(page)
    assert uploads_box(page).count() == 0
    reads += reads_of(alice.names, page)
    visit(page, "My classes", "My classes")
    assert class_name_boxes(page) == ["Class 1", "Class 2"]
    reads += reads_of(alice.names, page)
    assert reads == []
    page.context.close()
    _OPEN_PAGES.remove(page)


def test_a_refresh_with_the_same_link_brings_a_work_back(alice):
    page = alice.page
    page.reload()
    page.wait_for_selector('[data-testid="stSidebarNav"]', timeout=120_000)
    wait_idle(page)
    wait_drawn(page)
    assert link_key(page) == alice.key
    assert_clean(page, "after the refresh")
    # A's trained model is still the current model, on A's dataset
    current = page.locator(SIDEBAR).locator('[data-testid="stSelectbox"]').first.locator("input").input_value()
    assert current.startswith(alice.names["model"]), current
    assert f"Folder: {alice.names['zip']}" in page.locator(SIDEBAR).inner_text()
    visit(page, "Data", "Data")
    show_uploads(page)
    assert uploads_box(page).first.locator("input").input_value() == alice.names["zip"]
    visit(page, "My classes", "My classes")
    assert alice.names["class"] in class_name_boxes(page)
    assert f"{alice.names['class']}: **1**" in page.locator(MAIN).inner_text() or \
        f"{alice.names['class']}: 1" in page.locator(MAIN).inner_text()
    visit(page, "Models", "Models")
    assert {alice.names["model"], alice.names["upload"]} <= set(reads_of(alice.names, page))


def test_the_teacher_publishes_and_b_loads_from_the_gallery(classroom, browser, alice, bob, tmp_path):
    name = f"teacher_model_{TAG}"
    teacher = new_page(browser)
    assert open_link(teacher, classroom.link(TEACHER_KEY)) == TEACHER_KEY
    teacher.locator(SIDEBAR).get_by_text("Your private link").click()  # (closed: not a new link)
    teacher.locator(SIDEBAR).get_by_text("You are the teacher.").wait_for()
    go(teacher, "Models", "Models")
    upload(teacher, "Model file (.keras)", keras_classifier(tmp_path / f"{name}.keras"))
    wait_text(teacher, f"Added {name} to your models")
    pick(teacher, "Saved model", name)
    act(teacher, teacher.locator(MAIN).get_by_role("button", name="Publish to the gallery").click)
    wait_text(teacher, f"Published {name} to the gallery")
    assert_clean(teacher, "publish")

    page = bob.page
    visit(page, "Models", "Models")
    assert not [b for b in ("Publish to the gallery", "Withdraw from the gallery")
                if page.get_by_role("button", name=b).count()]
    assert options(page, "Saved model") == []  # the teacher's own models stay the teacher's
    gallery = options(page, "Gallery model")
    assert len(gallery) == 1 and gallery[0].startswith(f"{name} · "), gallery
    pick(page, "Gallery model", name)
    act(page, page.locator(".st-key-models_gallery_load button").click)
    wait_text(page, f"Loaded {name}")
    current = page.locator(SIDEBAR).locator('[data-testid="stSelectbox"]').first.locator("input").input_value()
    assert current.startswith(name), current
    assert not alerts(page, ("Error",)), alerts(page)
    assert_clean(page, "gallery load")
    # B may use it: Predict draws with it
    visit(page, "Predict", "Predict")
    assert reads_of(alice.names, page) == []

    # A neither publishes nor withdraws
    visit(alice.page, "Models", "Models")
    assert not [b for b in ("Publish to the gallery", "Withdraw from the gallery")
                if alice.page.get_by_role("button", name=b).count()]
    assert name in " ".join(options(alice.page, "Gallery model"))

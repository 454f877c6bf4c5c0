"""The bad-input corpus through the real upload paths of the app, in Chromium.

Every file of ``files.bad_inputs`` (at least 25) is dropped on the uploader a user
would use: Predict's photo, the Data page's zip and official files, the Models
page's model file, My classes' photos. Each must get its clear message, with no
exception box, while the server keeps serving; nothing may be written outside the
app's data and models folders, and the model saved before the corpus must still
be listed and load afterwards.
"""

from __future__ import annotations

import json

import pytest

from browser import (MAIN, act, choose, clear_upload, exceptions, files_outside_data, go, health, main_text, open_app, select,
                     shot, upload, wait_text)
from files import bad_inputs


PAGE_OF = {"image": ("Predict", "Predict"), "zip": ("Data", "Data"), "model": ("Models", "Models"),
           "classes": ("My classes", "My classes"), "idx": ("Data", "Data")}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return bad_inputs(tmp_path_factory.mktemp("corpus"))


@pytest.fixture
def stored_model(app_server):
    """A model saved in the server's models folder before the corpus arrives."""
    import keras

    from core.storage.card import DatasetRef, ModelCard
    from core.storage.registry import ModelRegistry

    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    outputs = keras.layers.Dense(4, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    entry = ModelRegistry(app_server["models"]).save(keras.Model(inputs, outputs), ModelCard(
        name="kept_through_the_corpus", dataset=DatasetRef(name="shapes"), input_shape=(32, 32, 3),
        class_names=["circle", "square", "triangle", "star"]))
    return entry


def uploader_text(page, label: str) -> str:
    return page.locator('[data-testid="stFileUploader"]').filter(has_text=label).first.inner_text()


def open_target(page, target: str) -> str:
    """Go to the page and the uploader of ``target``; returns the uploader's label."""
    go(page, *PAGE_OF[target])
    if target == "image":
        choose(page, "Upload a photo")
        return "Photo"
    if target == "zip":
        select(page, "Dataset", "Image folder")
        choose(page, "Upload a .zip of class folders")
        return "A .zip with one folder of images per class"
    if target == "idx":
        select(page, "Dataset", "Fashion-MNIST")
        choose(page, "Upload the official files")
        return "The four official .gz files"
    if target == "classes":
        return "Add images to"
    return "Model file (.keras)"


def test_every_bad_input_gets_a_clear_message_and_nothing_is_lost(app_server, browser_page, corpus, stored_model,
                                                                   artifacts):
    from core.storage.registry import ModelRegistry

    assert len(corpus) >= 25
    page = browser_page
    open_app(page, app_server["url"])
    before = files_outside_data(app_server)
    report, target_now, label = [], None, ""
    for bad in corpus:
        if bad.target == "classes":
            continue  # uploaded together below
        if bad.target != target_now:
            label, target_now = open_target(page, bad.target), bad.target
        if bad.target == "idx":
            clear_upload(page, label)  # that uploader takes several files: one bad file at a time
        upload(page, label, str(bad.path), refused=bad.kind == "uploader")
        if bad.kind != "uploader":
            _wait_for(page, bad.expect)
        seen = uploader_text(page, label) if bad.kind == "uploader" else main_text(page)
        assert bad.expect in seen, (bad.path.name, seen[-1500:])
        if bad.kind == "error":  # this file's message, not the one before: it names the file
            assert bad.path.name in _message_line(seen, bad.expect), (bad.path.name, seen[-1500:])
        assert not exceptions(page), (bad.path.name, exceptions(page))
        assert health(app_server["url"]) == 200
        report.append({"file": bad.path.name, "what": bad.what, "where": PAGE_OF[bad.target][0], "shown": bad.kind,
                       "message": _message_line(seen, bad.expect)})
        if bad.target in ("image", "model"):
            shot(page, artifacts, f"bad_{bad.path.stem}")

    # several photos at once, two of them bad, into a class on My classes
    many = [b for b in corpus if b.target == "classes"]
    label = open_target(page, "classes")
    upload(page, label, [str(b.path) for b in many])
    text = main_text(page)
    for bad in many:
        if bad.kind == "error":
            assert bad.path.name in text, (bad.path.name, text[-1500:])
            report.append({"file": bad.path.name, "what": bad.what, "where": "My classes", "shown": "error",
                           "message": _message_line(text, bad.path.name)})
    assert "1 image" in text, text[-1500:]  # the good photo was added, the two bad ones were not
    assert not exceptions(page)
    shot(page, artifacts, "bad_class_photos")

    (artifacts / "bad_inputs.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))

    # the server still serves every page
    go(page, "Overview", "CNN Lab")
    assert not exceptions(page) and page.errors == []
    assert "Traceback" not in app_server["log"].read_text()
    after = files_outside_data(app_server)
    assert after == before, {k: (before.get(k), after.get(k)) for k in set(before) ^ set(after) | {
        k for k in before.keys() & after.keys() if before[k] != after[k]}}
    # nothing of the refused zips was kept: only the zip with some bad members left a folder
    kept = sorted(p.name for p in (app_server["data"] / "workspaces").glob("*/uploads/*")
                  if p.is_dir() and p.name != "my_classes")
    assert kept == ["some_bad_members"], kept
    # the model saved before is still listed and loads
    registry = ModelRegistry(app_server["models"])
    assert stored_model.id in [e.id for e in registry.list_entries()]
    model, card = registry.load(stored_model.id)
    assert card.name == "kept_through_the_corpus" and model.output_shape[-1] == 4
    # and the app loads it
    go(page, "Models", "Models")
    select(page, "Saved model", "kept_through_the_corpus")
    act(page, page.locator(MAIN).get_by_role("button", name="Load", exact=True).click)
    expected = f"Trained on shapes · input 32×32×3 · {model.count_params():,} parameters"
    try:  # the sidebar is drawn before the page: wait for it rather than read it once
        page.wait_for_function("t => document.querySelector('[data-testid=\"stSidebar\"]').innerText.includes(t)",
                               arg=expected, timeout=60_000, polling=200)
    except Exception:  # the assertion below shows what the sidebar says instead
        pass
    sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
    assert expected in sidebar, sidebar
    assert not exceptions(page) and page.errors == []


def _wait_for(page, text: str) -> None:
    try:
        wait_text(page, text, timeout=30)
    except Exception:  # the assertion that follows shows what the page said instead
        pass


def _message_line(text: str, piece: str) -> str:
    """The line of ``text`` that holds ``piece``: what the user read."""
    return next((line.strip() for line in text.splitlines() if piece in line), piece)

"""Renaming a saved model on the Models page, in Chromium: the new name shows at once, the choice stays, and
the download is named after the model.

AppTest reads a select box's value from the server's session state; the browser keeps the label it was last
told, and sends that label back with the next click. Only a real browser shows whether the two agree.
"""

from __future__ import annotations

import pytest

from browser import MAIN, act, exceptions, go, open_app, select


@pytest.fixture
def saved_model(app_server):
    import keras

    from core.storage.card import DatasetRef, ModelCard
    from core.storage.registry import ModelRegistry

    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    outputs = keras.layers.Dense(4, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    return ModelRegistry(app_server["models"]).save(keras.Model(inputs, outputs), ModelCard(
        name="before_the_rename", dataset=DatasetRef(name="shapes"), input_shape=(32, 32, 3),
        class_names=["circle", "square", "triangle", "star"]))


def picked_label(page) -> str:
    """What the "Saved model" box shows (its text field holds the chosen option's label)."""
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text="Saved model").first
    return box.locator('input[role="combobox"]').input_value()


def test_rename_shows_the_new_name_keeps_the_choice_and_names_the_download(app_server, browser_page, saved_model):
    page = browser_page
    open_app(page, app_server["url"])
    go(page, "Models", "Models")
    select(page, "Saved model", "before_the_rename")
    name_box = page.locator(MAIN).get_by_label("New name")
    name_box.fill("Shapes after the rename")
    act(page, lambda: name_box.press("Enter"))
    act(page, page.locator(MAIN).get_by_role("button", name="Rename", exact=True).click)
    assert "Renamed to Shapes after the rename" in page.locator(MAIN).inner_text()
    assert picked_label(page).startswith("Shapes after the rename · ")  # the id, after it, keeps the first name

    # the next click keeps the choice: the buttons that need one stay enabled
    act(page, page.locator(MAIN).get_by_text("Yes, delete this model for good").click)
    assert picked_label(page).startswith("Shapes after the rename · ")
    assert page.locator(MAIN).get_by_role("button", name="Load", exact=True).is_enabled()

    with page.expect_download() as download:
        page.locator(MAIN).get_by_role("button", name="Download .keras").click()
    assert download.value.suggested_filename == "shapes-after-the-rename.keras"
    assert not exceptions(page) and page.errors == []

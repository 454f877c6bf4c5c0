"""The augmentation chosen on the Data page is previewed there and used by the Train page's run."""

from __future__ import annotations

from apptest_helpers import open_page, open_view


def _in_use(at) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**In use:**"))


def test_data_page_previews_the_settings_and_the_train_page_trains_with_them():
    at = open_page("pages/data.py")
    at.selectbox(key="data_name").set_value("digits").run()
    open_view(at, "data_view", "Augmentation")
    images_before = len(at.get("imgs"))
    assert _in_use(at) == "**In use:** none"
    assert at.button(key="aug_redraw").disabled and at.button(key="aug_reset").disabled
    at.selectbox(key="aug_flip").set_value("horizontal").run()
    at.slider(key="aug_rotation").set_value(10).run()
    at.slider(key="aug_zoom").set_value(0.1).run()
    assert not at.exception and not at.error
    assert _in_use(at) == "**In use:** horizontal flip, rotation ±10°, zoom ±10%"
    assert len(at.get("imgs")) == images_before  # the same preview grids, now augmented
    at.button(key="aug_redraw").click().run()
    assert at.session_state["aug_seed"] == 1 and not at.exception

    at = open_page("pages/train.py", at)
    toggle = at.toggle(key="train_augment")
    assert toggle.value and not toggle.disabled
    assert "horizontal flip, rotation ±10°, zoom ±10%" in toggle.label
    at.radio(key="train_schedule").set_value("cosine").run()
    at.number_input(key="train_epochs").set_value(1).run()
    at.button(key="train_start").click().run()
    assert not at.exception
    job = at.session_state["job"]
    assert job.config.schedule == "cosine"
    assert job.config.augmentation == {"flip": "horizontal", "rotation_degrees": 10.0, "zoom": 0.1,
                                       "translation": 0.0, "brightness": 0.0, "contrast": 0.0}
    job.join(timeout=120)
    at.run()
    assert job.snapshot().state == "done"
    assert job.card.train_config["augmentation"]["flip"] == "horizontal"

    # back on the Data page (on the tab last open) the settings are still there; turning them off reaches the Train
    # page too
    at = open_page("pages/data.py", at)
    assert at.selectbox(key="aug_flip").value == "horizontal" and at.slider(key="aug_rotation").value == 10
    at.button(key="aug_reset").click().run()
    assert _in_use(at) == "**In use:** none"
    at = open_page("pages/train.py", at)
    assert at.toggle(key="train_augment").disabled


def test_augmentation_can_be_left_out_of_a_run_without_losing_the_settings():
    at = open_page("pages/data.py")
    at.selectbox(key="data_name").set_value("digits").run()
    open_view(at, "data_view", "Augmentation")
    at.slider(key="aug_translation").set_value(0.1).run()
    at = open_page("pages/train.py", at)
    at.toggle(key="train_augment").set_value(False).run()
    at.number_input(key="train_epochs").set_value(1).run()
    at.button(key="train_start").click().run()
    job = at.session_state["job"]
    assert job.config.augmentation is None and job.config.schedule == "constant"
    job.join(timeout=120)
    at = open_page("pages/data.py", at)
    assert at.slider(key="aug_translation").value == 0.1

"""The Train page's fast-recipe button (core.training.recipes) under AppTest.

It applies the recipe of the loaded dataset to every setting, and the run it starts trains with them.
"""

from __future__ import annotations

from core.data.augment import Augmentation
from core.training.recipes import RECIPES
from tiny_faces import tiny_faces


def test_train_page_applies_the_recipe_of_the_loaded_dataset(tmp_path):
    from apptest_helpers import load_folder, open_page, open_view

    tiny_faces(tmp_path)
    at = open_page("pages/train.py")
    assert not [b for b in at.button if b.key == "train_recipe"]  # no recipe for the shapes dataset
    at = load_folder(tmp_path / "tiny", at)
    at = open_page("pages/train.py", at)
    recipe = RECIPES["orl_faces"]
    assert any(m.value.startswith(f"**Fast recipe: {recipe.title}.**") and "For other photos it is a starting point"
               in m.value for m in at.markdown)
    # a few dozen photos: the settings start on batches of 8 (3 an epoch) for 34 epochs, 102 weight
    # updates, with no warning (the old fixed 5 epochs of 64 made 5)
    assert (at.number_input(key="train_epochs").value, at.select_slider(key="train_batch").value) == (34, 8)
    assert not [i for i in at.info if "changes the weights only" in i.value]
    at.number_input(key="train_epochs").set_value(2).run()  # chosen by hand: too few, and the page says so
    assert any("changes the weights only 6 times (3 batches an epoch × 2 epochs)" in i.value for i in at.info)
    assert at.text_input(key="train_name").value == "folder_small_cnn"  # the default preset's name
    at.select_slider(key="train_smoothing").set_value(0.3).run()  # the recipe sets it back to its own value
    at.select_slider(key="train_focus").set_value(0.5).run()  # and this, off for the faces
    at.button(key="train_recipe").click().run()
    assert not at.exception and not at.error
    assert at.selectbox(key="train_preset").value == "faces_fast"
    assert at.number_input(key="train_epochs").value == recipe.epochs
    assert at.select_slider(key="train_batch").value == recipe.batch_size
    assert at.select_slider(key="train_lr").value == recipe.learning_rate
    assert at.slider(key="train_val").value == 0.1  # photos the recipe was not tuned on: curves show overfitting
    assert at.radio(key="train_schedule").value == "cosine"
    assert at.select_slider(key="train_smoothing").value == recipe.label_smoothing
    assert at.select_slider(key="train_focus").value == recipe.focus == 0.0
    assert at.text_input(key="train_name").value == "folder_faces_fast"  # follows the recipe's preset
    # a name typed by hand stays, through another page too
    at.text_input(key="train_name").input("my faces").run()
    at = open_page("pages/train.py", open_page("pages/home.py", at))
    assert at.text_input(key="train_name").value == "my faces"
    toggle = at.toggle(key="train_augment")
    assert toggle.value and Augmentation.from_dict(recipe.augmentation).describe() in toggle.label
    at.number_input(key="train_epochs").set_value(3).run()
    at.select_slider(key="train_focus").set_value(0.5).run()
    at.button(key="train_start").click().run()
    job = at.session_state["job"]
    assert job.config.schedule == "cosine" and job.config.augmentation == recipe.augmentation | {
        "flip": "none", "contrast": 0.0}
    assert job.config.focus == 0.5
    job.join(timeout=120)
    assert job.snapshot().state == "done"
    # 18 photos after the validation tenth: every one in the first 2 epochs, then the hardest 9 and 1 of the other 9
    assert job.result["epoch_images"] == [18, 18, 10]
    at.run()
    bars = [e.proto.text for e in at.get("progress")]
    assert any("epoch 3/3" in t and "hard-image focus: 10 of 18 images this epoch" in t for t in bars), bars
    # the Data page shows the recipe's augmentation: its widgets hold the recipe's settings (the rotation in whole
    # degrees). Read here, where the page draws them: a run that does not draw a widget leaves its key out of the state.
    at = open_view(open_page("pages/data.py", at), "data_view", "Augmentation")
    assert at.slider(key="aug_rotation").value == 5 and at.slider(key="aug_brightness").value == 0.1
    ss = at.session_state
    chosen = Augmentation(flip=ss["aug_flip"], rotation_degrees=float(ss["aug_rotation"]), zoom=ss["aug_zoom"],
                          translation=ss["aug_translation"], brightness=ss["aug_brightness"],
                          contrast=ss["aug_contrast"])
    assert chosen == Augmentation.from_dict(recipe.augmentation)



def test_a_folder_of_colour_photos_gets_the_photo_recipe_with_an_estimate(tmp_path):
    from apptest_helpers import load_folder, open_page
    from class_photos import KINDS, photo

    for kind in KINDS[:2]:
        (tmp_path / "mine" / kind).mkdir(parents=True)
        for i in range(8):
            (tmp_path / "mine" / kind / f"{i}.jpg").write_bytes(photo(kind, seed=i))
    at = load_folder(tmp_path / "mine")
    at = open_page("pages/train.py", at)
    recipe = RECIPES["cats_vs_dogs"]
    line = next(m.value for m in at.markdown if m.value.startswith(f"**Fast recipe: {recipe.title}.**"))
    assert "Tuned on the Cats vs Dogs photos" in line and "For other photos it is a starting point" in line
    assert "training should take about" in line and "(an estimate: " in line
    at.button(key="train_recipe").click().run()
    assert not at.exception and not at.error
    assert at.selectbox(key="train_preset").value == recipe.preset
    assert (at.number_input(key="train_epochs").value, at.select_slider(key="train_batch").value) == \
        (recipe.epochs, recipe.batch_size)
    assert at.slider(key="train_val").value == 0.1
    assert Augmentation.from_dict(recipe.augmentation).describe() in at.toggle(key="train_augment").label

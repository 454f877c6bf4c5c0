"""One model and one dataset in view: a model is never scored or explained on a dataset it was not made for."""

from __future__ import annotations

import numpy as np
from PIL import Image

from apptest_helpers import open_page
from core.data import load_dataset
from core.models.architecture import build_model
from core.storage.card import DatasetRef, ModelCard
from training_models import TINY_SPEC
from ui.workspace import personal_user, workspace_for


def pets_folder(root):
    rng = np.random.default_rng(0)
    for c, name in enumerate(("cats", "dogs")):
        (root / name).mkdir(parents=True)
        for i in range(10):
            pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) // (2 - c)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return {"path": str(root), "image_size": 32}


def add_current(name: str, classes: list[str], shape: tuple, dataset: DatasetRef | None, face: bool = False):
    """A model of ``classes`` for ``shape`` images, made the workspace's current model."""
    ws = workspace_for(personal_user())
    model = build_model(TINY_SPEC, shape, len(classes), seed=0)
    card = ModelCard(name=name, class_names=classes, input_shape=shape, dataset=dataset,
                     face_margin=0.2 if face else None)
    entry = ws.add_model(model, card)
    ws.set_current(entry.id)
    return entry


def texts(at) -> str:
    return " ".join(e.value for kind in (at.caption, at.info, at.warning, at.markdown) for e in kind)


def test_a_faces_model_is_not_scored_on_a_dataset_of_the_same_shape(tmp_path):
    options = pets_folder(tmp_path / "pets")
    at = open_page("pages/data.py")
    at.selectbox(key="data_name").set_value("folder").run()
    at.text_input(key="data_path").input(options["path"]).run()
    at.select_slider(key="data_size").set_value(32).run()
    at.button(key="data_load").click().run()
    assert at.session_state["dataset"]["name"] == "folder"
    add_current("faces_me_friend", ["Me", "Friend"], (32, 32, 3), DatasetRef("faces", "Enrolled faces"), face=True)

    for page in ("pages/evaluation.py", "pages/embedding.py"):
        at = open_page(page, at)
        assert not at.exception
        warning = " ".join(w.value for w in at.warning)
        assert "faces_me_friend" in warning and "was not made for" in warning
        assert "Me, Friend" in warning and "cats, dogs" in warning and "Who am I?" in warning
        assert not at.metric and not at.get("plotly_chart")  # nothing scored
    # a model made for the pets is offered instead
    pets = add_current("pets_model", ["cats", "dogs"], (32, 32, 3), DatasetRef("folder", "pets", options))
    faces = next(e for e in at.session_state["models"].values() if e.name == "faces_me_friend")
    workspace_for(personal_user()).set_current(faces.id)
    at = open_page("pages/evaluation.py", at)
    at.button(key=f"eval_use_{pets.id}").click().run()
    assert at.session_state["current_model"] == pets.id
    assert {m.label for m in at.metric} >= {"Test accuracy", "Test images"}
    assert "Test images **Folder: pets**" in texts(at)


def test_a_model_is_shown_on_its_own_dataset_and_the_page_says_so():
    digits = load_dataset("digits")
    add_current("digits_model", list(digits.class_names), digits.input_shape, DatasetRef("digits", digits.title))
    at = open_page("pages/evaluation.py")  # the Data page still has Shapes
    assert at.session_state["dataset"]["name"] == "shapes"
    info = " ".join(i.value for i in at.info)
    assert "digits_model" in info and f"**{digits.title}**, the dataset it was trained on" in info
    assert {m.label: m.value for m in at.metric}["Test images"] == f"{len(digits.x_test):,}"
    at.button(key="eval_use_own").click().run()
    assert at.session_state["dataset"]["name"] == "digits"
    assert not at.info or "trained on" not in " ".join(i.value for i in at.info)
    assert f"Test images **{digits.title}**" in texts(at)

"""Transfer learning on the Train page (AppTest): start from the shipped photo model, see what is frozen, train,
fine-tune, and the bad inputs: grey photos, fine-tuning that cannot start."""

from __future__ import annotations

import numpy as np

from apptest_helpers import load_folder, markdown_rows, open_page, train_to_end
from class_photos import photo
from core.models.backbones import BACKBONES


def photo_folder(root, per_class: int = 8):
    for kind in ("china", "flower"):
        (root / kind).mkdir(parents=True)
        for i in range(per_class):
            (root / kind / f"{i}.jpg").write_bytes(photo(kind, i))
    return root


def start_from_backbone(at):
    at.radio(key="train_start_from").set_value("backbone").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_new_layer_on_the_photo_models_frozen_features_trains_and_the_frozen_layers_stay(tmp_path):
    at = load_folder(photo_folder(tmp_path / "photos"))
    at = open_page("pages/train.py", at)  # first from random weights, to compare with
    at.number_input(key="train_epochs").set_value(2).run()
    at.text_input(key="train_name").input("photos_scratch").run()
    train_to_end(at, "train_start")
    at = start_from_backbone(at)
    rows = markdown_rows(at, "layer")
    by_name = {r["layer"]: r for r in rows}
    assert by_name["resize"]["output shape"] == "(32, 32, 3)"  # 64x64 photos, resized inside the network
    assert "frozen" in by_name["conv1"]["training"] and by_name["predictions"]["training"] == "trains"
    caption = " ".join(c.value for c in at.caption)
    assert "514 trainable parameters (the new layer)" in caption  # 256 features x 2 classes + 2
    # fine-tune the last block after 2 epochs of the new layer alone
    at.number_input(key="train_epochs").set_value(3).run()
    at.select_slider(key="train_fine_blocks").set_value(1).run()
    at.number_input(key="train_fine_from").set_value(2).run()
    rows = {r["layer"]: r for r in markdown_rows(at, "layer")}
    assert rows["conv4_2"]["training"].endswith("trains from epoch 3") and rows["bn4_2"]["training"].endswith("frozen")
    assert "frozen" in rows["conv3_2"]["training"] and "from epoch" not in rows["conv3_2"]["training"]
    at.select_slider(key="train_lr").set_value(1e-3).run()
    train_to_end(at, "train_start")
    assert any("Dotted: **photos_scratch, from random weights**, trained on the same images" in c.value
               for c in at.caption)
    loss_chart = [c for c in at.get("plotly_chart") if "photos_scratch" in c.proto.spec]
    assert loss_chart, "the scratch run's curves are drawn with the transfer run's"
    entry = at.session_state["models"][at.session_state["current_model"]]
    model, card = entry.model, entry.card
    transfer = card.extra["transfer"]
    assert transfer["backbone"] == "photo_cifar10" and transfer["fine_tune_blocks"] == 1 and transfer["blocks"] == 4
    assert card.train_config["fine_tune_from"] == 2 and len(card.history["loss"]) == 3
    backbone = BACKBONES["photo_cifar10"].load()
    for name in ("conv1", "bn1", "conv3_2", "bn4_2"):  # frozen all run: as in the backbone
        assert all(np.array_equal(a, b) for a, b in zip(model.get_layer(name).get_weights(),
                                                        backbone.get_layer(name).get_weights())), name
    assert not np.array_equal(model.get_layer("conv4_2").get_weights()[0], backbone.get_layer("conv4_2").get_weights()[0])
    # the Filters page checks the frozen layers against the backbone itself
    at = open_page("pages/filters.py", at)
    at.selectbox(key="filters_layer").set_value("conv1").run()
    assert any("Frozen: these are the CNN Lab photo model (CIFAR-10)'s filters, unchanged" in s.value and
               "difference from its own: 0)" in s.value for s in at.success)
    at.selectbox(key="filters_layer").set_value("conv4_2").run()
    assert any("Fine-tuned: these filters started as" in i.value for i in at.info)
    for page in ("pages/filters.py", "pages/activations.py", "pages/arithmetic.py", "pages/evaluation.py",
                 "pages/embedding.py", "pages/predict.py"):
        at = open_page(page, at)
        assert not at.exception and not at.error, (page, [e.value for e in at.exception], [e.value for e in at.error])


def test_grey_digits_are_refused_until_converted_and_fine_tuning_must_fit_the_run():
    at = open_page("pages/data.py")
    at.selectbox(key="data_name").set_value("digits").run()
    at = start_from_backbone(open_page("pages/train.py", at))
    assert any("needs colour photos of 32×32 (3 channels); these are grey (1 channel)" in w.value for w in at.warning)
    assert at.button(key="train_start").disabled
    at.toggle(key="train_grey").set_value(True).run()
    rows = {r["layer"]: r for r in markdown_rows(at, "layer")}
    assert rows["grey_to_colour"]["output shape"] == "(8, 8, 3)" and rows["resize"]["output shape"] == "(32, 32, 3)"
    assert not at.button(key="train_start").disabled
    # fine-tuning after more epochs than the run has: said, and Train stays off
    at.number_input(key="train_epochs").set_value(3).run()
    at.select_slider(key="train_fine_blocks").set_value(2).run()
    at.number_input(key="train_fine_from").set_value(5).run()
    assert any("the run has 3 epochs" in w.value for w in at.warning)
    assert at.button(key="train_start").disabled

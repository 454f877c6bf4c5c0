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


def test_my_classes_trained_from_the_photo_model_beside_the_small_cnn():
    from apptest_helpers import widget_by_prefix

    at = open_page("pages/classes.py")
    for name, kind in (("Class 1", "china"), ("Class 2", "flower")):
        cid = at.session_state["classes_ids"][name]
        files = [(f"{kind}{i}.jpg", photo(kind, i), "image/jpeg") for i in range(6)]
        widget_by_prefix(at.file_uploader, f"cls_up_{cid}_").set_value(files).run()
    at.number_input(key="cls_epochs").set_value(3).run()
    assert at.radio(key="cls_start_from").value == "scratch"
    train_to_end(at, "cls_train")  # the Small CNN from random weights first
    scratch = at.session_state["models"][at.session_state["current_model"]]

    at.radio(key="cls_start_from").set_value("backbone").run()
    assert not at.exception, [e.value for e in at.exception]
    rows = {r["layer"]: r for r in markdown_rows(at, "layer")}  # in the folded table
    assert rows["resize"]["output shape"] == "(32, 32, 3)" and "frozen" in rows["conv1"]["training"]
    assert any("a new softmax layer on the backbone's features" in c.value for c in at.caption)
    at.select_slider(key="cls_fine_blocks").set_value(1).run()
    at.number_input(key="cls_fine_from").set_value(2).run()
    job = train_to_end(at, "cls_train")
    entry = at.session_state["models"][at.session_state["current_model"]]
    assert entry is not scratch and entry.card.extra["transfer"]["backbone"] == "photo_cifar10"
    assert entry.card.train_config["fine_tune_from"] == 2 and entry.card.extra["transfer"]["fine_tune_blocks"] == 1
    # unchanged classes: both runs trained on the same copy of them, so they are compared
    assert entry.card.dataset.options == scratch.card.dataset.options
    line = next(m.value for m in at.markdown if m.value.startswith("Held-out images right:"))
    assert (f"**{job.result['test_accuracy']:.0%}** for this run, from CNN Lab photo model" in line
            and f"**{scratch.card.metrics.test_accuracy:.0%}** for my_classes, from random weights" in line), line
    assert any("Dotted: **my_classes, from random weights**" in c.value for c in at.caption)
    backbone = BACKBONES["photo_cifar10"].load()
    assert all(np.array_equal(a, b) for a, b in zip(entry.model.get_layer("conv2_1").get_weights(),
                                                    backbone.get_layer("conv2_1").get_weights()))

    # a class changed: a new copy, and the old run is no longer on the same images
    cid = at.session_state["classes_ids"]["Class 1"]
    widget_by_prefix(at.file_uploader, f"cls_up_{cid}_").set_value([("more.jpg", photo("china", 7), "image/jpeg")]).run()
    at.select_slider(key="cls_fine_blocks").set_value(0).run()
    train_to_end(at, "cls_train")
    newest = at.session_state["models"][at.session_state["current_model"]]
    assert newest.card.dataset.options["path"] != entry.card.dataset.options["path"]
    assert not any(m.value.startswith("Held-out images right:") for m in at.markdown)


def test_who_am_i_from_the_photo_model_stays_private_recognises_and_is_compared():
    from apptest_helpers import workspace_of
    from face_photos import snapshot, snapshot_array

    at = open_page("pages/faces.py")
    gallery = workspace_of(at).face_gallery
    gallery.remove_identity("Me")
    for name, person in (("Eileen", "astronaut"), ("Sam", "cameraman")):
        gallery.add_identity(name)
        for seed in range(6):
            gallery.enrol(name, snapshot_array(person, seed))
    at.run()
    train_to_end(at, "face_train", timeout=180)  # the faces recipe's CNN first
    scratch = workspace_of(at).page_model("faces")

    at.radio(key="face_start_from").set_value("backbone").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("on the ORL faces it does worse than the faces recipe's CNN" in c.value for c in at.caption)
    rows = {r["layer"]: r for r in markdown_rows(at, "layer")}
    assert rows["resize"]["output shape"] == "(32, 32, 3)" and "frozen" in rows["conv1"]["training"]
    job = train_to_end(at, "face_train", timeout=180)
    entry = workspace_of(at).page_model("faces")
    assert entry is not scratch and entry.card.private and not entry.saved_id
    assert entry.card.extra["transfer"]["backbone"] == "photo_cifar10" and entry.card.face_margin == gallery.margin
    assert entry.card.face_reference is not None and entry.card.face_reference.class_names == ["Eileen", "Sam"]
    line = next(m.value for m in at.markdown if m.value.startswith("Held-out images right:"))
    assert f"**{job.result['test_accuracy']:.0%}** for this run, from CNN Lab photo model" in line, line
    assert "from random weights" in line
    # it recognises through the same pipeline: detect, align, name, compare with the enrolled faces
    at.camera_input(key="face_try_camera").set_value(("live.jpg", snapshot("astronaut", 50), "image/jpeg")).run()
    assert not at.exception and not at.error
    assert len([m for m in at.metric if m.label == "5 · Answer"]) == 1
    assert any(c.value.startswith("Distance ") for c in at.caption)

"""Evaluation and Embedding of an ImageNet network on a folder of the user's photos, under AppTest.

MobileNetV3Small from a weights file made here (tests/imagenet_files.py), a small folder whose
classes are "cat", "dog" and "spaceship_xyz": the first two are matched to ImageNet's house cats
and dog breeds, the third to nothing and left out. The accuracy the page shows is checked
against the network's own outputs on the images, resized here without the code under test.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from apptest_helpers import load_folder, open_page, plotly_array, workspace_of
from core.models.imagenet import NETWORKS, feature_layer
from core.models.imagenet_weights import weights_path
from download_fixtures import closed_port_url, offline_cache
from imagenet_files import trust, weights_file

SMALL = NETWORKS["mobilenet_v3_small"]
CLASSES = ("cat", "dog", "spaceship_xyz")


@pytest.fixture(autouse=True)
def network_ready(tmp_path, monkeypatch):
    offline_cache(tmp_path, monkeypatch)
    monkeypatch.delenv("CNNLAB_WEIGHTS_CHECKSUMS", raising=False)
    monkeypatch.setenv("CNNLAB_WEIGHTS_MIRROR", closed_port_url())  # never Keras's own address
    from core.models import imagenet_weights

    monkeypatch.setattr(imagenet_weights, "_LOADED", {})
    trust(weights_file(SMALL, weights_path(SMALL).parent), SMALL, tmp_path, monkeypatch)


def photo_folder(root, classes=CLASSES, train=2, test=4):
    """``root/train/<class>/`` and ``root/test/<class>/`` of small random photos, each class its own tint."""
    rng = np.random.default_rng(0)
    for c, name in enumerate(classes):
        for split, n in (("train", train), ("test", test)):
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                pixels = rng.integers(0, 256, (24, 24, 3)) * (1 + np.eye(3)[c % 3]) / 2
                Image.fromarray(pixels.astype(np.uint8)).save(root / split / name / f"{i}.png")
    return root


def with_network(at):
    ws = workspace_of(at)
    entry = ws.add_network(SMALL.key)
    ws.set_current(entry.id)
    return entry


def by_hand(model, x):
    """The network's probabilities for images of the dataset, made 224×224 colour here."""
    import tensorflow as tf

    x = np.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x
    return np.asarray(model(tf.image.resize(x, (224, 224), method="bilinear"), training=False), np.float64)


def test_evaluation_scores_the_matched_classes_and_embedding_maps_the_pooled_features(tmp_path):
    from core.data import load_dataset

    at = load_folder(photo_folder(tmp_path / "photos"))
    entry = with_network(at)
    at = open_page("pages/evaluation.py", at)
    assert not at.exception and not at.error, [e.value for e in at.exception] + [e.value for e in at.error]
    captions = " ".join(c.value for c in at.caption)
    assert "resized from 64×64 to 224×224" in captions and "mapping of their class names" in captions

    table = next(d.value for d in at.dataframe if "your class" in d.value.columns).set_index("your class")
    assert list(table.index) == list(CLASSES)
    assert table.loc["spaceship_xyz", "ImageNet classes"] == "no match"
    assert table.loc["spaceship_xyz", "scored"] == "no: left out"
    assert table.loc["cat", "how many"] == "5" and table.loc["dog", "how many"] == "118"
    assert table.loc["cat", "ImageNet classes"].startswith("tabby, tiger cat")
    assert "Left out, with no ImageNet class: spaceship_xyz" in captions

    dataset = load_dataset("folder", at.session_state["dataset"]["options"])
    keep = np.flatnonzero(dataset.y_test != 2)
    probs = by_hand(entry.model, dataset.x_test[keep])
    cats, dogs = probs[:, 281:286].sum(axis=1), probs[:, 151:269].sum(axis=1)
    predicted = (dogs > cats).astype(int)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Accuracy over the matched classes"] == f"{np.mean(predicted == dataset.y_test[keep]):.1%}"
    assert metrics["Images scored"] == "8"
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    assert chart["x"] == ["cat", "dog"]
    expected = np.zeros((2, 2), int)
    np.add.at(expected, (dataset.y_test[keep], predicted), 1)
    assert plotly_array(chart["z"]).reshape(2, 2).tolist() == expected.tolist()

    at = open_page("pages/embedding.py", at)
    assert not at.exception and not at.error, [e.value for e in at.exception] + [e.value for e in at.error]
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [trace["name"] for trace in figure["data"]] == [*CLASSES, "your image"]
    assert sum(len(plotly_array(t["x"])) for t in figure["data"] if t["name"] != "your image") == 12
    captions = " ".join(c.value for c in at.caption)
    assert feature_layer(entry.model) in captions and "pooled features" in captions
    assert "each dot coloured by its own label" in captions
    assert any("nearest images of the map" in m.value for m in at.markdown)


def test_a_dataset_with_no_imagenet_name_says_which_names_were_tried(tmp_path):
    at = load_folder(photo_folder(tmp_path / "codes", classes=("alpha_xyz", "beta_xyz"), train=1, test=1))
    with_network(at)
    at = open_page("pages/evaluation.py", at)
    assert not at.exception and not at.error and not at.metric, [e.value for e in at.exception]
    warning = " ".join(w.value for w in at.warning)
    assert "“alpha_xyz”, “beta_xyz”" in warning and "“tabby”, “golden retriever”" in warning
    at = open_page("pages/predict.py", at)  # the other pages show a network photos, not the chosen dataset
    assert not at.exception and "sample" not in at.radio(key="pred_source").options
    assert any("Evaluation and Embedding show it the dataset" in c.value for c in at.caption)

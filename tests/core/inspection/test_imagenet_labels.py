"""A dataset's class names matched to ImageNet's classes, and the user's classes scored from a network's outputs."""

from __future__ import annotations

import numpy as np
import pytest

from core.inspection.imagenet_labels import (GROUPS, MAX_IMAGES, grouped_predictions, image_limit, map_labels,
                                             mapping_rows, network_batches, no_match_message, normalize, spread)
from core.models.imagenet import NETWORKS, imagenet_class_names


def names_of(indices):
    names = imagenet_class_names()
    return [names[i] for i in indices]


def test_a_short_name_or_any_other_name_matches_whatever_the_case_and_separators():
    mapping = map_labels(["tabby", "Tabby_Cat", "golden-retriever", "GOLDEN RETRIEVER", "Shih_Tzu", "coffee mug",
                          "crane (bird)", "crane"])
    assert names_of(mapping["tabby"]) == names_of(mapping["Tabby_Cat"]) == ["tabby"]  # "tabby cat" is a lemma of 281
    assert names_of(mapping["golden-retriever"]) == names_of(mapping["GOLDEN RETRIEVER"]) == ["golden retriever"]
    assert names_of(mapping["Shih_Tzu"]) == ["Shih-Tzu"] and names_of(mapping["coffee mug"]) == ["coffee mug"]
    assert names_of(mapping["crane (bird)"]) == ["crane (bird)"]
    assert names_of(mapping["crane"]) == ["crane (bird)", "crane (machine)"]  # one lemma, two classes
    assert normalize("  Shih--Tzu_ ") == "shih tzu"


def test_simple_plurals_match_their_singular():
    mapping = map_labels(["golden retrievers", "tabbies", "boxers", "cats", "puppies", "horses", "spaceships"])
    assert names_of(mapping["golden retrievers"]) == ["golden retriever"]
    assert names_of(mapping["tabbies"]) == ["tabby"] and names_of(mapping["boxers"]) == ["boxer"]
    assert mapping["cats"] == list(range(281, 286)) and mapping["puppies"] == list(range(151, 269))
    assert names_of(mapping["horses"]) == ["sorrel"] and mapping["spaceships"] == []


def test_the_dog_and_cat_groups_are_the_breeds_and_the_house_cats():
    names = imagenet_class_names()
    assert GROUPS["dog"] == tuple(range(151, 269)) and len(GROUPS["dog"]) == 118
    assert (names[150], names[151], names[268], names[269]) == ("sea lion", "Chihuahua", "Mexican hairless",
                                                                 "timber wolf")
    assert GROUPS["cat"] == tuple(range(281, 286))
    assert (names[280], names[281], names[285], names[286]) == ("grey fox", "tabby", "Egyptian cat", "cougar")
    mapping = map_labels(["dog", "Dogs", "cat", "CATS", "kitten"])
    assert mapping["dog"] == mapping["Dogs"] == list(range(151, 269))
    assert mapping["cat"] == mapping["CATS"] == mapping["kitten"] == list(range(281, 286))


def test_the_other_groups_hold_what_their_names_say():
    names = imagenet_class_names()
    bird = [names[i] for i in GROUPS["bird"]]
    assert bird[:2] == ["cock", "hen"] and "great grey owl" in bird and "black swan" in bird and bird[-1] == "albatross"
    assert names[6] == "stingray" and names[25] == "European fire salamander" and names[101] == "tusker"
    assert names[126] == "isopod" and names[147] == "grey whale"  # just outside the three runs of birds
    assert names_of(GROUPS["frog"]) == ["bullfrog", "tree frog", "tailed frog"]
    assert names_of(GROUPS["airplane"]) == ["airliner", "warplane"]
    assert {"sports car", "convertible", "cab", "jeep"} <= set(names_of(GROUPS["car"]))
    assert {"trailer truck", "tow truck", "garbage truck"} <= set(names_of(GROUPS["truck"]))
    assert {"container ship", "liner", "speedboat", "schooner"} <= set(names_of(GROUPS["ship"]))
    assert names_of(GROUPS["horse"]) == ["sorrel"]
    assert (names[52], names[68]) == ("thunder snake", "sidewinder")
    assert names_of(GROUPS["bear"]) == ["brown bear", "American black bear", "ice bear", "sloth bear"]
    assert (names[370], names[382]) == ("guenon", "squirrel monkey")
    # "plane" alone is the carpenter's tool in ImageNet; as a class of photos it means an airplane
    assert map_labels(["plane"])["plane"] == list(GROUPS["airplane"])
    cifar = map_labels(["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"])
    assert [name for name, ix in cifar.items() if not ix] == ["deer"]  # ImageNet has no deer


def test_a_name_without_a_match_maps_to_nothing_and_the_message_names_it():
    mapping = map_labels(["0", "1", "spaceship_xyz", ""])
    assert mapping == {"0": [], "1": [], "spaceship_xyz": [], "": []}
    message = no_match_message(["0", "1", "spaceship_xyz"])
    assert "“spaceship_xyz”" in message and "“tabby”" in message and "golden retriever" in message
    with pytest.raises(ValueError, match="Expected a list of class names. Received: the string"):
        map_labels("cat")
    rows = mapping_rows(map_labels(["cat", "dog", "spaceship_xyz"]), shown=3)
    assert rows[0] == {"your class": "cat", "ImageNet classes": "tabby, tiger cat, Persian cat … and 2 more",
                       "how many": "5", "scored": "yes"}
    assert rows[1]["how many"] == "118" and rows[2]["ImageNet classes"] == "no match"
    assert rows[2]["scored"] == "no: left out"


def test_grouped_predictions_sum_each_class_s_probabilities_and_choose_among_the_mapped_ones():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(7, 1000))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    probs[3] = 0.0
    probs[3, 500] = 1.0  # all its weight on a class no user class has: the mapped classes all score 0
    mapping = {"cat": list(range(281, 286)), "spaceship_xyz": [], "dog": list(range(151, 269)), "tabby": [281]}
    pred, grouped = grouped_predictions(probs, mapping)

    reference = np.zeros((7, 4))
    for i in range(7):
        reference[i, 0] = sum(probs[i, j] for j in range(281, 286))
        reference[i, 2] = sum(probs[i, j] for j in range(151, 269))
        reference[i, 3] = probs[i, 281]
    np.testing.assert_allclose(grouped, reference, rtol=1e-12)
    expected = [max((0, 2, 3), key=lambda j: (reference[i, j], -j)) for i in range(7)]
    assert pred.tolist() == expected and 1 not in pred.tolist()
    assert pred[3] == 0  # a tie at 0 goes to the first mapped class, never to the unmapped one
    with pytest.raises(ValueError, match=r"Expected ImageNet probabilities of shape \(n, 1000\). Received: shape"):
        grouped_predictions(probs[:, :10], mapping)
    with pytest.raises(ValueError, match="Expected at least one class that maps"):
        grouped_predictions(probs, {"spaceship_xyz": []})


def test_network_batches_make_224_colour_images_a_batch_at_a_time():
    grey = np.linspace(0, 1, 5 * 8 * 8).reshape(5, 8, 8, 1).astype(np.float32)
    batches = list(network_batches(grey, batch_size=2))
    assert [b.shape for b in batches] == [(2, 224, 224, 3), (2, 224, 224, 3), (1, 224, 224, 3)]
    first = batches[0]
    assert first.dtype == np.float32 and 0.0 <= first.min() and first.max() <= 1.0
    np.testing.assert_array_equal(first[..., 0], first[..., 2])  # grey: red, green and blue alike
    # enlarged 28 times, the mean brightness stays the original image's
    np.testing.assert_allclose(first[0].mean(), grey[0].mean(), atol=0.01)
    same = next(network_batches(np.full((1, 224, 224, 3), 0.25, np.float32)))
    np.testing.assert_array_equal(same, 0.25)
    with pytest.raises(ValueError, match=r"Expected images of shape \(N, height, width, 1 or 3\). Received: shape=\(8"):
        next(network_batches(np.zeros((8, 8))))


def test_spread_keeps_at_most_the_limit_evenly_and_heavier_networks_get_fewer_images():
    assert spread(np.arange(10), 20).tolist() == list(range(10))
    assert spread(np.arange(1000), 5).tolist() == [0, 250, 500, 749, 999]
    lightest_first = ("mobilenet_v3_small", "efficientnet_b0", "mobilenet_v2", "resnet50", "vgg16")
    limits = [image_limit(key) for key in lightest_first]
    assert limits == sorted(limits, reverse=True) and limits[0] == MAX_IMAGES == 500 and limits[-1] >= 50
    assert set(NETWORKS) == set(lightest_first)


def test_the_cats_and_dogs_folder_maps_to_the_house_cats_and_the_dog_breeds(shared_datasets):
    from core.data.folder import load_folder

    folder = shared_datasets / "cats_vs_dogs" / "training_set"
    if not folder.is_dir():
        pytest.skip("../shared/datasets/cats_vs_dogs is not on this machine")
    dataset = load_folder(str(folder), image_size=8)
    assert dataset.class_names == ["cats", "dogs"]
    mapping = map_labels(dataset.class_names)
    assert mapping == {"cats": list(range(281, 286)), "dogs": list(range(151, 269))}

"""A dataset of the user's shown to an ImageNet network: class names matched to ImageNet's, images made 224×224.

A network answers with ImageNet's 1,000 classes, a folder of photos has classes of its own
("cats", "dogs", "spaceship"). ``map_labels`` says which ImageNet classes each of those names
means, by name: a short name or any other name of a class ("tabby cat"), any case, ``_``, ``-`` and
spaces alike, a simple plural ("cats"), and a few well-known groups ImageNet splits finely ("dog":
its 118 breeds). ``grouped_predictions`` then scores each user class by the probability the
network gives its ImageNet classes together, so "dog" wins when the network sees any breed.

    >>> mapping = map_labels(["cats", "dogs", "spaceship"])
    >>> mapping["cats"], len(mapping["dogs"]), mapping["spaceship"]
    ([281, 282, 283, 284, 285], 118, [])

``network_batches`` turns the dataset's small images into the network's input a batch at a time:
10,000 images at 224×224×3 in float32 would take 6 GB at once.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterator

import numpy as np

from core.models.imagenet import INPUT_SHAPE, imagenet_classes

MAX_IMAGES = 500  # images a page shows a network at most: about 15 s through MobileNetV3Small on 2 CPU cores
# The heavier networks get fewer, for about the same wait: per image on 2 cores, EfficientNetB0 takes about 1.2
# times MobileNetV3Small's time, MobileNetV2 2.4 times, ResNet50 4.5 times and VGG16 6.6 times.
NETWORK_IMAGES = {"mobilenet_v3_small": 500, "efficientnet_b0": 400, "mobilenet_v2": 200, "resnet50": 120,
                  "vgg16": 80}

# Groups a class name means that no single ImageNet class does: "dog" is 118 breeds, "cat" 5 domestic cats
# (not 286 cougar onwards: the big cats). Their ranges are checked against the class list in
# tests/core/inspection/test_imagenet_labels.py. Most of CIFAR-10's names are here, so CIFAR-10 maps.
GROUPS: dict[str, tuple[int, ...]] = {
    "dog": tuple(range(151, 269)),  # Chihuahua .. Mexican hairless
    "cat": tuple(range(281, 286)),  # tabby .. Egyptian cat
    "bird": (*range(7, 25), *range(80, 101), *range(127, 147)),  # cock .. great grey owl, black grouse .. black
    # swan, white stork .. albatross
    "frog": tuple(range(30, 33)),  # bullfrog .. tailed frog
    "snake": tuple(range(52, 69)),  # thunder snake .. sidewinder
    "fish": (*range(0, 7), *range(389, 398)),  # tench .. stingray, barracouta .. puffer
    "bear": tuple(range(294, 298)),  # brown bear .. sloth bear
    "monkey": tuple(range(370, 383)),  # guenon .. squirrel monkey
    "rabbit": tuple(range(330, 333)),  # wood rabbit, hare, Angora
    "horse": (339,),  # sorrel, ImageNet's only horse
    "airplane": (404, 895),  # airliner, warplane ("plane" alone is the carpenter's plane, 726)
    "car": (436, 468, 511, 609, 627, 656, 661, 717, 751, 817),  # beach wagon, cab, convertible, jeep, limousine,
    # minivan, Model T, pickup, racer, sports car
    "truck": (555, 569, 675, 734, 864, 867),  # fire engine, garbage, moving and police vans, tow and trailer trucks
    "ship": (403, 472, 484, 510, 554, 576, 625, 628, 724, 780, 814, 833, 871, 914),  # carriers, liners, boats
}
ALIASES = {"puppy": "dog", "kitten": "cat", "kitty": "cat", "automobile": "car", "auto": "car", "plane": "airplane",
           "aeroplane": "airplane", "aircraft": "airplane", "boat": "ship", "lorry": "truck", "bunny": "rabbit"}


def normalize(name: str) -> str:
    """A class name as it is compared: lower case, every run of other characters than letters and digits one space
    (``"Shih-Tzu"`` and ``"shih_tzu"`` are ``"shih tzu"``, ``"crane (bird)"`` is ``"crane bird"``)."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", str(name).lower()).split())


def _singulars(name: str) -> list[str]:
    """What a simple English plural may be the plural of: "puppies" "puppy", "boxes" "box", "cats" "cat"."""
    out = []
    if name.endswith("ies") and len(name) > 4:
        out.append(name[:-3] + "y")
    if name.endswith("es") and len(name) > 3:
        out.append(name[:-2])
    if name.endswith("s") and not name.endswith("ss") and len(name) > 2:
        out.append(name[:-1])
    return out


@lru_cache(maxsize=1)
def _names_index() -> dict[str, tuple[int, ...]]:
    """Every short name and lemma of ImageNet's classes, normalized, to the classes it names ("crane": two)."""
    index: dict[str, list[int]] = {}
    for i, (_, short, lemmas) in enumerate(imagenet_classes()):
        for name in {normalize(short), *(normalize(lemma) for lemma in lemmas.split(","))} - {""}:
            index.setdefault(name, []).append(i)
    return {name: tuple(sorted(set(found))) for name, found in index.items()}


def _lookup(name: str) -> list[int]:
    for candidate in (name, *_singulars(name)):
        group = GROUPS.get(ALIASES.get(candidate, candidate))
        if group is not None:  # a group first: "plane" means an airplane far more often than the carpenter's tool
            return list(group)
        if candidate in _names_index():
            return list(_names_index()[candidate])
    return []


def map_labels(class_names: list[str]) -> dict[str, list[int]]:
    """The ImageNet classes each of a dataset's class names means.

    Args:
        class_names: the dataset's classes, e.g. ``["cats", "dogs", "spaceship_xyz"]``.

    Returns:
        Each name to the sorted indices of its ImageNet classes (into
        ``core.models.imagenet.imagenet_class_names()``); ``[]`` for a name that matches none.
    """
    if isinstance(class_names, str):
        raise ValueError(f"Expected a list of class names. Received: the string {class_names!r}")
    return {str(name): _lookup(normalize(name)) for name in class_names}


def grouped_predictions(probs: np.ndarray, mapping: dict[str, list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """The user's classes scored from a network's ImageNet probabilities.

    Args:
        probs: (n, 1000) the network's softmax outputs.
        mapping: ``map_labels`` of the user's classes, in their label order.

    Returns:
        ``(predicted (n,), grouped (n, k))``: ``grouped[:, j]`` is the sum of the probabilities of
        the j-th class's ImageNet classes (0 for a class that maps to none); ``predicted`` is the
        index of the best class among those that map to something.
    """
    probs = np.asarray(probs, np.float64)
    if probs.ndim != 2 or probs.shape[1] != 1000:
        raise ValueError(f"Expected ImageNet probabilities of shape (n, 1000). Received: shape={probs.shape}")
    lists = list(mapping.values())
    if not any(lists):
        raise ValueError(f"Expected at least one class that maps to ImageNet classes. Received: {list(mapping)}")
    members = np.zeros((1000, len(lists)))
    for j, indices in enumerate(lists):
        members[list(indices), j] = 1.0
    grouped = probs @ members
    # A class that maps to nothing can never be the answer, even when every mapped class scores 0.
    scores = np.where(members.any(axis=0), grouped, -np.inf)
    return scores.argmax(axis=1), grouped


def mapping_rows(mapping: dict[str, list[int]], shown: int = 5) -> list[dict[str, str]]:
    """One row per user class for a table: its ImageNet classes by name (the first ``shown``), or "no match"."""
    names = [short for _, short, _ in imagenet_classes()]
    rows = []
    for user, indices in mapping.items():
        listed = ", ".join(names[i] for i in indices[:shown])
        more = f" … and {len(indices) - shown} more" if len(indices) > shown else ""
        rows.append({"your class": user, "ImageNet classes": f"{listed}{more}" if indices else "no match",
                     "how many": str(len(indices)), "scored": "yes" if indices else "no: left out"})
    return rows


def no_match_message(class_names: list[str]) -> str:
    """Why nothing can be scored, with the names tried and what ImageNet's classes look like."""
    tried = ", ".join(f"“{n}”" for n in class_names[:12]) + (" …" if len(class_names) > 12 else "")
    return (f"None of this dataset's class names ({tried}) is the name of an ImageNet class, so the network's answers "
            "cannot be scored against its labels. ImageNet's classes are e.g. “tabby”, “golden retriever”, "
            "“sports car”, “banana”, “coffee mug”; the names " + ", ".join(sorted(GROUPS))
            + " are understood too. "
            "Name your class folders like that (plurals are fine: cats, dogs).")


def network_batches(x: np.ndarray, batch_size: int = 32) -> Iterator[np.ndarray]:
    """The images ``x`` as a network takes them, one batch at a time: resized to 224×224, grey made colour.

    Args:
        x: images (N, height, width, 1 or 3), float in [0, 1].
        batch_size: images per batch; a batch takes ``batch_size`` × 602 KB.

    Yields:
        float32 (b, 224, 224, 3) in [0, 1].
    """
    import tensorflow as tf

    if np.ndim(x) != 4 or np.shape(x)[-1] not in (1, 3):
        raise ValueError(f"Expected images of shape (N, height, width, 1 or 3). Received: shape={np.shape(x)}")
    if batch_size < 1:
        raise ValueError(f"Expected a batch_size of at least 1. Received: {batch_size}")
    for start in range(0, len(x), batch_size):
        batch = np.asarray(x[start:start + batch_size], np.float32)
        if batch.shape[-1] == 1:
            batch = np.repeat(batch, 3, axis=-1)  # grey: the same value in red, green and blue
        if batch.shape[1:3] != INPUT_SHAPE[:2]:
            # Bilinear, with antialiasing for images larger than 224 (it is a no-op when enlarging)
            batch = tf.image.resize(batch, INPUT_SHAPE[:2], method="bilinear", antialias=True).numpy()
        yield np.clip(batch, 0.0, 1.0).astype(np.float32)


def image_limit(network_key: str) -> int:
    """How many images a page shows the network ``network_key`` (``core.models.imagenet.NETWORKS``) at most."""
    return NETWORK_IMAGES.get(network_key, MAX_IMAGES)


def spread(indices: np.ndarray, limit: int = MAX_IMAGES) -> np.ndarray:
    """At most ``limit`` of ``indices``, evenly spread over them (a test split sorted by class keeps every class)."""
    indices = np.asarray(indices)
    if len(indices) <= limit:
        return indices
    return indices[np.unique(np.linspace(0, len(indices) - 1, limit).round().astype(np.int64))]

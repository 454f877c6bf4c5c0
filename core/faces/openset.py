"""Open-set recognition: telling "nobody I know" from how far a face is from the enrolled faces.

A classifier trained on Me and Friend has one softmax output per person, and its
probabilities always add up to 1 over them: it has no output for "somebody else".
A stranger's face still lands on one side of the line the network drew between Me
and Friend, often far on it, so softmax says "Me, 99.7 %". Whether a face is anyone
enrolled is another question: is it close to one of their enrolled photos?

So a face is described by an embedding (a vector; similar faces give nearby vectors),
and the network's answer stands only when the face is within ``threshold`` of one of
that person's enrolled faces:

    >>> reference = build_reference(enrolled_images, labels, ["Me", "Friend"])
    >>> decision = decide(reference, face_embedding(cnn_input), predicted_label)
    >>> decision.identity, decision.distance, decision.threshold    # "unknown", 0.62, 0.48

The embedding is a histogram of oriented gradients (HOG: Dalal & Triggs, 2005) of the
aligned crop in grey at 64x64: 8x8-pixel cells, 9 orientations, blocks of 3x3 cells,
as ``skimage.feature.hog`` computes it, then scaled to unit length. It needs no
training, so it describes a stranger as well as an enrolled person. Every enrolled
face is also kept mirrored, which covers a head turned the other way.

The threshold is calibrated from the enrolled faces alone: for each one, the distance
to the nearest other face of the same person (how far apart one person's photos are)
and to the nearest face of another enrolled person (how far a different face is). The
threshold is halfway between the means of the two. It needs no photos of strangers;
it needs two people at least, which the Who am I? page asks for anyway.

Measured on the ORL faces (40 people, 10 photos each; aligned 64x64 crops): two
people enrolled with photos 1 to 5, photos 6 to 10 held out, the 38 others as
strangers, over 20 random pairs, the faces recipe's CNN naming the person. Figures
are held-out photos named right / strangers' photos called unknown, means over the
pairs, and the share of pairs where both are at least 90 %:

- HOG 8 px cells, 3x3 blocks, mirrored copies (this module): 89.5 % / 97.0 %, 85 % of pairs;
  without the mirrored copies 88.0 % / 96.9 %, 75 %.
- Other HOGs (no mirrored copies): 2x2 blocks 86.0 % / 96.8 %, 70 %; 16 px cells
  90.5 % / 90.2 %, 45 %; 6 px cells 85.0 % / 98.1 %, 55 %; an inner 48x48 crop
  86.5 % / 97.3 %, 65 %.
- Grey pixels, centred and of unit length, at 16x16: 88.0 % / 81.8 %, 15 % (with the
  threshold at the largest same-person distance, the best of six calibrations tried,
  84.0 % / 89.0 %, 45 %); at 32x32 much the same. Local binary pattern histograms
  (8x8 cells): 84.0 % / 76.6 %, 10 %. Eigenfaces of the enrolled crops: no pair (ten
  photos span too small a space to tell a stranger from anyone).
- The trained CNN's penultimate features (the 4,096 flattened values), unit length:
  91.5 % / 69.6 %, 20 %; with the threshold at 0.4 of the way, 90.0 % / 81.9 %, 25 %.
  Trained only to tell the enrolled people apart, it keeps what separates them and
  throws away what would separate a stranger from them: even the best threshold chosen
  with the strangers' answers known reaches 90 % on both in only 60 % of pairs.

In the four pairs of ``tests/system/test_faces_openset.py``, each held-out photo missed
was named right by the CNN but lay further than the threshold from that person's five
enrolled photos: photos unlike any enrolled one are what an open-set decision refuses.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np

UNKNOWN = "unknown"
EMBED_SIZE = (64, 64)  # (height, width) a face is resized to before its gradients are measured
CELL = 8  # pixels a side of a HOG cell
BLOCK = 3  # cells a side of a normalisation block
ORIENTATIONS = 9  # bins over 0-180 degrees (a gradient and its opposite count alike)
HYS_CLIP = 0.2  # Dalal & Triggs's L2-Hys: no single edge may dominate a block
# Where the threshold sits between the mean same-person distance (0) and the mean
# distance to another enrolled person (1): halfway. On ORL (see above), 0.45 named
# 87.5 % of held-out photos right and called 98.3 % of strangers unknown, 0.4 84.5 %
# and 99.2 %, against 89.5 % and 97.0 % halfway.
CALIBRATION_POINT = 0.5


def face_embedding(image: np.ndarray) -> np.ndarray:
    """The embedding of one aligned face crop: its HOG, of unit length, float32.

    Args:
        image: (H, W), (H, W, 1) or (H, W, 3); uint8, or float in [0, 1] as a model's input.
    """
    return _hog(_grey(image))


def face_embeddings(images) -> np.ndarray:
    """``face_embedding`` of each image, stacked: (N, D) float32."""
    return np.stack([face_embedding(image) for image in images])


@dataclass
class OpenSetReference:
    """What deciding "unknown" needs, kept with a face model: its enrolled faces' embeddings and the threshold."""

    class_names: list[str]  # the model's outputs, in order
    embeddings: np.ndarray  # (N, D) float32: every enrolled face, then each one mirrored
    labels: np.ndarray  # (N,) int: the class of each row
    threshold: float  # a face further than this from every face of the named person is unknown
    same_person: float  # mean distance from an enrolled face to the nearest other face of that person
    other_person: float  # mean distance from an enrolled face to the nearest face of another person

    def __eq__(self, other) -> bool:  # the arrays compared whole: the dataclass's own __eq__ cannot
        if not isinstance(other, OpenSetReference):
            return NotImplemented
        return (self.class_names == other.class_names and np.array_equal(self.embeddings, other.embeddings)
                and np.array_equal(self.labels, other.labels) and self.threshold == other.threshold
                and self.same_person == other.same_person and self.other_person == other.other_person)

    def to_dict(self) -> dict:
        data = np.ascontiguousarray(self.embeddings, dtype="<f2")
        return {"feature": feature_name(), "class_names": list(self.class_names), "threshold": self.threshold,
                "same_person": self.same_person, "other_person": self.other_person,
                "labels": [int(v) for v in self.labels], "shape": list(data.shape),
                "embeddings_f16": base64.b64encode(data.tobytes()).decode("ascii")}

    @classmethod
    def from_dict(cls, value) -> "OpenSetReference | None":
        """A reference from what a model card holds; None when it is missing, damaged or made another way."""
        try:
            if value.get("feature") != feature_name():
                return None
            rows, dims = (int(v) for v in value["shape"])
            embeddings = np.frombuffer(base64.b64decode(value["embeddings_f16"]), "<f2").reshape(rows, dims)
            labels = np.array(value["labels"], np.int64)
            names = [str(n) for n in value["class_names"]]
            if len(labels) != rows or labels.min() < 0 or labels.max() >= len(names):
                return None
            return cls(class_names=names, embeddings=embeddings.astype(np.float32), labels=labels,
                       threshold=float(value["threshold"]), same_person=float(value["same_person"]),
                       other_person=float(value["other_person"]))
        except (AttributeError, KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class OpenSetDecision:
    """Who a face is, or ``UNKNOWN``, and the figures that decided it."""

    identity: str  # the person, or UNKNOWN
    candidate: str  # the person it was compared with
    distance: float  # to the nearest enrolled face of the candidate
    threshold: float
    known: bool


def feature_name() -> str:
    """How the embeddings were made: a stored reference made another way is not compared with new ones."""
    return f"hog{EMBED_SIZE[0]}x{EMBED_SIZE[1]}-cell{CELL}-block{BLOCK}-bins{ORIENTATIONS}"


def build_reference(images, labels, class_names: list[str]) -> OpenSetReference:
    """Embed the enrolled faces (and their mirror images) and calibrate the threshold on them.

    Args:
        images: the enrolled face crops, as ``face_embedding`` takes them.
        labels: the class of each, an index into ``class_names``.
        class_names: the model's outputs, in order.

    Raises:
        ValueError: fewer than two people, or a person with fewer than two faces.
    """
    images, labels = list(images), np.asarray(labels, np.int64)
    counts = np.bincount(labels, minlength=len(class_names)) if len(labels) else np.zeros(len(class_names), int)
    if len(images) != len(labels) or (counts > 0).sum() < 2 or counts[counts > 0].min() < 2:
        raise ValueError("Expected faces of at least 2 people, at least 2 faces each, one label per face. "
                         f"Received: {len(images)} faces, faces per class {counts.tolist()}")
    mirrored = [np.asarray(image)[:, ::-1] for image in images]
    # Stored at half precision; rounding first makes the model decide alike before and after a save.
    embeddings = face_embeddings(images + mirrored).astype(np.float16).astype(np.float32)
    all_labels = np.concatenate([labels, labels])
    source = np.tile(np.arange(len(images)), 2)
    same, other = calibration_distances(embeddings, all_labels, source, len(images))
    threshold = float((1 - CALIBRATION_POINT) * same.mean() + CALIBRATION_POINT * other.mean())
    return OpenSetReference(class_names=list(class_names), embeddings=embeddings, labels=all_labels,
                            threshold=threshold, same_person=float(same.mean()), other_person=float(other.mean()))


def calibration_distances(embeddings: np.ndarray, labels: np.ndarray, source: np.ndarray,
                          n_faces: int) -> tuple[np.ndarray, np.ndarray]:
    """For each of the first ``n_faces`` rows, leaving out every row of the same photo (``source``):
    the distance to the nearest row of its own class, and to the nearest row of another class."""
    distances = pairwise_distances(embeddings[:n_faces], embeddings)
    distances[source[None, :] == np.arange(n_faces)[:, None]] = np.inf  # the face itself and its mirror image
    own = labels[None, :] == labels[:n_faces, None]
    return np.where(own, distances, np.inf).min(axis=1), np.where(own, np.inf, distances).min(axis=1)


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between the rows of ``a`` (M, D) and of ``b`` (N, D): (M, N) float64."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(squared, 0.0))


def nearest_distance(reference: OpenSetReference, embedding: np.ndarray, label: int) -> float:
    """Distance from ``embedding`` to the nearest enrolled face (or mirror image) of class ``label``."""
    rows = reference.embeddings[reference.labels == label]
    if not len(rows):
        raise ValueError(f"Expected a class with enrolled faces. Received: label {label}, which has none")
    return float(pairwise_distances(np.asarray(embedding)[None], rows).min())


def decide(reference: OpenSetReference, embedding: np.ndarray, label: int) -> OpenSetDecision:
    """Keep the classifier's answer ``label`` only when the face is within the threshold of that person's faces."""
    if not 0 <= label < len(reference.class_names):
        raise ValueError(f"Expected a label in [0, {len(reference.class_names)}). Received: {label}")
    distance = nearest_distance(reference, embedding, label)
    known = distance <= reference.threshold
    name = reference.class_names[label]
    return OpenSetDecision(identity=name if known else UNKNOWN, candidate=name, distance=distance,
                           threshold=reference.threshold, known=known)


def _grey(image: np.ndarray) -> np.ndarray:
    """An image as float64 grey in [0, 1] at EMBED_SIZE (ITU-R 601 luma, as Pillow's "L")."""
    import cv2

    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[-1] in (1, 3):
        arr = arr[..., 0] if arr.shape[-1] == 1 else arr @ np.array([0.299, 0.587, 0.114])
    if arr.ndim != 2:
        raise ValueError("Expected an image of shape (H, W), (H, W, 1) or (H, W, 3). "
                         f"Received: shape={np.shape(image)}")
    arr = arr.astype(np.float64) / (255.0 if np.asarray(image).dtype == np.uint8 else 1.0)
    if arr.shape != EMBED_SIZE:
        arr = cv2.resize(arr, EMBED_SIZE[::-1], interpolation=cv2.INTER_AREA)
    return arr


def _hog(grey: np.ndarray) -> np.ndarray:
    """HOG as ``skimage.feature.hog(grey, ORIENTATIONS, (CELL, CELL), (BLOCK, BLOCK))`` computes it, unit length."""
    g_row, g_col = np.zeros_like(grey), np.zeros_like(grey)
    g_row[1:-1] = grey[2:] - grey[:-2]
    g_col[:, 1:-1] = grey[:, 2:] - grey[:, :-2]
    magnitude = np.hypot(g_row, g_col)
    orientation = np.rad2deg(np.arctan2(g_row, g_col)) % 180
    bins = np.minimum((orientation // (180 / ORIENTATIONS)).astype(int), ORIENTATIONS - 1)
    cells_r, cells_c = grey.shape[0] // CELL, grey.shape[1] // CELL
    h, w = cells_r * CELL, cells_c * CELL
    one_hot = (bins[:h, :w, None] == np.arange(ORIENTATIONS)) * magnitude[:h, :w, None]
    cells = one_hot.reshape(cells_r, CELL, cells_c, CELL, ORIENTATIONS).sum(axis=(1, 3)) / (CELL * CELL)
    windows = np.lib.stride_tricks.sliding_window_view(cells, (BLOCK, BLOCK), axis=(0, 1))  # (R, C, bins, B, B)
    blocks = windows.transpose(0, 1, 3, 4, 2).reshape(windows.shape[0], windows.shape[1], -1)
    eps = 1e-5
    blocks = blocks / np.sqrt((blocks ** 2).sum(-1, keepdims=True) + eps ** 2)
    blocks = np.minimum(blocks, HYS_CLIP)
    blocks = blocks / np.sqrt((blocks ** 2).sum(-1, keepdims=True) + eps ** 2)
    vector = blocks.ravel()
    return (vector / max(np.linalg.norm(vector), 1e-12)).astype(np.float32)

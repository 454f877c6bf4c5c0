"""Enrolment for "who am I?": named identities filled with aligned face crops, kept in memory.

Every snapshot goes through the face pipeline at once: a photo with no face, or
with more than one, is refused with a message (which of several faces would be
you?), and the one face is aligned and cropped. Only the crops are kept, in
this object, which the app holds in the user's session: nothing is written to
disk, and ``clear`` forgets them all.

    >>> gallery = FaceGallery()
    >>> gallery.add_identity("Me")
    >>> gallery.enrol("Me", webcam_jpeg_bytes)        # FaceError if no face or several
    >>> dataset = gallery.to_dataset()                # once training_problems() is empty
"""

from __future__ import annotations

import hashlib
import math
import threading
import uuid
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from core.data import Dataset
from core.data.class_images import ClassImageError, check_class_name
from core.data.images import ImageDecodeError, decode_image
from core.faces.detect import DEFAULT_MARGIN, AlignedFace, Face, FaceError, align_face, detect_faces, to_cnn_input
from core.faces.openset import UNKNOWN, OpenSetReference, decide, face_embedding
from core.settings import limits

CROP_SIZE = (64, 64)  # (height, width) of the kept crops and of the CNN trained on them
MIN_FACES = 5  # per identity: 4 to learn from, 1 to test
MAX_FACES = 60  # per identity: bounds the memory one session takes (64x64x3 bytes each)
MAX_IDENTITIES = 10
TEST_FRACTION = 0.2  # of every identity, held out to measure recognition
# When enrolling, a face less than this share of the biggest one's height is in the background
# (or one of MTCNN's rare false finds on an ear or a pattern): it does not make the snapshot ambiguous.
BACKGROUND_FACE = 0.4


@dataclass(frozen=True)
class EnrolledFace:
    """One aligned face crop of an identity."""

    id: str  # stable key for the page's delete buttons
    crop: np.ndarray  # uint8 CROP_SIZE + (3,)
    confidence: float  # the detector's, when it was enrolled


@dataclass(frozen=True)
class EnrolResult:
    """What enrolling a snapshot found: the face, its aligned crop, and the photo it came from."""

    face: Face
    aligned: AlignedFace
    photo: np.ndarray  # uint8 RGB


@dataclass
class EnrolReport:
    """What ``FaceGallery.enrol_many`` did with a batch of photos."""

    added: list[tuple[str, EnrolResult]] = field(default_factory=list)  # (label, result)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (label, reason)
    not_looked_at: int = 0  # photos past the batch's bound, neither decoded nor searched for a face
    bound_reason: str = ""  # why they were not looked at, a sentence for the user


def find_one_face(photo: np.ndarray, margin: float = DEFAULT_MARGIN, size: tuple[int, int] = CROP_SIZE) -> EnrolResult:
    """The one face of ``photo``, aligned; ``FaceError`` with a message when there is none or several.

    Faces under ``BACKGROUND_FACE`` of the biggest one's height are not counted.
    """
    faces = detect_faces(photo)
    if faces:
        biggest = max(f.box[3] for f in faces)
        faces = [f for f in faces if f.box[3] >= BACKGROUND_FACE * biggest]
    if not faces:
        raise FaceError("No face found in this snapshot. Face the camera, come a little closer and make sure "
                        "your face is well lit, then take another.")
    if len(faces) > 1:
        raise FaceError(f"{len(faces)} faces in this snapshot: only the person being enrolled may be in the picture, "
                        "or it is not clear whose face it is. Take another with one face.")
    return EnrolResult(face=faces[0], aligned=align_face(photo, faces[0], size, margin), photo=photo)


class FaceGallery:
    """Identities and their aligned face crops, in memory only."""

    def __init__(self, margin: float = DEFAULT_MARGIN):
        self.margin = margin  # how the crops were cut: a model trained on them wants faces cut the same way
        self._identities: dict[str, list[EnrolledFace]] = {}
        self._lock = threading.Lock()  # a page's rerun and a training job may read at once

    def names(self) -> list[str]:
        with self._lock:
            return list(self._identities)

    def faces(self, name: str) -> list[EnrolledFace]:
        with self._lock:
            return list(self._identities.get(name, []))

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {name: len(faces) for name, faces in self._identities.items()}

    def add_identity(self, name: str) -> str:
        """Add an empty identity; the cleaned name, or ``ClassImageError`` saying what is wrong with it."""
        with self._lock:
            if len(self._identities) >= MAX_IDENTITIES:
                raise ClassImageError(f"At most {MAX_IDENTITIES} people can be enrolled at once.")
            clean = check_class_name(name, self._identities)
            self._identities[clean] = []
            return clean

    def remove_identity(self, name: str) -> None:
        with self._lock:
            self._identities.pop(name, None)

    def enrol(self, name: str, data: bytes | np.ndarray) -> EnrolResult:
        """Detect, align and keep the one face of a snapshot (file bytes or a uint8 photo) under ``name``.

        Raises:
            ImageDecodeError: the bytes are not an image.
            FaceError: no face, several faces, or the identity is full.
            KeyError: no identity ``name``.
        """
        if name not in self.counts():
            raise KeyError(f"No identity named {name!r}.")
        if self.counts()[name] >= MAX_FACES:
            raise FaceError(f"{name} already has {MAX_FACES} faces; delete some before adding more.")
        photo = np.asarray(decode_image(data).convert("RGB")) if isinstance(data, (bytes, bytearray)) else data
        result = find_one_face(photo, self.margin)
        with self._lock:
            if name in self._identities:  # not removed meanwhile
                self._identities[name].append(EnrolledFace(id=uuid.uuid4().hex[:12], crop=result.aligned.image,
                                                           confidence=result.face.confidence))
        return result

    def enrol_many(self, name: str, files: Iterable[tuple[str, bytes | np.ndarray]]) -> EnrolReport:
        """Enrol a batch of photos (``(label, file bytes or uint8 photo)``) under ``name``, each as ``enrol`` does.

        Every photo looked at counts towards the identity's room (``MAX_FACES`` minus its faces) and the
        batch's bound (``limits().max_upload_files``), whether its face is kept or it is refused: finding
        faces costs about 0.3 s a photo, and a batch of bad files must cost no more than a batch of good
        ones. The photos past the bound are counted in ``not_looked_at``.

        Raises:
            KeyError: no identity ``name``.
        """
        counts = self.counts()
        if name not in counts:
            raise KeyError(f"No identity named {name!r}.")
        room, batch = MAX_FACES - counts[name], limits().max_upload_files
        bound = max(0, min(room, batch))
        report = EnrolReport()
        for label, data in files:
            if len(report.added) + len(report.refused) >= bound:
                report.not_looked_at += 1
                continue
            try:
                report.added.append((label, self.enrol(name, data)))
            except (FaceError, ImageDecodeError) as exc:
                report.refused.append((label, str(exc)))
        if report.not_looked_at:
            report.bound_reason = (
                f"{report.not_looked_at} more photo{'s were' if report.not_looked_at != 1 else ' was'} not looked at: "
                + (f"{name} had room for {max(room, 0)} more of the {MAX_FACES} faces a person may have"
                   if room <= batch else f"at most {batch} photos are taken at once")
                + ", and every photo sent counts, added or not.")
        return report

    def delete(self, name: str, face_id: str) -> None:
        with self._lock:
            if name in self._identities:
                self._identities[name] = [f for f in self._identities[name] if f.id != face_id]

    def clear(self) -> None:
        """Forget every identity and face."""
        with self._lock:
            self._identities.clear()

    def training_problems(self) -> list[str]:
        """Why the gallery cannot be trained on yet; empty when it can."""
        counts = self.counts()
        problems = []
        if len(counts) < 2:
            problems.append("Enrol at least two people: a model learns who someone is by telling them apart from others.")
        few = [f"{name} ({n})" for name, n in counts.items() if n < MIN_FACES]
        if few:
            problems.append(f"Each person needs at least {MIN_FACES} faces (4 to learn from, 1 to test); "
                            f"too few so far: {', '.join(few)}.")
        return problems

    def to_dataset(self, input_shape: tuple[int, int, int] = CROP_SIZE + (3,), seed: int = 0) -> Dataset:
        """The crops as a dataset: ``TEST_FRACTION`` of every identity (at least one face) held out for testing."""
        problems = self.training_problems()
        if problems:
            raise FaceError(" ".join(problems))
        rng = np.random.default_rng(seed)
        x_train, y_train, x_test, y_test = [], [], [], []
        with self._lock:
            identities = {name: list(faces) for name, faces in self._identities.items()}
        for label, faces in enumerate(identities.values()):
            order = rng.permutation(len(faces))
            n_test = max(1, math.floor(len(faces) * TEST_FRACTION + 0.5))
            for rank, i in enumerate(order):
                image = to_cnn_input(faces[i].crop, input_shape)
                (x_test if rank < n_test else x_train).append(image)
                (y_test if rank < n_test else y_train).append(label)
        names = list(identities)
        # which faces these are, without them: two runs on the same enrolment have the same dataset (compared on
        # the Who am I? page), a run after a face was added or deleted another one
        digest = hashlib.sha256("\n".join(f"{name}\t{face.id}" for name, faces in identities.items()
                                          for face in faces).encode()).hexdigest()[:16]
        return Dataset(
            name="enrolled_faces", title=f"Enrolled faces: {', '.join(names)}",
            description="Aligned face crops captured in this session; they stay in memory and are never saved.",
            class_names=names, x_train=np.stack(x_train), y_train=np.array(y_train, np.int64),
            x_test=np.stack(x_test), y_test=np.array(y_test, np.int64), source="this session's webcam",
            options={"margin": self.margin, "faces": digest},
        )


@dataclass
class Recognition:
    """Who the model thinks one face is."""

    face: Face
    aligned: AlignedFace
    cnn_input: np.ndarray  # float (H, W, C), what the model was given
    probabilities: np.ndarray
    identity: str  # a class name, or UNKNOWN (not sure enough, or too far from the enrolled faces)
    best: str  # the most probable class, whatever the thresholds
    confidence: float  # its probability
    known: bool = field(default=True)
    distance: float | None = None  # to the nearest enrolled face of ``best`` (None: no reference to compare with)
    distance_threshold: float | None = None  # the reference's: further than this is unknown
    sure: bool = True  # the probability of ``best`` was over the threshold (a stranger's can be, too)

    @property
    def near(self) -> bool | None:
        """Whether the face is within the distance threshold of ``best``'s enrolled faces; None without a reference."""
        return None if self.distance is None else self.distance <= self.distance_threshold


def recognise_faces(model, class_names: list[str], photo: np.ndarray, threshold: float = 0.6,
                    margin: float = DEFAULT_MARGIN, faces: list[Face] | None = None,
                    reference: OpenSetReference | None = None) -> list[Recognition]:
    """Detect, align and identify every face of ``photo``.

    The model names the most probable of its classes; the face is unknown when that
    probability is not over ``threshold`` or, given a ``reference``, when the face is
    further than its threshold from every enrolled face of that person
    (``core.faces.openset``: softmax alone cannot say "nobody I know").

    Args:
        model: a classifier of faces, its input any (height, width, 1 or 3).
        class_names: its output's names.
        photo: the photo, uint8 RGB or grey.
        threshold: a face is given a name only when its best class's probability is over this (1: never).
        margin: how faces are cut out, as the model's training faces were.
        faces: the faces ``detect_faces`` found in ``photo`` already, if known (detection is the slow part).
        reference: the enrolled faces' embeddings and distance threshold, kept in the model's card.
    """
    from core.inspection.predict import class_probabilities

    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"Expected a threshold in [0, 1]. Received: {threshold}")
    if reference is not None and list(reference.class_names) != list(class_names):
        raise ValueError(f"Expected a reference for the classes {list(class_names)}. "
                         f"Received: one for {list(reference.class_names)}")
    shape = tuple(int(v) for v in model.input_shape[1:])
    out = []
    for face in detect_faces(photo) if faces is None else faces:
        aligned = align_face(photo, face, shape[:2], margin)
        x = to_cnn_input(aligned.image, shape)
        probs = class_probabilities(model, x)
        best = int(np.argmax(probs))
        sure = known = bool(probs[best] > threshold)
        distance = distance_threshold = None
        if reference is not None:
            decision = decide(reference, face_embedding(x), best)
            known = sure and decision.known
            distance, distance_threshold = decision.distance, decision.threshold
        out.append(Recognition(face=face, aligned=aligned, cnn_input=x, probabilities=probs,
                               identity=class_names[best] if known else UNKNOWN, best=class_names[best],
                               confidence=float(probs[best]), known=known, distance=distance,
                               distance_threshold=distance_threshold, sure=sure))
    return out

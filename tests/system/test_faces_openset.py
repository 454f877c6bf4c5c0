"""Who am I? on the ORL faces: two people enrolled, the other 38 are strangers who must come out as unknown.

Everything goes the page's way: each photo through MTCNN and alignment (``FaceGallery.enrol``),
the faces recipe's CNN trained as the Train button does (``choose_config`` on the gallery's
dataset, a ``TrainingJob`` with the face margin), and recognition with the card's open-set
reference at the page's default probability threshold. Photos 1 to 5 of each enrolled
person are enrolled, photos 6 to 10 held out; four pairs of people, drawn with fixed seeds,
each enrolled and trained on its own.

The 90 % are rates over the four pairs: 40 held-out photos and 1,520 strangers' photos. One
pair alone has 10 held-out photos, so one photo is 10 points: in two of these pairs one
held-out photo is always further than the threshold from its person's enrolled photos (the
HOG distance, which does not depend on training), and a single photo the CNN named with
less than 60 % in one run of a pair then failed the test once in a clean-clone run, though
the same pair's CNN named all 10 right in 48 of 48 runs alone. Each pair's figures are
printed, and given with every held-out photo's answer when the test fails.
About 70 s on 2 cores (detecting the 400 photos once is 15 s of it), hence the system suite.
"""

from __future__ import annotations

import numpy as np
import pytest

PAIR_SEEDS = (0, 1, 2, 5)
PAGE_THRESHOLD = 0.6  # the Who am I? page's default for "more than (%) sure"
REQUIRED = 0.9  # of held-out photos named right, and of strangers' photos called unknown


@pytest.fixture(scope="module")
def orl(shared_datasets) -> tuple[np.ndarray, list[list]]:
    """The 400 ORL photos (40 people x 10) as RGB, and the one face MTCNN finds in each."""
    from PIL import Image

    from core.faces.enrol import find_one_face

    folder = shared_datasets / "orl_faces"
    photos = np.stack([np.stack([np.asarray(Image.open(folder / f"s{p}" / f"{i}.pgm").convert("RGB"))
                                 for i in range(1, 11)]) for p in range(1, 41)])
    return photos, [[find_one_face(photo).face for photo in person] for person in photos]


def train_like_the_page(gallery):
    """What Who am I?'s Train button starts (pages/faces.py), waited for."""
    from core.training.launch import new_run
    from core.training.recipes import RECIPES
    from core.training.small_data import choose_config

    recipe = RECIPES["orl_faces"]
    dataset = gallery.to_dataset()
    config = choose_config(len(dataset.x_train), learning_rate=recipe.learning_rate, augment=True)
    job = new_run(recipe.spec(), dataset, config, "faces_orl", private=True, face_margin=gallery.margin)
    job.join(timeout=300)
    assert job.snapshot().state == "done", job.snapshot()
    return job


def test_strangers_are_unknown_and_the_enrolled_are_recognised(orl, tmp_path):
    from core.faces.enrol import UNKNOWN, FaceGallery, recognise_faces
    from core.storage.registry import ModelRegistry

    photos, faces = orl
    named, unknown, report = [], [], []
    for seed in PAIR_SEEDS:
        pair = [int(p) for p in np.random.default_rng(seed).choice(40, 2, replace=False)]
        gallery = FaceGallery()
        for p in pair:
            gallery.add_identity(f"s{p + 1}")
            for i in range(5):
                gallery.enrol(f"s{p + 1}", photos[p, i])
        job = train_like_the_page(gallery)
        names, reference = job.dataset.class_names, job.card.face_reference
        assert names == [f"s{p + 1}" for p in pair] and reference is not None

        def answers(model, ref, people, shots):
            return {(p, i): recognise_faces(model, names, photos[p, i], threshold=PAGE_THRESHOLD,
                                            margin=gallery.margin, faces=[faces[p][i]], reference=ref)[0]
                    for p in people for i in shots}

        held_out = answers(job.model, reference, pair, range(5, 10))
        strangers = answers(job.model, reference, [p for p in range(40) if p not in pair], range(10))
        named += [r.identity == f"s{p + 1}" for (p, _), r in held_out.items()]
        unknown += [r.identity == UNKNOWN for r in strangers.values()]
        softmax_only = np.mean([not r.sure for r in strangers.values()])  # what the probability threshold alone rejects
        line = (f"pair {names} (seed {seed}): held-out photos recognised "
                f"{np.mean([r.identity == f's{p + 1}' for (p, _), r in held_out.items()]):.0%}, strangers' photos "
                f"unknown {np.mean([r.identity == UNKNOWN for r in strangers.values()]):.1%} (softmax alone over "
                f"{PAGE_THRESHOLD:.0%}: {softmax_only:.1%}); threshold {reference.threshold:.3f} between "
                f"{reference.same_person:.3f} and {reference.other_person:.3f}")
        print("\n" + line)
        # what each held-out photo got and how the run ended, to tell a weak CNN from a far face
        report.append((line, [(f"s{p + 1}/{i + 1}", r.best, round(r.confidence, 3), round(r.distance, 3))
                              for (p, i), r in held_out.items()], job.snapshot().epoch_log[-3:]))

        # saved and loaded again, the model decides the same: its card keeps the reference
        registry = ModelRegistry(tmp_path / str(seed))
        model, card = registry.load(registry.save(job.model, job.card).id)
        assert card.face_reference == reference
        sample = {k: strangers[k] for k in list(strangers)[::19]} | held_out
        again = answers(model, card.face_reference, sorted({p for p, _ in sample}), range(10))
        for key, r in sample.items():
            assert (again[key].identity, again[key].distance) == pytest.approx((r.identity, r.distance), abs=1e-6), key

    recognised, rejected = np.mean(named), np.mean(unknown)
    print(f"\nover {len(PAIR_SEEDS)} pairs: {len(named)} held-out photos recognised {recognised:.1%}, "
          f"{len(unknown)} strangers' photos unknown {rejected:.1%}")
    assert recognised >= REQUIRED and rejected >= REQUIRED, (recognised, rejected, report)

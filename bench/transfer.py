"""Transfer learning against training from scratch, on the same held-out photos, in one run.

    python -m bench.transfer [--data-dir DIR] [--backbone PATH] [--datasets cats_vs_dogs orl_faces] [--seed N]

For each dataset (read from ``../shared/datasets`` or ``--data-dir``, split as its fast recipe
splits it: the cats and dogs with 100 photos set aside before any tuning, the ORL faces with 5
photos a person to train on and 5 to test):

- **scratch**: the dataset's fast recipe (``core.training.recipes``), a network of its own from
  random weights;
- **frozen**: the backbone (the shipped photo model, or ``--backbone``) up to its features, frozen,
  with a new softmax layer trained on them (``core.models.backbones``); photos are resized to the
  backbone's input inside the network, grey ones copied into red, green and blue there;
- **fine-tuned**: that network trained further with the backbone's last block unfrozen, at a tenth
  of the learning rate.

Times are training alone (loading and scoring are not counted); the fine-tuned time includes
the frozen phase it starts from. The last line printed is JSON: for each dataset its three
accuracies and times, ``gain_points`` (the better of frozen and fine-tuned, minus scratch, in
points of accuracy) and ``meets_target`` (a gain of at least 10 points).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

from bench import report
from core.training.config import TrainConfig
from core.training.recipes import RECIPES, load_recipe_dataset

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets"
TARGET_GAIN = 10.0  # points of accuracy the backbone must add over scratch on the cats and dogs

# The new head: a softmax on the backbone's features, so it trains in seconds; then fine-tuning.
HEAD = TrainConfig(epochs=30, batch_size=32, learning_rate=1e-3, optimizer="adam", validation_split=0.0,
                   schedule="cosine", augmentation={"flip": "horizontal"})
FINE_TUNE_BLOCKS = 1
FINE_TUNE = replace(HEAD, epochs=15, learning_rate=1e-4)


def _score(model, dataset) -> float:
    from core.training.run import evaluate_model

    return round(evaluate_model(model, dataset)[1], 4)


def scratch(dataset, recipe, seed: int) -> dict:
    from core.models.architecture import build_model
    from core.training.run import train_model

    model = build_model(recipe.spec(), dataset.input_shape, dataset.num_classes, seed=seed)
    result = train_model(model, dataset, recipe.train_config(seed=seed))
    return {"test_accuracy": _score(model, dataset), "train_seconds": round(result["train_seconds"], 2),
            "params": int(model.count_params()), "recipe": recipe.key}


def transfer(dataset, backbone, feature_layer: str, seed: int) -> tuple[dict, dict]:
    from core.models.backbones import build_transfer_model, parameter_split, set_trainable_blocks
    from core.training.run import train_model

    model = build_transfer_model(backbone, feature_layer, dataset.input_shape, dataset.num_classes, seed=seed,
                                 grey_to_colour=True)
    trainable, frozen_params = parameter_split(model)
    head = train_model(model, dataset, replace(HEAD, seed=seed))
    frozen = {"test_accuracy": _score(model, dataset), "train_seconds": round(head["train_seconds"], 2),
              "trainable_params": trainable, "frozen_params": frozen_params, "epochs": HEAD.epochs}
    opened = set_trainable_blocks(model, FINE_TUNE_BLOCKS, feature_layer)
    tuned = train_model(model, dataset, replace(FINE_TUNE, seed=seed))
    fine = {"test_accuracy": _score(model, dataset),
            "train_seconds": round(head["train_seconds"] + tuned["train_seconds"], 2),
            "trainable_params": parameter_split(model)[0], "unfrozen_layers": opened,
            "epochs": HEAD.epochs + FINE_TUNE.epochs}
    return frozen, fine


def compare(name: str, data_dir: Path, backbone, feature_layer: str, seed: int) -> dict:
    recipe = RECIPES[name]
    dataset = load_recipe_dataset(recipe, data_dir)
    print(f"{dataset.title}: {len(dataset.x_train)} training and {len(dataset.x_test)} held-out photos of "
          f"{dataset.input_shape}", flush=True)
    base = scratch(dataset, recipe, seed)
    print(f"  scratch: {base}", flush=True)
    frozen, fine = transfer(dataset, backbone, feature_layer, seed)
    print(f"  frozen: {frozen}\n  fine-tuned: {fine}", flush=True)
    best = max(frozen["test_accuracy"], fine["test_accuracy"])
    gain = round(100 * (best - base["test_accuracy"]), 1)
    return {"train_images": len(dataset.x_train), "test_images": len(dataset.x_test), "test_split": recipe.test_split,
            "input_shape": list(dataset.input_shape), "scratch": base, "frozen": frozen, "fine_tuned": fine,
            "gain_points": gain, "meets_target": gain >= TARGET_GAIN}


def main(argv: list[str] | None = None) -> dict:
    from core.models.backbones import BACKBONES

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA), help="folder holding the shared datasets")
    parser.add_argument("--backbone", default=None, metavar="PATH",
                        help="a saved model (PATH.keras) to start from instead of the shipped photo model")
    parser.add_argument("--feature-layer", default=None, help="the backbone's feature layer (default: the photo "
                                                              "model's, global_maxpool)")
    parser.add_argument("--datasets", nargs="+", default=["cats_vs_dogs", "orl_faces"],
                        choices=["cats_vs_dogs", "orl_faces"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", default=None, metavar="PATH", help="also write the JSON to PATH")
    args = parser.parse_args(argv)

    shipped = BACKBONES["photo_cifar10"]
    if args.backbone:
        from core.storage.files import load_model

        backbone, path = load_model(args.backbone)[0], Path(args.backbone)
    else:
        backbone, path = shipped.load(), shipped.path
    feature_layer = args.feature_layer or shipped.feature_layer
    out: dict = {"backbone": path.name, "feature_layer": feature_layer, "target_gain_points": TARGET_GAIN}
    for name in args.datasets:
        out[name] = compare(name, Path(args.data_dir), backbone, feature_layer, args.seed)
    first = out[args.datasets[0]]
    out["meets_target"] = bool(out.get("cats_vs_dogs", first)["meets_target"])
    out.update({"seed": args.seed, "cpus": os.cpu_count(), "machine": platform.machine(),
                "measured": time.strftime("%Y-%m-%d")})
    return report(out, args.save)


if __name__ == "__main__":
    main()

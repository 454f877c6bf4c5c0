"""Time to accuracy of CNN Lab's fast recipes on real datasets.

    python -m bench.time_to_accuracy --dataset NAME [--baseline] [--reach ACC ...] [--data-dir DIR] [--seed N]
                                     [--save PATH]

NAME is one of mnist, fashion_mnist, orl_faces, cifar10, cats_vs_dogs, read from
``../shared/datasets`` (or ``--data-dir``). Trains the recipe of ``core.training.recipes``
on the whole training split, then scores the official test split once (for cats_vs_dogs,
whose folder has no test split, the 100 photos its recipe's loader sets aside).
``train_seconds`` is the time spent in training alone (loading and scoring the
test split are not counted). With ``--baseline`` the same run also trains the
baseline named by the recipe (the keras-io "simple MNIST convnet" example as
published, the course project's face CNN, or the TensorFlow image classification
tutorial's CNN) on the same data and adds its
figures and the speed-up, measured side by side on the same machine.

With ``--reach 0.8`` the test split is also scored after every epoch of the recipe's run, and
``reached`` gives, for each accuracy asked for, the first epoch at or over it and the training
time up to that epoch's end (the scoring itself is not counted; the final figures are those of
the whole run, as without it).

The last line printed is JSON: ``{"dataset", "test_accuracy", "train_seconds",
"epochs", "params", "target_accuracy", "target_seconds", "meets_target", "input_shape", ...}``;
the app scales ``train_seconds`` per image and epoch by ``input_shape`` to estimate other data.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from bench import report
from core.training.recipes import RECIPES, Recipe, baseline_for, load_recipe_dataset

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def epoch_scores(model, dataset):
    """A Keras callback that scores the test split after every epoch: ``scores`` holds ``(epoch, accuracy,
    training seconds so far)``, the time spent scoring left out."""
    import keras

    from core.training.run import evaluate_model

    class EpochScores(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.scores: list[tuple[int, float, float]] = []
            self.scoring = 0.0  # seconds spent scoring so far
            self.start = None

        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            now = time.perf_counter()
            accuracy = evaluate_model(model, dataset)[1]
            self.scores.append((epoch + 1, round(accuracy, 4), round(now - self.start - self.scoring, 2)))
            self.scoring += time.perf_counter() - now
            print(f"epoch {epoch + 1}: test accuracy {accuracy:.4f} after {self.scores[-1][2]:.1f} s of training",
                  flush=True)

    return EpochScores()


def reached(scores: list[tuple[int, float, float]], targets: list[float]) -> dict:
    """For each target accuracy, the first epoch at or over it and the training seconds up to it; None if never."""
    out = {}
    for target in targets:
        hit = next((s for s in scores if s[1] >= target), None)
        out[f"{target:g}"] = None if hit is None else {"epoch": hit[0], "test_accuracy": hit[1],
                                                        "train_seconds": hit[2]}
    return out


def train_once(recipe: Recipe, dataset, seed: int, reach: list[float] | None = None) -> dict:
    from core.models.architecture import build_model
    from core.training.run import train_model

    spec = recipe.spec()
    config = recipe.train_config(seed=seed)
    model = build_model(spec, dataset.input_shape, dataset.num_classes, seed=seed)
    scorer = epoch_scores(model, dataset) if reach else None
    result = train_model(model, dataset, config, callbacks=[scorer] if scorer else None)
    if scorer is not None:  # the time spent scoring is not training
        result["train_seconds"] -= scorer.scoring
    extra = {"epoch_test_accuracy": [s[1] for s in scorer.scores], "reached": reached(scorer.scores, reach)} \
        if scorer is not None else {}
    return {**extra, "recipe": recipe.key, "test_accuracy": round(result["test_accuracy"], 4),
            "train_seconds": round(result["train_seconds"], 2), "epochs": result["epochs_done"],
            "params": int(model.count_params()), "batch_size": config.batch_size,
            "learning_rate": config.learning_rate, "schedule": config.schedule,
            "augmentation": config.augmentation, "focus": config.focus,
            "images_trained": int(sum(result["epoch_images"]))}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, choices=sorted(RECIPES))
    parser.add_argument("--baseline", action="store_true", help="also train the baseline in the same run")
    parser.add_argument("--reach", type=float, nargs="+", default=None, metavar="ACC",
                        help="also score the test split after every epoch and report when it first reached ACC")
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA), help="folder holding the shared datasets")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", default=None, metavar="PATH",
                        help="also write the JSON to PATH (assets/benchmarks/NAME.json is what the app shows)")
    args = parser.parse_args(argv)

    recipe = RECIPES[args.dataset]
    dataset = load_recipe_dataset(recipe, Path(args.data_dir))
    print(f"{dataset.title}: {len(dataset.x_train)} training and {len(dataset.x_test)} test images "
          f"of {dataset.input_shape}", flush=True)
    run = train_once(recipe, dataset, args.seed, args.reach)
    print(f"recipe {recipe.key}: {run}", flush=True)
    out = {"dataset": args.dataset, "test_accuracy": run["test_accuracy"], "train_seconds": run["train_seconds"],
           "epochs": run["epochs"], "params": run["params"], "target_accuracy": recipe.target_accuracy,
           "target_seconds": recipe.target_seconds,
           "meets_target": run["test_accuracy"] >= recipe.target_accuracy
           and run["train_seconds"] <= recipe.target_seconds,
           "recipe": run, "train_images": len(dataset.x_train), "test_images": len(dataset.x_test),
           "input_shape": list(dataset.input_shape), "test_split": recipe.test_split,
           "seed": args.seed, "cpus": os.cpu_count(), "machine": platform.machine()}
    if "reached" in run:
        out["reached"] = run["reached"]
    if args.baseline:
        base = baseline_for(recipe)
        base_run = train_once(base, dataset, args.seed)
        print(f"baseline {base.key}: {base_run}", flush=True)
        out["baseline"] = base_run
        out["speedup"] = round(base_run["train_seconds"] / run["train_seconds"], 2)
        out["accuracy_gain"] = round(run["test_accuracy"] - base_run["test_accuracy"], 4)
    out["measured"] = time.strftime("%Y-%m-%d")
    return report(out, args.save)


if __name__ == "__main__":
    main()

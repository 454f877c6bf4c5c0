"""Command line: train a preset on a dataset and save it as .keras + .json.

    python -m core.train --preset small_cnn --dataset shapes --epochs 20 --batch-size 32 --out assets/models/shapes_default
    python -m core.train --recipe cifar10_full --data-dir DIR --out OUT  # a fast recipe's every setting

With ``--recipe`` the recipe's dataset, architecture and settings are the defaults, and any
option given as well wins (the shipped photo model is the CIFAR-10 recipe with a wider preset
and more epochs).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace

from core.data.augment import FLIPS
from core.models.presets import PRESETS
from core.training.config import OPTIMIZERS, SCHEDULES, TrainConfig
from core.training.recipes import RECIPES


OFFICIAL_DATASETS = ("mnist", "fashion_mnist", "cifar10")  # the same images wherever their files are read from


def parse_args(argv=None) -> argparse.Namespace:
    defaults = TrainConfig()
    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("--recipe", choices=sorted(RECIPES), default=None)
    recipe = RECIPES.get(first.parse_known_args(argv)[0].recipe)
    p = argparse.ArgumentParser(prog="python -m core.train", description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--preset", choices=sorted(PRESETS), default="small_cnn", help="architecture")
    p.add_argument("--dataset", default="shapes", help="dataset name: shapes, digits, mnist, fashion_mnist, cifar10, folder")
    p.add_argument("--data-dir", default=None,
                   help="local folder with the dataset's files (idx files for mnist/fashion_mnist, "
                        "batches or train/test folders for cifar10, the image folder for 'folder')")
    p.add_argument("--image-size", type=int, default=64, help="input side for the 'folder' dataset")
    p.add_argument("--epochs", type=int, default=defaults.epochs)
    p.add_argument("--batch-size", type=int, default=defaults.batch_size)
    p.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=defaults.optimizer)
    p.add_argument("--validation-split", type=float, default=defaults.validation_split)
    p.add_argument("--label-smoothing", type=float, default=defaults.label_smoothing,
                   help="0 for plain cross-entropy; 0.1 trains towards 0.9 on the true class")
    p.add_argument("--focus", type=float, default=defaults.focus,
                   help="hard-image focus: after 2 whole epochs, train each epoch on this share of the images with "
                        "the highest loss, plus a tenth of the others (0: off)")
    p.add_argument("--weight-decay", type=float, default=defaults.weight_decay,
                   help="shrink every weight by learning rate x this after each step (0: off)")
    p.add_argument("--schedule", choices=SCHEDULES, default=defaults.schedule,
                   help="cosine: a short warm-up, then the learning rate falls to 0 by the last batch")
    p.add_argument("--flip", choices=FLIPS, default="none", help="augmentation: random flips")
    p.add_argument("--translation", type=float, default=0.0,
                   help="augmentation: random shifts of up to this share of the height and width")
    p.add_argument("--zoom", type=float, default=0.0, help="augmentation: random zoom of up to this share")
    p.add_argument("--recipe", choices=sorted(RECIPES), default=None,
                   help="start from a fast recipe (core/training/recipes.py): its dataset, preset, epochs, batch, "
                        "learning rate, optimizer, schedule, augmentation, label smoothing and weight decay become "
                        "the defaults; options given as well win")
    p.add_argument("--without-optimizer", action="store_true",
                   help="leave the optimizer's state out of the saved file (SGD's momentum doubles its size); "
                        "training it further then starts with a fresh optimizer")
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--name", default=None, help="model name stored in its card (default: DATASET_PRESET)")
    p.add_argument("--out", required=True, help="output path without extension; writes OUT.keras and OUT.json")
    if recipe is not None:
        aug = recipe.augmentation or {}
        p.set_defaults(dataset=recipe.dataset, preset=recipe.preset, epochs=recipe.epochs, batch_size=recipe.batch_size,
                       learning_rate=recipe.learning_rate, optimizer=recipe.optimizer,
                       validation_split=recipe.validation_split, label_smoothing=recipe.label_smoothing,
                       focus=recipe.focus, weight_decay=recipe.weight_decay, schedule=recipe.schedule,
                       flip=aug.get("flip", "none"), translation=aug.get("translation", 0.0), zoom=aug.get("zoom", 0.0))
    return p.parse_args(argv)


def augmentation_of(args: argparse.Namespace) -> dict | None:
    """The augmentation settings the options ask for, or None when none is on."""
    settings = {"flip": args.flip, "translation": args.translation, "zoom": args.zoom}
    settings = {k: v for k, v in settings.items() if v not in ("none", 0.0)}
    return settings or None


def main(argv=None) -> int:
    args = parse_args(argv)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                         optimizer=args.optimizer, validation_split=args.validation_split, seed=args.seed,
                         label_smoothing=args.label_smoothing, focus=args.focus, weight_decay=args.weight_decay,
                         schedule=args.schedule, augmentation=augmentation_of(args))
    try:  # before the dataset: a wrong setting is said at once, not after loading thousands of images
        config.validate()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from core.data import DatasetError, load_dataset

    options = {}
    if args.data_dir:
        options = {"path": args.data_dir, "image_size": args.image_size} if args.dataset == "folder" else {"folder": args.data_dir}
    try:
        dataset = load_dataset(args.dataset, options)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # Keras and TensorFlow (seconds to import) only once the settings and the data are known to be good.
    from core.models.architecture import build_model
    from core.storage.card import card_for_run
    from core.storage.files import save_model
    from core.training.callbacks import ProgressCallback
    from core.training.run import train_model

    spec = PRESETS[args.preset].spec()
    model = build_model(spec, dataset.input_shape, dataset.num_classes, seed=args.seed)
    print(f"Training {args.preset} ({model.count_params():,} parameters) on {dataset.title}: "
          f"{len(dataset.x_train)} train / {len(dataset.x_test)} test images, input {dataset.input_shape}", flush=True)

    started = time.perf_counter()

    def on_epoch(epoch, logs):
        shown = ", ".join(f"{k} {v:.4f}" for k, v in logs.items() if k != "learning_rate")
        print(f"epoch {epoch + 1}/{config.epochs} ({time.perf_counter() - started:.1f} s): {shown}", flush=True)

    result = train_model(model, dataset, config, callbacks=[ProgressCallback(on_epoch=on_epoch)])
    name = args.name or f"{args.dataset}_{args.preset}"
    card = card_for_run(model, dataset, name=name, spec=spec.to_dict(), train_config=config.to_dict(), result=result)
    if args.data_dir and args.dataset in OFFICIAL_DATASETS and card.dataset is not None:
        # The card names the dataset, not where this machine keeps its files: on another machine the app finds
        # them where it downloads or imports them (a path of this machine would name nothing there).
        card.dataset = replace(card.dataset, options={})
    if args.without_optimizer:
        import keras

        # the same layers from their config, never compiled (clone_model compiles its copy with the same optimizer)
        weights_only = keras.Model.from_config(model.get_config())
        weights_only.set_weights(model.get_weights())
        model = weights_only
    keras_path, json_path = save_model(model, card, args.out)
    summary = {"model": str(keras_path), "metadata": str(json_path), "test_accuracy": result["test_accuracy"],
               "train_seconds": round(result["train_seconds"], 2), "params": card.params}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

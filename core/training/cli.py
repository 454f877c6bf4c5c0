"""Command line: train a preset on a dataset and save it as .keras + .json.

    python -m core.train --preset small_cnn --dataset shapes --epochs 20 --batch-size 32 --out assets/models/shapes_default
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from core.models.presets import PRESETS
from core.training.config import OPTIMIZERS, TrainConfig


def parse_args(argv=None) -> argparse.Namespace:
    defaults = TrainConfig()
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
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--name", default=None, help="model name stored in its card (default: DATASET_PRESET)")
    p.add_argument("--out", required=True, help="output path without extension; writes OUT.keras and OUT.json")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                         optimizer=args.optimizer, validation_split=args.validation_split, seed=args.seed,
                         label_smoothing=args.label_smoothing, focus=args.focus)
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
    keras_path, json_path = save_model(model, card, args.out)
    summary = {"model": str(keras_path), "metadata": str(json_path), "test_accuracy": result["test_accuracy"],
               "train_seconds": round(result["train_seconds"], 2), "params": card.params}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

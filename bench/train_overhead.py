"""Cost of training through the app's job instead of a plain ``model.fit``.

    python -m bench.train_overhead [--images 12000] [--runs 3]

Trains the Keras MNIST-convnet preset for one epoch on MNIST (``../shared/datasets/mnist``
when present, else generated MNIST-shaped data) with plain ``model.fit`` and
through ``core.training.jobs.TrainingJob`` with its live-update callback and a poller
reading its progress once a second, as the Train page does. The two alternate
in one process. Last line: JSON ``{"ratio", "fit_ips", "job_ips", "runs", ...}``
where ratio is the median over runs of job images/s divided by fit images/s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from pathlib import Path

import numpy as np

from core.data import Dataset, load_dataset
from core.models.architecture import build_model
from core.models.presets import PRESETS
from core.training.config import TrainConfig
from core.training.jobs import TrainingJob
from core.training.queue import JobQueue
from core.training.run import compile_model
from core.visuals.figures import training_curves

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"
BATCH_SIZE = 128  # the keras-io example's batch size


def mnist_like(n: int) -> tuple[Dataset, str]:
    if SHARED_MNIST.is_dir():
        full = load_dataset("mnist", {"folder": str(SHARED_MNIST)})
        ds = Dataset("mnist", full.title, full.description, full.class_names,
                     full.x_train[:n], full.y_train[:n], full.x_test[:1000], full.y_test[:1000])
        return ds, "mnist"
    rng = np.random.default_rng(0)
    x = rng.random((n + 1000, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, n + 1000)
    ds = Dataset("generated", "generated", "", [str(i) for i in range(10)], x[:n], y[:n], x[n:], y[n:])
    return ds, "generated"


def fit_once(ds: Dataset, config: TrainConfig) -> float:
    model = build_model(PRESETS["keras_mnist_convnet"].spec(), ds.input_shape, 10, seed=0)
    compile_model(model, config)
    start = time.perf_counter()
    model.fit(ds.x_train, ds.y_train, batch_size=config.batch_size, epochs=config.epochs, verbose=0, shuffle=True)
    return len(ds.x_train) * config.epochs / (time.perf_counter() - start)


def job_once(ds: Dataset, config: TrainConfig) -> float:
    model = build_model(PRESETS["keras_mnist_convnet"].spec(), ds.input_shape, 10, seed=0)
    job = TrainingJob(model, ds, config, name="bench", queue=JobQueue(1)).start()

    def poll():  # what the Train page does once a second
        while not job.finished:
            snap = job.snapshot()
            training_curves(snap.batch_log, snap.epoch_log, "loss")
            training_curves(snap.batch_log, snap.epoch_log, "accuracy")
            time.sleep(1.0)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    job.join()
    poller.join()
    if job.state != "done":
        raise RuntimeError(f"job ended {job.state}: {job.snapshot().error}")
    return len(ds.x_train) * config.epochs / job.result["train_seconds"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12000, help="training images per run")
    parser.add_argument("--runs", type=int, default=3, help="alternating pairs of runs")
    args = parser.parse_args(argv)
    ds, source = mnist_like(args.images)
    config = TrainConfig(epochs=1, batch_size=BATCH_SIZE, validation_split=0.0)
    fit_once(ds, config)  # warm-up: first-use costs of TensorFlow land here, not in a measured run
    job_once(ds, config)
    fit_ips, job_ips = [], []
    for run in range(args.runs):
        # alternate which goes first, so slow drift of the machine hits both alike
        order = (fit_once, job_once) if run % 2 == 0 else (job_once, fit_once)
        for fn in order:
            (fit_ips if fn is fit_once else job_ips).append(fn(ds, config))
        print(f"run {run + 1}: fit {fit_ips[-1]:.0f} img/s, job {job_ips[-1]:.0f} img/s", flush=True)
    ratios = [j / f for j, f in zip(job_ips, fit_ips)]
    print(json.dumps({"ratio": round(statistics.median(ratios), 3), "fit_ips": round(statistics.median(fit_ips), 1),
                      "job_ips": round(statistics.median(job_ips), 1), "runs": args.runs, "data": source,
                      "images_per_run": len(ds.x_train), "batch_size": BATCH_SIZE}))


if __name__ == "__main__":
    main()

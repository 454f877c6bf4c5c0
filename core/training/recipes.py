"""Fast recipes: an architecture and the settings that train it quickly on a laptop CPU.

Each recipe was tuned for a 2-core CPU on a validation split carved out of the
training data (``chosen`` says which figures decided it); the test split was
scored only by the final runs of ``bench/time_to_accuracy.py``. A recipe trains
on the whole training split (``validation_split`` 0).

    >>> from core.training.recipes import RECIPES
    >>> recipe = RECIPES["mnist"]
    >>> model = build_model(recipe.spec(), ds.input_shape, ds.num_classes, seed=0)
    >>> train_model(model, ds, recipe.train_config())
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from core.models.architecture import ModelSpec
from core.models.presets import PRESET_SPECS
from core.training.config import TrainConfig


@dataclass(frozen=True)
class Recipe:
    key: str  # the benchmark's dataset name
    title: str
    dataset: str  # name in core.data.DATASETS
    folder: str  # sub-folder of the shared datasets folder holding the data
    preset: str  # key of the architecture in core.models.presets
    epochs: int
    batch_size: int
    learning_rate: float
    optimizer: str = "adam"
    schedule: str = "cosine"
    validation_split: float = 0.0
    augmentation: dict | None = None
    label_smoothing: float = 0.0
    weight_decay: float = 0.0
    focus: float = 0.0  # hard-image focus (TrainConfig.focus), with its default warm-up and revisit shares
    load_options: dict = field(default_factory=dict)  # loader options besides the folder
    target_accuracy: float = 0.0  # on the official test split: what tuning aimed at, not a measurement
    target_seconds: float = 0.0  # of training on a 2-core CPU
    train_images: int = 0  # in the training split the recipe was tuned and timed on
    baseline: str | None = None  # key of BASELINES to compare with
    chosen: str = ""  # how the settings were chosen
    test_split: str = "the official test split"  # what the benchmark scored, as a sentence names it
    data_title: str = ""  # the photos it was tuned on, as a sentence names them (default: the title's first part)

    @property
    def tuned_on(self) -> str:
        return self.data_title or self.title.split(",")[0]

    def spec(self) -> ModelSpec:
        return PRESET_SPECS[self.preset]()

    def train_config(self, seed: int = 0) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size, learning_rate=self.learning_rate,
                           optimizer=self.optimizer, validation_split=self.validation_split, seed=seed,
                           schedule=self.schedule, augmentation=dict(self.augmentation) if self.augmentation else None,
                           label_smoothing=self.label_smoothing, focus=self.focus, weight_decay=self.weight_decay)


RECIPES: dict[str, Recipe] = {
    "mnist": Recipe(
        key="mnist", title="MNIST in seconds", dataset="mnist", folder="mnist", preset="mnist_fast",
        epochs=3, batch_size=128, learning_rate=1e-2, target_accuracy=0.99, target_seconds=30, train_images=60_000,
        baseline="keras_io_mnist_convnet",
        chosen="6,000 of the 60,000 training images held out: 99.12% after 3 epochs with dense 128 at learning "
               "rate 0.01 and batch 128 (dense 64: 98.87% after 3, 99.02% after 4; 98.98% at batch 256; 98.80% "
               "at 0.003 after 6); keras-io convnet 98.58% after 3, 98.83% after 4",
    ),
    "fashion_mnist": Recipe(
        key="fashion_mnist", title="Fashion-MNIST in two minutes", dataset="fashion_mnist", folder="fashion_mnist",
        preset="fashion_fast", epochs=12, batch_size=256, learning_rate=1e-2, focus=0.5, target_accuracy=0.925,
        target_seconds=120, train_images=60_000, baseline="keras_io_mnist_convnet",
        chosen="6,000 of the 60,000 training images held out, two hold-outs (split seeds 123 and 7): 16 padded and "
               "64 valid filters with dense 256 at batch 256, 93.67% and 92.90% after 12 epochs (a second seed: "
               "93.48% and 92.62%), against 93.28% and 92.48% (second seed 92.83%) for 16-32 filters with dense 128 "
               "at batch 128, which reached 92.32% on the test split; 24-64 with dense 128 93.47% and 93.07% at 1.9x "
               "the time; 16-64 with dense 128 93.43% and 92.55%; the same with 5x5 first kernels 92.63% and "
               "92.55%; a strided 5x5 first convolution 92.88% and 92.13%; 16-32 with dense 256 92.88% and 92.12%; "
               "10 epochs 93.37% and 92.47%, 11 epochs 93.25% and 92.90%. Before: both convolutions unpadded 92.05%, batch norm, label "
               "smoothing, AdamW, flips, shifts and more dropout did not help. Then hard-image focus 0.5 (after 2 whole "
               "epochs, each epoch the hardest half and a tenth of the rest: 0.63x the batches) 93.42% and 93.02%, "
               "against 93.67% and 92.90% for 12 whole epochs; with a fifth of the rest 93.60% and 92.85% (0.67x); "
               "the hardest 40% and a fifth 93.58% and 92.68% (0.60x), over 14 epochs 93.35% and 93.18% (0.69x)",
    ),
    "orl_faces": Recipe(
        key="orl_faces", title="ORL faces, 5 photos a person", dataset="folder", folder="orl_faces",
        preset="faces_fast", epochs=50, batch_size=16, learning_rate=3e-3,
        augmentation={"rotation_degrees": 5.0, "zoom": 0.05, "translation": 0.05, "brightness": 0.1},
        load_options={"image_size": [56, 46], "channels": 1, "train_per_class": 5},
        target_accuracy=0.97, target_seconds=30, train_images=200, baseline="course_face_cnn",
        chosen="one of each person's 5 training photos held out (40 photos), 3 different hold-outs: 92.5%, 97.5% "
               "and 92.5% after 50 epochs, 90%, 100% and 97.5% after 60 (within one photo: 50 is faster); "
               "without augmentation 92.5% on the hardest hold-out",
    ),
    "cats_vs_dogs": Recipe(
        key="cats_vs_dogs", title="Your own photos, a few dozen to a few thousand a class", dataset="folder",
        folder="cats_vs_dogs/training_set", data_title="Cats vs Dogs photos", preset="tf_image_classification",
        epochs=60, batch_size=32, learning_rate=3e-3,
        augmentation={"flip": "horizontal", "zoom": 0.1, "translation": 0.1},
        # The shared folder holds only training_set/ (300 cats, 300 dogs): 50 of each, drawn with seed 0, are
        # set aside as the test split before any tuning, and the settings are chosen on folds of the other 500.
        load_options={"image_size": 64, "channels": 3, "test_fraction": 1 / 6, "seed": 0},
        test_split="100 photos set aside before tuning", target_accuracy=0.7, target_seconds=90, train_images=500,
        baseline="tf_image_classification",
        chosen="three folds of the 500 training photos (train on 333, score the other 167; the mean over all 500), "
               "at 64x64, batch 32, lr 0.003, cosine, flips, zooms and shifts of 10%: the TensorFlow tutorial's "
               "16-32-64 CNN with dense 128 71.0% (73.0, 68.3, 71.7) after 60 epochs, 65.6% after 30, 68.4% after "
               "90; 60 epochs without augmentation 66.2%, 30 without 65.4%; dropout 0.3 before dense 128 71.2% "
               "after 60 (no gain: left out), 67.4% after 30; lr 0.001 66.6% after 30; 32-64-128 with dense 128 "
               "66.6% after 30 at about 2.5x the time; a fourth block 32-64-128-128 54.4%; 96x96 63.5% on one "
               "fold after 30 (67.7% at 64x64), at 2.25x the pixels; the tutorial as published (10 epochs, lr "
               "0.001, constant, no augmentation) 63.6%. Two random hold-outs of 50 had given "
               "56% and 74% for one setting: too noisy to choose on",
    ),
    "cifar10": Recipe(
        key="cifar10", title="CIFAR-10 from 10,000 photos", dataset="cifar10", folder="cifar10",
        preset="cifar_fast", epochs=30, batch_size=64, learning_rate=3e-3,
        augmentation={"flip": "horizontal", "translation": 0.1}, label_smoothing=0.2,
        target_accuracy=0.70, target_seconds=300, train_images=10_000, baseline="keras_io_mnist_convnet",
        chosen="1,000 of the 10,000 training photos held out: 69.1% with label smoothing 0.2, 68.7% with 0.1, "
               "67.8% without; batch norm 67.5% (1.5x the time); 36-72-144 filters 69.1%, 69.4% with smoothing "
               "0.1, at 1.3x the time. Then, with smoothing 0.2, two other hold-outs of 1,000: 30 epochs 68.9% and "
               "70.0% against 68.3% and 67.1% for 25 (32 epochs 71.2% on the first, but close to 5 minutes)",
    ),
    "cifar10_full": Recipe(
        key="cifar10_full", title="CIFAR-10, all 50,000 photos, in a quarter of an hour", dataset="cifar10",
        folder="cifar10_full", preset="cifar_full_fast", epochs=10, batch_size=128, learning_rate=0.1,
        optimizer="sgd", augmentation={"flip": "horizontal", "translation": 0.0625}, label_smoothing=0.2,
        weight_decay=5e-3, target_accuracy=0.85, target_seconds=900, train_images=50_000,
        baseline="keras_cifar10_cnn",
        chosen="5,000 of the 50,000 training photos held out, airbench's layout at 24/32-64-128 filters (about 560 "
               "photos a second here, twice the speed of pooling after each block's batch norm): at batch 256, lr "
               "0.2 and weight decay 5e-4 with sub-pixel shifts 80.3% after 10 epochs (81.7% with test-time "
               "flips); weight decay 5e-3 with whole-pixel shifts 82.5% (83.8%); then batch 128 at lr 0.1 85.3% "
               "after 11 epochs (86.1%), 85.3% already after 10 of them: 10 epochs keep the run under 15 minutes. "
               "Wider nets (48-96-192: 200 photos a second) cannot train enough epochs in the time",
    ),
}

# What the recipes are compared with, trained as published.
BASELINES: dict[str, Recipe] = {
    # keras-io examples/vision/mnist_convnet.py: batch 128, 15 epochs, Adam, validation_split 0.1
    "keras_io_mnist_convnet": Recipe(
        key="keras_io_mnist_convnet", title="keras-io simple MNIST convnet", dataset="", folder="",
        preset="keras_mnist_convnet", epochs=15, batch_size=128, learning_rate=1e-3, schedule="constant",
        validation_split=0.1,
    ),
    # keras examples/cifar10_cnn.py: RMSprop at 1e-4 (its decay of 1e-6 a step left out), batch 32, 50 epochs with
    # flips and shifts of a tenth; about an hour and a quarter on 2 cores
    "keras_cifar10_cnn": Recipe(
        key="keras_cifar10_cnn", title="Keras CIFAR-10 CNN example", dataset="", folder="",
        preset="keras_cifar10_cnn", epochs=50, batch_size=32, learning_rate=1e-4, optimizer="rmsprop",
        schedule="constant", augmentation={"flip": "horizontal", "translation": 0.1},
    ),
    # the TensorFlow tutorial "Image classification": 10 epochs of Adam at batch 32, no augmentation
    "tf_image_classification": Recipe(
        key="tf_image_classification", title="TensorFlow image classification tutorial", dataset="", folder="",
        preset="tf_image_classification", epochs=10, batch_size=32, learning_rate=1e-3, schedule="constant",
    ),
    # the course project's face CNN: 10 epochs of Adam
    "course_face_cnn": Recipe(
        key="course_face_cnn", title="Course face CNN", dataset="", folder="", preset="face_cnn",
        epochs=10, batch_size=32, learning_rate=1e-3, schedule="constant",
    ),
}


def baseline_for(recipe: Recipe) -> Recipe:
    if not recipe.baseline:
        raise KeyError(f"Recipe {recipe.key!r} names no baseline.")
    return BASELINES[recipe.baseline]


# datasets of photos a user brought (a folder, a zip, the Olivetti faces): they get the recipe that fits them
PHOTO_FOLDERS = ("folder", "olivetti")
# A folder of faces has a class per person: grey photos, a handful each, of several people (ORL and Olivetti:
# 40 people, 5 training photos each). Colour photos, grey photos with many a class (scans, X-rays) or two or
# three grey classes (more often a yes/no question than people) get the general photo recipe.
FACES_MAX_PER_CLASS = 20  # training photos of a class, the median over classes
FACES_MIN_CLASSES = 4


def looks_like_faces(dataset) -> bool:
    """Whether a loaded folder fits the faces recipe: grey photos of several classes with few photos each."""
    import numpy as np

    counts = np.bincount(np.asarray(dataset.y_train, np.int64), minlength=dataset.num_classes)
    return (dataset.input_shape[-1] == 1 and dataset.num_classes >= FACES_MIN_CLASSES
            and float(np.median(counts)) <= FACES_MAX_PER_CLASS)


# CIFAR-10 with more training photos than this gets the recipe tuned on all 50,000, fewer the 10,000-photo one
FULL_CIFAR_FROM = 20_000


def recipe_for(dataset) -> Recipe | None:
    """The recipe for a loaded dataset.

    The classic datasets by name (CIFAR-10 also by its size); a folder of photos by what it holds (``looks_like_faces``): the faces
    recipe for grey photos of many people, the photo recipe for any other photos. None for the rest.
    """
    if dataset.name == "cifar10":  # the download and the official files give all 50,000; the shared subset 10,000
        return RECIPES["cifar10_full" if len(dataset.x_train) > FULL_CIFAR_FROM else "cifar10"]
    if dataset.name in RECIPES:
        return RECIPES[dataset.name]
    if dataset.name in PHOTO_FOLDERS:
        return RECIPES["orl_faces" if looks_like_faces(dataset) else "cats_vs_dogs"]
    return None


# the share of training images a recipe holds out for validation on photos it was not tuned on
UNTUNED_VALIDATION = 0.1


def tuned_for(recipe: Recipe, dataset) -> bool:
    """Whether ``dataset`` is the one the recipe was tuned on, rather than other photos in a folder.

    The benchmark's datasets are named after their recipe (``load_recipe_dataset``); a
    folder or the Olivetti faces loaded in the app are other photos.
    """
    return dataset.name == recipe.key or (recipe.dataset not in PHOTO_FOLDERS and dataset.name == recipe.dataset)


def recipe_validation_split(recipe: Recipe, dataset) -> float:
    """The recipe's validation share, or a tenth on other photos, so their curves show any overfitting."""
    return recipe.validation_split if tuned_for(recipe, dataset) else UNTUNED_VALIDATION


def recipe_reach(recipe: Recipe) -> str:
    """What the recipe reaches on its own dataset: measured, from its saved benchmark, or else its target, said so."""
    from core.training.benchmarks import format_accuracy, recipe_measurement

    run = recipe_measurement(recipe.key)
    if run is None:
        return (f"is tuned to reach {format_accuracy(recipe.target_accuracy)} on {recipe.test_split} within "
                f"{recipe.target_seconds:g} s of training on a 2-core laptop CPU")
    meets = run.test_accuracy >= recipe.target_accuracy and run.train_seconds <= recipe.target_seconds
    return (f"reaches {format_accuracy(run.test_accuracy)} on {recipe.test_split} after {run.train_seconds:.1f} s "
            f"of training on a {run.cpus or '?'}-core CPU (measured {run.measured or 'on an unrecorded date'}; "
            + ("within its target)" if meets else f"its target: {format_accuracy(recipe.target_accuracy)} "
                                                   f"within {recipe.target_seconds:g} s)"))


@dataclass(frozen=True)
class ImageCost:
    """Seconds of training per image and epoch, and the image size it holds for."""

    seconds: float
    size: tuple[int, int] | None  # (height, width) it was measured at; None when unknown (then it is not scaled)
    measured: bool  # from the recipe's benchmark file; else its target divided over its epochs and images

    @property
    def pixels(self) -> int | None:
        return self.size[0] * self.size[1] if self.size else None


def recipe_image_cost(recipe: Recipe) -> ImageCost:
    """What one image costs an epoch of the recipe: measured where its benchmark file says, else from its target."""
    from core.training.benchmarks import recipe_measurement

    run = recipe_measurement(recipe.key)
    size = recipe.load_options.get("image_size")
    size = ((size, size) if isinstance(size, int) else tuple(size)) if size else None
    if run is not None and run.seconds_per_image:
        return ImageCost(run.seconds_per_image, tuple(run.input_shape[:2]) if run.input_shape else size, True)
    return ImageCost(recipe.target_seconds / (recipe.epochs * recipe.train_images), size, False)


def estimate_seconds(images: int, epochs: int, cost: ImageCost, pixels: int) -> float:
    """Training time of ``images`` images of ``pixels`` pixels for ``epochs`` epochs at ``cost``.

    The cost scales with the pixel count: a convolution's work is proportional to the area of its maps, and
    the convolutions are most of a small CNN's time (the first layer's channels are left out of the scaling).
    """
    scale = pixels / cost.pixels if cost.pixels else 1.0
    return images * epochs * cost.seconds * scale


def format_duration(seconds: float) -> str:
    """A duration as the recipe line says it: whole seconds (at least 1) up to 89 s, then whole minutes."""
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{max(seconds, 1):.0f} s"


def recipe_time_estimate(recipe: Recipe, dataset) -> str:
    """The training time the recipe should take on ``dataset``, said as an estimate with its arithmetic."""
    from core.training.config import validation_size

    n = len(dataset.x_train)
    images = n - validation_size(n, recipe_validation_split(recipe, dataset))
    height, width = dataset.input_shape[:2]
    cost = recipe_image_cost(recipe)
    seconds = estimate_seconds(images, recipe.epochs, cost, height * width)
    basis = "measured" if cost.measured else "from its target"
    size = (f" at {cost.size[0]}×{cost.size[1]}, scaled to {height}×{width}"
            if cost.size and cost.size != (height, width) else "")
    photos = f"{images:,} photo{'s' if images != 1 else ''}"
    return (f"On these {photos.replace('photo', 'training photo')} of {height}×{width} training should take about "
            f"{format_duration(seconds)} (an estimate: {photos} × {recipe.epochs} epochs × "
            f"{1000 * cost.seconds:.2g} ms a photo and epoch, {basis}{size}).")


def recipe_promise(recipe: Recipe, dataset) -> str:
    """What the recipe is known to reach, and how long it should take on the loaded dataset (the Train page shows it)."""
    reach = recipe_reach(recipe)
    if not tuned_for(recipe, dataset):
        return (f"Tuned on the {recipe.tuned_on} ({recipe.train_images} training photos), where it {reach}. "
                f"For other photos it is a starting point: it keeps {UNTUNED_VALIDATION:.0%} of the training "
                "photos for validation, so the curves show whether it overfits. "
                + recipe_time_estimate(recipe, dataset))
    n = len(dataset.x_train)
    if recipe.train_images and abs(n - recipe.train_images) > 0.05 * recipe.train_images:
        cost = recipe_image_cost(recipe)
        seconds = estimate_seconds(n, recipe.epochs, cost, dataset.input_shape[0] * dataset.input_shape[1])
        return (f"Tuned on {recipe.train_images:,} training images, where it {reach}; on these {n:,} expect about "
                f"{format_duration(seconds)}.")
    return f"On these images it {reach}."


def load_recipe_dataset(recipe: Recipe, data_dir: Path, progress=None):
    """The recipe's dataset from ``data_dir/<recipe.folder>`` (the layout of the shared datasets)."""
    from core.data import DatasetError, load_dataset

    folder = Path(data_dir) / recipe.folder
    if not folder.is_dir():
        raise DatasetError(f"Folder not found: {folder}. Expected the {recipe.key} files there "
                           f"(see the datasets README).")
    options = dict(recipe.load_options)
    options["path" if recipe.dataset == "folder" else "folder"] = str(folder)
    dataset = load_dataset(recipe.dataset, options, progress=progress)
    if recipe.dataset == "folder":
        dataset = replace(dataset, name=recipe.key, title=recipe.tuned_on)
    return dataset

"""Does a picture look like the images a model was made for? Two checks, calibrated on the model's own data.

A softmax always shares 100 % among the classes the model knows, so a photo of a cat gets
"star, 99.9 %" from a model of four shapes. Two signals tell such a picture from the model's
own images, each with a threshold that most of the model's own test images pass:

- **Confidence**: the top probability (and its twin, the entropy of the probabilities).
  Low means the model hesitates between its classes.
- **Features**: how far the picture's channel statistics (mean and standard deviation of
  every map) at the middle convolution layer lie from those of the training images, as a
  Mahalanobis distance (full covariance) divided by the square root of their number, so a
  typical training image sits near 1. High means the filters respond to the picture as to
  nothing they saw in training.

Measured on the shipped shapes model (thresholds passed by 95 % of the Shapes test images):
the top probability flags 53 % of 17 ``skimage.data`` photos, no test pattern (colour bars,
checkerboard, noise: the model is sure of them) and 16 % of CIFAR-10 test photos; the
distance to the nearest class mean of the penultimate layer (``dense1``) flags 14 %, 2 of 3
and 5 %: those pictures land inside the class clusters, so that layer cannot tell. The
channel statistics of ``conv2`` with a full covariance flag 76 %, 3 of 3 and 97 %; with a
diagonal one only 47 %, 1 of 3 and 20 % (the channels move together). On a small MNIST model
the same statistics flag 100 % of Fashion-MNIST, where the top probability flags 36 %.
The two checks fail on different photos (textures such as grass and gravel look like a
noisy background to the filters but leave the model unsure), so a picture is called unlike
the model's data when either fails; each threshold is therefore set at the 97.5th
percentile, and ``NoveltyCalibration.pass_rate`` records how many calibration images pass both.

Nothing here changes the model it is given.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np

CARD_KEY = "novelty"  # the model card's ``extra`` entry that holds a stored calibration
SIGNAL_PASS = 0.975  # share of the calibration images each check lets through; both together ~95 %
FIT_IMAGES = 4000  # training images the feature statistics are fitted on, at most
CALIBRATION_IMAGES = 2000  # test images the thresholds are set on, at most
SHRINKAGE = 0.01  # the covariance's diagonal is raised by this share, so rare directions stay finite


def entropy(probabilities: np.ndarray) -> np.ndarray | float:
    """Entropy in bits of probability vectors along the last axis (0: certain; log2(K): uniform)."""
    p = np.asarray(probabilities, np.float64)
    terms = np.where(p > 0, -p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
    out = terms.sum(axis=-1)
    return float(out) if out.ndim == 0 else out


def feature_layer(model) -> str | None:
    """The convolution layer whose statistics the feature check reads: the middle one (None without any).

    Early layers see only edges and colours, the last ones already lean toward the model's
    classes; on the shipped model the middle of three (``conv2``) separated photos best.
    """
    from core.inspection.layers import conv_layers

    convs = conv_layers(model)
    return convs[len(convs) // 2].name if convs else None


def channel_statistics(maps: np.ndarray) -> np.ndarray:
    """Mean and standard deviation of every channel of feature maps.

    Args:
        maps: (height, width, channels) for one image or (N, height, width, channels).

    Returns:
        (2 * channels,) or (N, 2 * channels): the channel means, then the channel standard deviations.
    """
    m = np.asarray(maps, np.float64)
    if m.ndim not in (3, 4):
        raise ValueError(f"Expected feature maps of shape (height, width, channels) or (N, height, width, channels). "
                         f"Received: shape={m.shape}")
    axes = (-3, -2)
    return np.concatenate([m.mean(axis=axes), m.std(axis=axes)], axis=-1)


def layer_statistics(model, x: np.ndarray, layer_name: str, batch_size: int = 256) -> np.ndarray:
    """``channel_statistics`` of the maps of ``layer_name`` for every image of ``x`` (N, 2 * channels)."""
    from core.inspection.embedding import embed

    channels = int(model.get_layer(layer_name).output.shape[-1])
    rows = []
    for start in range(0, len(x), batch_size):
        flat = embed(model, x[start:start + batch_size], layer_name, batch_size=batch_size)
        rows.append(channel_statistics(flat.reshape(len(flat), -1, 1, channels)))
    return np.concatenate(rows) if rows else np.zeros((0, 2 * channels))


def mahalanobis(features: np.ndarray, mean: np.ndarray, precision: np.ndarray) -> np.ndarray | float:
    """Mahalanobis distance ``sqrt((f - mean) @ precision @ (f - mean) / D)`` of each row (D: the features' length)."""
    f = np.asarray(features, np.float64)
    d = f - np.asarray(mean, np.float64)
    squared = np.einsum("...i,ij,...j->...", d, np.asarray(precision, np.float64), d) / d.shape[-1]
    out = np.sqrt(np.clip(squared, 0.0, None))
    return float(out) if out.ndim == 0 else out


def fit_precision(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and inverse covariance of feature rows, the diagonal shrunk by ``SHRINKAGE`` (dead channels stay finite)."""
    f = np.asarray(features, np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"Expected at least 2 feature rows of shape (N, D). Received: shape={f.shape}")
    mean = f.mean(axis=0)
    cov = np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])
    diag = np.diag(cov)
    floor = 1e-6 * max(float(diag.mean()), 1e-12)
    cov = cov + np.diag(SHRINKAGE * diag + floor)
    return mean, np.linalg.pinv(cov, hermitian=True)


@dataclass
class NoveltyCalibration:
    """What the two checks compare a picture with, measured on the model's own data; stored in its card."""

    dataset: str  # title of the data it was measured on
    class_names: list[str]  # the model's classes then (a calibration for other classes does not apply)
    input_shape: tuple[int, int, int]  # the model's input then
    min_top_probability: float  # a top probability below this fails the confidence check
    max_entropy: float  # bits; the entropy passed by the same share of images (shown, not used for the verdict)
    layer: str | None = None  # the convolution layer of the feature check; None: no feature check
    mean: np.ndarray | None = None  # (D,) channel statistics of the training images
    precision: np.ndarray | None = None  # (D, D) their inverse covariance
    max_distance: float | None = None  # a distance above this fails the feature check
    fit_images: int = 0  # training images the statistics came from
    calibration_images: int = 0  # test images the thresholds came from
    pass_rate: float = 0.0  # share of those test images that pass both checks

    def applies_to(self, class_names: list[str], input_shape: tuple) -> bool:
        """True when this calibration was made for a model with these classes and this input."""
        return list(class_names) == list(self.class_names) and tuple(input_shape) == tuple(self.input_shape)

    def to_dict(self) -> dict:
        data = {"dataset": self.dataset, "class_names": list(self.class_names), "input_shape": list(self.input_shape),
                "min_top_probability": self.min_top_probability, "max_entropy": self.max_entropy,
                "layer": self.layer, "max_distance": self.max_distance, "fit_images": self.fit_images,
                "calibration_images": self.calibration_images, "pass_rate": self.pass_rate}
        if self.mean is not None and self.precision is not None:
            data["mean"] = _pack(self.mean)
            data["precision"] = _pack(self.precision)
        return data

    @classmethod
    def from_dict(cls, data) -> "NoveltyCalibration | None":
        """A calibration from what a card stores; None when it is missing or not one this version can read."""
        if not isinstance(data, dict):
            return None
        try:
            mean = _unpack(data["mean"]) if data.get("mean") is not None else None
            precision = _unpack(data["precision"]) if data.get("precision") is not None else None
            layer = data.get("layer") if isinstance(data.get("layer"), str) else None
            usable = layer is not None and mean is not None and precision is not None \
                and precision.shape == (len(mean), len(mean)) and data.get("max_distance") is not None
            return cls(dataset=str(data["dataset"]), class_names=[str(n) for n in data["class_names"]],
                       input_shape=tuple(int(v) for v in data["input_shape"]),
                       min_top_probability=float(data["min_top_probability"]), max_entropy=float(data["max_entropy"]),
                       layer=layer if usable else None, mean=mean if usable else None,
                       precision=precision if usable else None,
                       max_distance=float(data["max_distance"]) if usable else None,
                       fit_images=int(data.get("fit_images", 0)),
                       calibration_images=int(data.get("calibration_images", 0)),
                       pass_rate=float(data.get("pass_rate", 0.0)))
        except (KeyError, TypeError, ValueError):
            return None


def _pack(array: np.ndarray) -> dict:
    # float32 in base64: the 64 x 64 precision of the shipped model is 22 kB instead of about 55 kB of decimals
    a = np.ascontiguousarray(array, np.float32)
    return {"dtype": "float32", "shape": list(a.shape), "base64": base64.b64encode(a.tobytes()).decode("ascii")}


def _unpack(value) -> np.ndarray:
    if not isinstance(value, dict) or value.get("dtype") != "float32":
        raise ValueError(f"Expected a float32 array table. Received: {type(value).__name__}")
    shape = tuple(int(v) for v in value["shape"])
    return np.frombuffer(base64.b64decode(value["base64"]), np.float32).reshape(shape).astype(np.float64)


def calibrate(model, x_fit: np.ndarray, x_calibration: np.ndarray, *, dataset: str, class_names: list[str],
              seed: int = 0) -> NoveltyCalibration:
    """Measure both checks' thresholds for ``model`` on images it was made for.

    Args:
        model: a Keras image classifier; it is not modified.
        x_fit: training images; the feature statistics are fitted on up to ``FIT_IMAGES`` of them.
        x_calibration: held-out (test) images; the thresholds are set on up to ``CALIBRATION_IMAGES``
            of them so that ``SIGNAL_PASS`` of them pass each check.
        dataset: the data's title, shown beside the thresholds.
        class_names: the model's classes.
        seed: picks the subsets.

    Returns:
        the calibration; without a convolution layer it has only the confidence check.
    """
    rng = np.random.default_rng(seed)
    x_fit = _subset(x_fit, FIT_IMAGES, rng)
    x_cal = _subset(x_calibration, CALIBRATION_IMAGES, rng)
    if len(x_cal) < 2:
        raise ValueError(f"Expected at least 2 calibration images. Received: {len(x_cal)}")
    probs = np.concatenate([np.asarray(model(x_cal[i:i + 256], training=False)) for i in range(0, len(x_cal), 256)])
    top = probs.max(axis=1)
    min_top = float(np.quantile(top, 1.0 - SIGNAL_PASS))
    passes = top >= min_top
    layer = feature_layer(model) if len(x_fit) >= 2 else None
    mean = precision = max_distance = None
    if layer is not None:
        mean, precision = fit_precision(layer_statistics(model, x_fit, layer))
        distances = mahalanobis(layer_statistics(model, x_cal, layer), mean, precision)
        max_distance = float(np.quantile(distances, SIGNAL_PASS))
        passes &= distances <= max_distance
    return NoveltyCalibration(
        dataset=dataset, class_names=list(class_names), input_shape=tuple(int(d) for d in model.input_shape[1:]),
        min_top_probability=min_top, max_entropy=float(np.quantile(entropy(probs), SIGNAL_PASS)),
        layer=layer, mean=mean, precision=precision, max_distance=max_distance,
        fit_images=len(x_fit) if layer is not None else 0, calibration_images=len(x_cal),
        pass_rate=float(passes.mean()))


def calibrate_on_dataset(model, dataset, seed: int = 0) -> NoveltyCalibration:
    """``calibrate`` on a ``core.data.Dataset`` the model was made for: fitted on its training split, set on its test split."""
    return calibrate(model, dataset.x_train, dataset.x_test, dataset=dataset.title,
                     class_names=list(dataset.class_names), seed=seed)


def _subset(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x if len(x) <= n else x[np.sort(rng.choice(len(x), n, replace=False))]


@dataclass
class NoveltyReport:
    """Both checks for one picture: the measured values, the thresholds and the verdict."""

    top_probability: float
    entropy: float  # bits
    min_top_probability: float
    max_entropy: float
    distance: float | None  # None: no feature check for this model
    max_distance: float | None

    @property
    def unsure(self) -> bool:
        """The confidence check fails: the top probability is lower than on most of the model's own images."""
        return self.top_probability < self.min_top_probability

    @property
    def far(self) -> bool:
        """The feature check fails: the filters respond unlike they did to any usual training image."""
        return self.distance is not None and self.distance > self.max_distance

    @property
    def novel(self) -> bool:
        """Unlike the images the model was made for: either check fails."""
        return self.unsure or self.far


def assess(model, image: np.ndarray, probabilities: np.ndarray, calibration: NoveltyCalibration) -> NoveltyReport:
    """Both checks for one model-ready image whose class probabilities are ``probabilities``."""
    from core.inspection.layers import activations

    p = np.asarray(probabilities, np.float64)
    distance = None
    if calibration.layer is not None:
        maps = activations(model, image)[calibration.layer]
        distance = mahalanobis(channel_statistics(maps), calibration.mean, calibration.precision)
    return NoveltyReport(top_probability=float(p.max()), entropy=entropy(p),
                         min_top_probability=calibration.min_top_probability, max_entropy=calibration.max_entropy,
                         distance=distance, max_distance=calibration.max_distance)


def stored_calibration(card) -> NoveltyCalibration | None:
    """The calibration a model card holds (``card.extra[CARD_KEY]``), if any."""
    return NoveltyCalibration.from_dict(card.extra.get(CARD_KEY))


def store_calibration(card, calibration: NoveltyCalibration) -> None:
    """Keep ``calibration`` in the card, to be written with it."""
    card.extra[CARD_KEY] = calibration.to_dict()


def main(argv: list[str] | None = None) -> None:
    """Calibrate a saved model on its own dataset and write the calibration into its card.

    ``python -m core.inspection.novelty assets/models/shapes_default``
    """
    import argparse
    import json

    from core.data import load_dataset
    from core.storage.files import load_model, model_paths

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("model", help="NAME of NAME.keras and NAME.json")
    path = parser.parse_args(argv).model
    model, card = load_model(path)
    if card.dataset is None:
        raise SystemExit(f"Expected a card that names the model's dataset. Received: none in {model_paths(path)[1]}")
    calibration = calibrate_on_dataset(model, load_dataset(card.dataset.name, card.dataset.options))
    # The file is updated in place, every other field as it was (the shipped card keeps its schema-1 layout).
    json_path = model_paths(path)[1]
    data = json.loads(json_path.read_text())
    data[CARD_KEY] = calibration.to_dict()
    json_path.write_text(json.dumps(data, indent=2))
    print(f"{json_path}: top probability >= {calibration.min_top_probability:.4f}, {calibration.layer} distance <= "
          f"{calibration.max_distance}; {calibration.pass_rate:.1%} of {calibration.calibration_images} test images pass")


if __name__ == "__main__":
    main()

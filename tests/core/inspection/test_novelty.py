"""core.inspection.novelty: the signals against NumPy and SciPy formulas, the calibration's round trip through a
card, and real pictures: the shipped shapes model flags photos and test patterns, an MNIST model flags Fashion-MNIST.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy.spatial.distance import mahalanobis as scipy_mahalanobis
from scipy.stats import entropy as scipy_entropy

from core.data import load_dataset
from core.data.images import to_model_input
from core.inspection.layers import activations
from core.inspection.novelty import (CARD_KEY, SHRINKAGE, NoveltyCalibration, assess, calibrate, calibrate_on_dataset,
                                     channel_statistics, entropy, feature_layer, fit_precision, layer_statistics,
                                     mahalanobis, stored_calibration, store_calibration)
from core.storage.card import ModelCard
from core.storage.files import load_model
from inspection_models import INPUT_SHAPE


def test_entropy_is_scipys_in_bits():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(5), size=20)
    np.testing.assert_allclose(entropy(probs), scipy_entropy(probs, base=2, axis=1), rtol=1e-12)
    assert entropy(np.array([0.25, 0.25, 0.25, 0.25])) == pytest.approx(2.0)
    assert entropy(np.array([0.0, 1.0, 0.0])) == 0.0  # 0 log 0 counts as 0, not nan
    assert isinstance(entropy(probs[0]), float)


def test_channel_statistics_are_numpy_means_and_stds():
    maps = np.random.default_rng(1).normal(size=(3, 6, 5, 4))
    stats = channel_statistics(maps)
    assert stats.shape == (3, 8)
    np.testing.assert_allclose(stats[:, :4], maps.mean(axis=(1, 2)))
    np.testing.assert_allclose(stats[:, 4:], maps.std(axis=(1, 2)))
    np.testing.assert_allclose(channel_statistics(maps[1]), stats[1])
    with pytest.raises(ValueError, match=r"Received: shape=\(5, 4\)"):
        channel_statistics(maps[0, 0])


def test_mahalanobis_is_scipys_over_the_square_root_of_the_dimension():
    rng = np.random.default_rng(2)
    rows = rng.normal(size=(200, 6)) @ rng.normal(size=(6, 6))
    mean, precision = fit_precision(rows)
    queries = rng.normal(size=(5, 6)) * 3
    expected = [scipy_mahalanobis(q, mean, precision) / np.sqrt(6) for q in queries]
    np.testing.assert_allclose(mahalanobis(queries, mean, precision), expected, rtol=1e-10)
    assert mahalanobis(queries[0], mean, precision) == pytest.approx(expected[0])
    # the inverse of NumPy's covariance with its diagonal raised by SHRINKAGE (and a tiny floor)
    cov = np.cov(rows, rowvar=False)
    shrunk = cov + np.diag(SHRINKAGE * np.diag(cov) + 1e-6 * np.diag(cov).mean())
    np.testing.assert_allclose(precision, np.linalg.inv(shrunk), rtol=1e-6)
    np.testing.assert_allclose(mean, rows.mean(axis=0))


def test_a_dead_channel_keeps_the_precision_finite():
    rows = np.random.default_rng(3).normal(size=(50, 4))
    rows[:, 2] = 0.0  # a ReLU channel that never fires on the training images
    mean, precision = fit_precision(rows)
    assert np.isfinite(precision).all()
    firing = np.zeros(4)
    firing[2] = 1.0
    assert mahalanobis(firing, mean, precision) > 100 * mahalanobis(rows[0], mean, precision)


def test_layer_statistics_are_those_of_each_images_activations(model_of_each_kind):
    x = np.random.default_rng(4).uniform(size=(5, *INPUT_SHAPE)).astype(np.float32)
    layer = feature_layer(model_of_each_kind)
    assert layer == "conv_b"  # the middle of conv_a, conv_b
    expected = np.stack([channel_statistics(activations(model_of_each_kind, image)[layer]) for image in x])
    np.testing.assert_allclose(layer_statistics(model_of_each_kind, x, layer, batch_size=2), expected,
                               rtol=1e-5, atol=1e-6)


def test_calibration_sets_each_threshold_on_the_test_images_and_survives_a_card(model_of_each_kind):
    rng = np.random.default_rng(5)
    x_fit = rng.uniform(size=(120, *INPUT_SHAPE)).astype(np.float32)
    x_cal = rng.uniform(size=(80, *INPUT_SHAPE)).astype(np.float32)
    cal = calibrate(model_of_each_kind, x_fit, x_cal, dataset="noise", class_names=["a", "b", "c"])
    top = np.asarray(model_of_each_kind(x_cal)).max(axis=1)
    distances = mahalanobis(layer_statistics(model_of_each_kind, x_cal, "conv_b"), cal.mean, cal.precision)
    assert np.mean(top >= cal.min_top_probability) == pytest.approx(0.975, abs=0.02)
    assert np.mean(distances <= cal.max_distance) == pytest.approx(0.975, abs=0.02)
    assert cal.pass_rate == np.mean((top >= cal.min_top_probability) & (distances <= cal.max_distance)) >= 0.93
    assert (cal.layer, cal.fit_images, cal.calibration_images, cal.input_shape) == ("conv_b", 120, 80, INPUT_SHAPE)

    card = ModelCard(name="tiny")
    store_calibration(card, cal)
    back = stored_calibration(ModelCard.from_json(card.to_json()))
    assert back.applies_to(["a", "b", "c"], INPUT_SHAPE) and not back.applies_to(["a", "b"], INPUT_SHAPE)
    assert (back.min_top_probability, back.max_distance, back.pass_rate) == (cal.min_top_probability, cal.max_distance,
                                                                            cal.pass_rate)
    np.testing.assert_allclose(back.precision, cal.precision.astype(np.float32))
    # the same picture gets the same verdict from the stored calibration
    image = x_cal[0]
    probs = np.asarray(model_of_each_kind(image[None]))[0]
    a, b = assess(model_of_each_kind, image, probs, cal), assess(model_of_each_kind, image, probs, back)
    assert a.distance == pytest.approx(b.distance, rel=1e-4) and a.novel == b.novel


@pytest.mark.parametrize("stored", [None, "novelty", 3, {}, {"dataset": "x"},
                                    {"dataset": "x", "class_names": ["a"], "input_shape": [8, 8, 3],
                                     "min_top_probability": "high", "max_entropy": 1.0}])
def test_a_card_without_a_readable_calibration_has_none(stored):
    card = ModelCard(name="m", extra={} if stored is None else {CARD_KEY: stored})
    assert stored_calibration(card) is None


def test_a_calibration_without_feature_arrays_keeps_the_confidence_check():
    data = {"dataset": "x", "class_names": ["a", "b"], "input_shape": [8, 8, 3], "min_top_probability": 0.8,
            "max_entropy": 0.5, "layer": "conv", "max_distance": 2.0}
    cal = NoveltyCalibration.from_dict(data)
    assert cal.min_top_probability == 0.8 and cal.layer is None and cal.max_distance is None
    report = assess(None, np.zeros((8, 8, 3)), np.array([0.7, 0.3]), cal)
    assert report.unsure and not report.far and report.novel and report.distance is None


# --- real pictures ---------------------------------------------------------------------------------------------

def colour_bars() -> np.ndarray:
    """The eight SMPTE-like bars: white, yellow, cyan, green, magenta, red, blue, black."""
    colours = [(255, 255, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0), (255, 0, 255), (255, 0, 0), (0, 0, 255),
               (0, 0, 0)]
    return np.repeat(np.array(colours, np.uint8)[None], 240, axis=0).repeat(40, axis=1)


def checkerboard() -> np.ndarray:
    board = ((np.indices((256, 256)) // 32).sum(axis=0) % 2 * 255).astype(np.uint8)
    return np.stack([board] * 3, axis=-1)


def model_input(photo: np.ndarray, shape) -> np.ndarray:
    """A photo as Predict gives it to a model (centre crop, resize, [0, 1])."""
    if photo.ndim == 2:
        photo = np.stack([photo] * 3, axis=-1)
    return to_model_input(Image.fromarray(photo[..., :3]), shape)


@pytest.fixture(scope="module")
def shipped(repo_root):
    model, card = load_model(repo_root / "assets" / "models" / "shapes_default")
    return model, card, stored_calibration(card)


def test_the_shipped_card_holds_the_calibration_its_model_and_data_give(shipped):
    model, card, stored = shipped
    assert stored is not None and stored.applies_to(card.class_names, card.input_shape) and stored.layer == "conv2"
    fresh = calibrate_on_dataset(model, load_dataset("shapes", card.dataset.options))
    assert fresh.min_top_probability == pytest.approx(stored.min_top_probability, rel=1e-5)
    assert fresh.max_distance == pytest.approx(stored.max_distance, rel=1e-4)
    assert stored.pass_rate >= 0.94


@pytest.mark.parametrize("name", ["chelsea", "coffee", "astronaut", "colour bars", "checkerboard"])
def test_the_shipped_model_flags_photos_and_test_patterns(shipped, name):
    import skimage.data

    model, card, cal = shipped
    photo = {"colour bars": colour_bars, "checkerboard": checkerboard}.get(name) or getattr(skimage.data, name)
    image = model_input(photo(), card.input_shape)
    probs = np.asarray(model(image[None], training=False))[0]
    report = assess(model, image, probs, cal)
    assert report.novel, report
    # the model's own answer alone would not say so for most of them: the features do
    assert report.far, report


def test_most_new_shapes_pass_the_shipped_models_checks(shipped):
    model, card, cal = shipped
    # a seed the model never saw, neither in training nor in calibration
    x = load_dataset("shapes", {**card.dataset.options, "n_train": 8, "seed": 1}).x_test
    probs = np.asarray(model(x, training=False))
    distances = mahalanobis(layer_statistics(model, x, cal.layer), cal.mean, cal.precision)
    passed = (probs.max(axis=1) >= cal.min_top_probability) & (distances <= cal.max_distance)
    assert passed.mean() >= 0.93  # 96.2 % measured


def test_an_mnist_model_flags_fashion_mnist(shared_datasets):
    from core.data.base import Dataset
    from core.data.idx import load_idx_folder
    from core.models.architecture import build_model
    from core.models.presets import mnist_fast
    from core.training.config import TrainConfig
    from core.training.run import train_model

    def images(a):
        return (a.astype(np.float32) / 255)[..., None]

    x_train, y_train, x_test, y_test = load_idx_folder(shared_datasets / "mnist")
    fashion = images(load_idx_folder(shared_datasets / "fashion_mnist")[2][:1000])
    # 6,000 digits, 2 epochs: about 94 % test accuracy in 15 s on 2 cores
    mnist = Dataset("mnist", "MNIST", "", [str(d) for d in range(10)], images(x_train[:6000]),
                    y_train[:6000].astype(np.int64), images(x_test[:3000]), y_test[:3000].astype(np.int64))
    model = build_model(mnist_fast(), mnist.input_shape, 10, seed=0)
    assert train_model(model, mnist, TrainConfig(epochs=2, batch_size=64))["test_accuracy"] > 0.9
    cal = calibrate_on_dataset(model, Dataset("mnist", "MNIST", "", mnist.class_names, mnist.x_train,
                                              mnist.y_train, mnist.x_test[:1500], mnist.y_test[:1500]))

    def flagged(x):
        probs = np.asarray(model(x, training=False))
        distances = mahalanobis(layer_statistics(model, x, cal.layer), cal.mean, cal.precision)
        return (probs.max(axis=1) < cal.min_top_probability) | (distances > cal.max_distance)

    assert flagged(mnist.x_test[1500:]).mean() <= 0.08  # held-out digits pass (95.7 % measured)
    assert flagged(fashion).mean() >= 0.95  # clothes do not (100 % measured; the top probability alone: 21 %)

"""core.visuals.figures: each Plotly figure's traces, values and layout, against the arrays it was built from."""

from __future__ import annotations

import numpy as np
import pytest

from core.data.pixel_stats import pixel_statistics
from core.visuals import figures


def values(seq) -> np.ndarray:
    """A trace's x, y or z as a NumPy array (Plotly keeps arrays as given and lists as tuples)."""
    return np.asarray(seq)


# --- probability_bar ------------------------------------------------------------------------

def test_probability_bar_shows_the_top_classes_most_likely_on_top():
    probs = np.array([0.05, 0.5, 0.1, 0.3, 0.05])
    names = ["a", "b", "c", "d", "e"]
    fig = figures.probability_bar(probs, names, top=3)
    (bar,) = fig.data
    assert bar.orientation == "h"
    # a horizontal bar chart draws its first bar at the bottom: the most likely class comes last
    assert list(bar.y) == ["c", "d", "b"]
    np.testing.assert_array_equal(values(bar.x), [0.1, 0.3, 0.5])
    assert list(bar.marker.color) == ["#1f77b4", "#1f77b4", "#d62728"]  # the winner in red
    assert list(bar.text) == ["10.0%", "30.0%", "50.0%"]
    assert tuple(fig.layout.xaxis.range) == (0, 1) and fig.layout.height == 60 + 28 * 3
    every = figures.probability_bar(probs, names)  # top=10: every class of five
    assert sorted(every.data[0].y) == names and values(every.data[0].x)[-1] == probs.max()


# --- training_curves and ema ----------------------------------------------------------------

def test_ema_is_the_bias_corrected_moving_average():
    raw = [4.0, 2.0, 3.0, 1.0]
    factor = 0.9
    expected, avg = [], 0.0
    for i, v in enumerate(raw, 1):
        avg = factor * avg + (1 - factor) * v
        expected.append(avg / (1 - factor ** i))
    np.testing.assert_allclose(figures.ema(raw, factor), expected)
    assert figures.ema(raw, factor)[0] == pytest.approx(4.0)  # the first point is the first value, not dragged to 0
    np.testing.assert_allclose(figures.ema([2.5] * 6, 0.8), [2.5] * 6)
    np.testing.assert_allclose(figures.ema(raw, 0.0), raw)


def test_training_curves_draw_batches_smoothed_epochs_and_validation():
    batch_log = [{"step": (i + 1) / 4, "loss": 2.0 - 0.1 * i} for i in range(8)]
    epoch_log = [{"epoch": 1, "loss": 1.8, "val_loss": 1.9}, {"epoch": 2, "loss": 1.4, "val_loss": 1.6}]
    fig = figures.training_curves(batch_log, epoch_log, "loss", smooth=0.5)
    assert [t.name for t in fig.data] == ["batch", "batch (smoothed)", "train (epoch)", "validation"]
    raw = [b["loss"] for b in batch_log]
    np.testing.assert_allclose(values(fig.data[0].x), [b["step"] for b in batch_log])
    np.testing.assert_allclose(values(fig.data[0].y), raw)
    np.testing.assert_allclose(values(fig.data[1].y), figures.ema(raw, 0.5))
    assert list(fig.data[2].x) == [1, 2] and list(fig.data[2].y) == [1.8, 1.4] and list(fig.data[3].y) == [1.9, 1.6]
    assert fig.layout.title.text == "loss" and fig.layout.yaxis.range is None  # a loss has no fixed range


def test_training_curves_thin_long_batch_logs_keeping_the_newest_point():
    batch_log = [{"step": i / 100, "accuracy": (i % 7) / 7} for i in range(1, 1001)]
    fig = figures.training_curves(batch_log, [], "accuracy", max_points=400)
    x = values(fig.data[0].x)
    stride = int(np.ceil(1000 / 400))
    assert len(x) <= 400 and x[-1] == pytest.approx(10.0)  # the newest step is always drawn
    np.testing.assert_allclose(np.diff(x), stride / 100)  # evenly spaced
    # the smoothed curve is smoothed over every batch, then thinned
    full = figures.ema([b["accuracy"] for b in batch_log], 0.9)
    np.testing.assert_allclose(values(fig.data[1].y), full[999::-stride][::-1])
    assert tuple(fig.layout.yaxis.range) == (0, 1.02)  # accuracy: the whole 0-100 % range
    assert [t.name for t in fig.data] == ["batch", "batch (smoothed)"]  # no epoch yet, no epoch curves


def test_training_curves_mark_learning_rate_changes_and_draw_no_validation_without_it():
    fig = figures.training_curves([], [{"epoch": 1, "loss": 1.0}], "loss",
                                  lr_log=[{"step": 0.5, "learning_rate": 3e-4}, {"step": 1.25, "learning_rate": 0.01}])
    assert [t.name for t in fig.data] == ["train (epoch)"]
    assert [s.x0 for s in fig.layout.shapes] == [0.5, 1.25] and all(s.line.dash == "dash" for s in fig.layout.shapes)
    assert [a.text for a in fig.layout.annotations] == ["lr 0.0003", "lr 0.01"]


def test_learning_rate_labels_sit_above_the_plot_area_clear_of_the_curves_and_the_title():
    batch_log = [{"step": (i + 1) / 4, "loss": 2.0 - 0.1 * i} for i in range(8)]  # highest where it starts
    fig = figures.training_curves(batch_log, [], "loss", lr_log=[{"step": 0.25, "learning_rate": 5e-4}])
    (label,) = fig.layout.annotations
    assert label.text == "lr 0.0005" and "learning rate 0.0005" in label.hovertext
    assert (label.xref, label.x) == ("x", 0.25)  # over its dashed line
    # the plot area, where the curves are drawn, ends at the top of the paper (y = 1): the label starts there
    assert label.yref == "paper" and label.y == 1 and label.yanchor == "bottom" and not label.showarrow
    assert fig.layout.yaxis.domain is None or tuple(fig.layout.yaxis.domain)[1] == 1
    # the title keeps the top row of the margin, the labels the row below it (about 22 and 16 px)
    title = fig.layout.title
    assert (title.yref, title.y, title.yanchor) == ("container", 1, "top") and fig.layout.margin.t >= 50


# --- class_count_bars and pixel_histogram ------------------------------------------------------

def test_class_count_bars_are_train_and_test_side_by_side():
    train, test = {"cat": 5, "dog": 7, "3": 2}, {"cat": 1, "dog": 2, "3": 0}
    fig = figures.class_count_bars(train, test)
    assert [t.name for t in fig.data] == ["train", "test"]
    assert list(fig.data[0].x) == list(train) and list(fig.data[0].y) == [5, 7, 2]
    assert list(fig.data[1].x) == list(test) and list(fig.data[1].y) == [1, 2, 0]
    assert fig.layout.barmode == "group" and fig.layout.xaxis.type == "category"  # "3" is a class, not a number


@pytest.mark.parametrize("channels, names", [(1, ["grey"]), (3, ["red", "green", "blue"])])
def test_pixel_histogram_bars_sit_at_the_bin_centres(channels, names):
    images = np.random.default_rng(0).random((6, 5, 4, channels), dtype=np.float32)
    stats = pixel_statistics(images, bins=8)
    fig = figures.pixel_histogram(stats)
    assert [t.name for t in fig.data] == names
    edges = np.linspace(0, 1, 9)
    for c, trace in enumerate(fig.data):
        np.testing.assert_allclose(values(trace.x), (edges[:-1] + edges[1:]) / 2)
        np.testing.assert_allclose(values(trace.y), stats["histogram"][c])
        counts = np.histogram(images[..., c].ravel(), edges)[0]
        np.testing.assert_allclose(values(trace.y), counts / images[..., c].size)  # shares of the pixels
        assert trace.marker.color == figures.PIXEL_COLOURS[names[c]]
    assert fig.layout.barmode == "overlay"


# --- confusion_matrix and per_class_accuracy_bars ---------------------------------------------

def test_confusion_matrix_cells_are_the_matrix():
    cm = np.array([[5, 1, 0], [2, 7, 1], [0, 0, 9]])
    names = ["circle", "square", "star"]
    fig = figures.confusion_matrix(cm, names)
    (heat,) = fig.data
    np.testing.assert_array_equal(values(heat.z), cm)
    np.testing.assert_array_equal(values(heat.text), cm)  # each cell labelled with its count
    assert list(heat.x) == list(heat.y) == names
    assert fig.layout.yaxis.autorange == "reversed"  # the first true class on top, as the matrix is written
    assert fig.layout.xaxis.title.text == "predicted" and fig.layout.yaxis.title.text == "true"
    assert fig.layout.height == 120 + 36 * 3


def test_per_class_accuracy_bars_draw_a_class_without_test_images_as_zero():
    accuracy = np.array([0.9, np.nan, 0.25])
    fig = figures.per_class_accuracy_bars(accuracy, ["a", "b", "c"])
    (bar,) = fig.data
    np.testing.assert_array_equal(values(bar.x), [0.9, 0.0, 0.25])
    assert list(bar.y) == ["a", "b", "c"] and list(bar.text) == ["90%", "0%", "25%"]
    assert bar.orientation == "h" and tuple(fig.layout.xaxis.range) == (0, 1)
    assert fig.layout.yaxis.autorange == "reversed"  # the first class on top


# --- accuracy and probability axes ----------------------------------------------------------

PERCENT_FIGURES = {
    "probability_bar": lambda: figures.probability_bar(np.array([0.75, 0.2, 0.05]), ["a", "b", "c"]),
    "per_class_accuracy_bars": lambda: figures.per_class_accuracy_bars(np.array([0.75, 0.5]), ["a", "b"]),
    "training_curves": lambda: figures.training_curves([{"step": 0.5, "accuracy": 0.4}], [], "accuracy"),
}


@pytest.mark.parametrize("name", list(PERCENT_FIGURES))
def test_percent_axes_run_from_0_to_100_percent_labelled_up_to_100(name):
    fig = PERCENT_FIGURES[name]()
    horizontal = name != "training_curves"
    axis = fig.layout.xaxis if horizontal else fig.layout.yaxis
    low, high = axis.range
    assert low == 0 and 1 <= high <= 1.05
    ticks = list(axis.tickvals)
    assert ticks[0] == 0 and ticks[-1] == 1 and ticks == sorted(ticks) and len(ticks) >= 3
    assert axis.tickformat == ".0%"
    # Plotly hides a tick label that sticks out of the figure: "100%" (about 30 px wide at the default
    # font) sits centred on the right end of a horizontal axis, so half of it needs room there.
    assert axis.ticklabeloverflow == "allow"
    if horizontal:
        assert fig.layout.margin.r >= 16


# --- embedding_scatter -----------------------------------------------------------------------

def test_embedding_scatter_has_one_trace_per_class_plus_the_query_star():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(12, 2))
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 0, 1, 2, 2, 2])
    names = ["a", "b", "c", "empty"]
    fig = figures.embedding_scatter(points, labels, names)
    assert [t.name for t in fig.data] == names
    for c, trace in enumerate(fig.data):
        np.testing.assert_array_equal(values(trace.x), points[labels == c, 0])
        np.testing.assert_array_equal(values(trace.y), points[labels == c, 1])
        assert list(trace.text) == [f"test image {i}" for i in np.flatnonzero(labels == c)]
    assert len({t.marker.color for t in fig.data}) == 4  # a colour of its own for every class
    with_query = figures.embedding_scatter(points, labels, names, query=np.array([0.5, -1.5]))
    assert len(with_query.data) == len(names) + 1
    star = with_query.data[-1]
    assert star.name == "your image" and star.marker.symbol == "star"
    assert list(star.x) == [0.5] and list(star.y) == [-1.5]

"""The accuracy and probability axes as Chromium draws them: labelled from 0 % up to 100 %, on narrow and wide charts.

The figures are drawn by the Plotly.js that the plotly package carries (no server, no network).
"""

from __future__ import annotations

import numpy as np
import pytest

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from core.visuals import figures

PERCENT_FIGURES = {
    "probability_bar": (lambda: figures.probability_bar(np.array([0.75, 0.2, 0.05]), ["a", "b", "c"]), "x"),
    "per_class_accuracy_bars": (lambda: figures.per_class_accuracy_bars(np.array([0.75, 1.0]), ["a", "b"]), "x"),
    "training_curves": (lambda: figures.training_curves([{"step": 0.5, "accuracy": 0.4}], [], "accuracy"), "y"),
}

EXPECTED = ["0%", "25%", "50%", "75%", "100%"]
# The text of each tick label Plotly shows on one axis, and whether each lies inside the figure along that
# axis (where Plotly hides a label that sticks out).
SHOWN_TICKS = """axis => {
  const svg = document.querySelector('.main-svg').getBoundingClientRect();
  return Array.from(document.querySelectorAll(`.${axis}tick text`))
    .filter(t => getComputedStyle(t).display !== 'none' && t.getBoundingClientRect().width > 0)
    .map(t => { const b = t.getBoundingClientRect();
                return [t.textContent, axis === 'x' ? b.left >= svg.left - 0.5 && b.right <= svg.right + 0.5
                                                    : b.top >= svg.top - 0.5 && b.bottom <= svg.bottom + 0.5]; });
}"""


@pytest.mark.parametrize("width", [260, 700])
@pytest.mark.parametrize("name", list(PERCENT_FIGURES))
def test_percent_axes_show_every_label_up_to_100_percent(browser_page, name, width):
    make, axis = PERCENT_FIGURES[name]
    fig = make()
    fig.update_layout(width=width)
    browser_page.set_content(fig.to_html(include_plotlyjs=True, full_html=True))
    # Plotly draws a second time once it has made room for the labels (automargin): wait for the labels
    # to be right, for a while, then look at what is drawn
    try:
        browser_page.wait_for_function(
            f"axis => {{ const shown = ({SHOWN_TICKS})(axis); return shown.map(s => s[0]).join() === "
            f"'{','.join(EXPECTED)}' && shown.every(s => s[1]); }}", arg=axis, timeout=10_000, polling=100)
    except PlaywrightTimeout:
        pass  # reported below, with what the chart shows
    shown = browser_page.evaluate(SHOWN_TICKS, axis)
    assert [text for text, _ in shown] == EXPECTED, shown
    assert all(inside for _, inside in shown), shown


def test_learning_rate_labels_overlap_neither_the_plot_area_nor_the_title(browser_page):
    # the loss is highest where training starts: a change early on once put its label on the curve
    batch_log = [{"step": (i + 1) / 20, "loss": 2.5 - 0.05 * i} for i in range(40)]
    fig = figures.training_curves(batch_log, [], "loss", lr_log=[{"step": 0.1, "learning_rate": 5e-4},
                                                                 {"step": 1.0, "learning_rate": 1e-4}])
    fig.update_layout(width=420)
    browser_page.set_content(fig.to_html(include_plotlyjs=True, full_html=True))
    browser_page.wait_for_function("() => document.querySelectorAll('.annotation-text').length === 2")
    boxes = browser_page.evaluate("""() => {
      const box = e => { const b = e.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
      return {plot: box(document.querySelector('.nsewdrag')), title: box(document.querySelector('.gtitle')),
              labels: Array.from(document.querySelectorAll('.annotation-text')).map(box),
              texts: Array.from(document.querySelectorAll('.annotation-text')).map(e => e.textContent)};
    }""")
    assert boxes["texts"] == ["lr 0.0005", "lr 0.0001"]

    def overlap(a, b):
        return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

    for label in boxes["labels"]:
        assert not overlap(label, boxes["plot"]), boxes
        assert not overlap(label, boxes["title"]), boxes

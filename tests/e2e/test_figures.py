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

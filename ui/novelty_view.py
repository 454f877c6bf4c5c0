"""What Predict's probabilities mean, and whether the picture looks like the images the model was made for.

The checks' thresholds come from, in this order: the model's card (measured on its own dataset
when it was saved: every model trained here, and the shipped one), else the test split the page
shows the model with, which has its class names and input shape (``ui.dataset_fit.context_bar``;
measured now, once per model and dataset), else nowhere: then the page says that it cannot tell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from core.data import Dataset
from core.inspection.novelty import SIGNAL_PASS, NoveltyCalibration, NoveltyReport, calibrate_on_dataset, \
    stored_calibration

from .model_entry import ModelEntry
from .session import dataset_key, model_key


@dataclass
class Calibration:
    """The thresholds Predict uses for one model, and where they came from (shown beside them)."""

    values: NoveltyCalibration
    origin: str  # a sentence for the page


@st.cache_data(max_entries=8, show_spinner="Measuring the model on its test images…")
def _calibrate(_model, key: str, _dataset: Dataset, data_key: str) -> NoveltyCalibration:
    return calibrate_on_dataset(_model, _dataset)


def calibration_for(entry: ModelEntry, dataset: Dataset | None) -> Calibration | None:
    """The thresholds for ``entry``'s model (see the module docstring), or None when nothing fits it.

    ``dataset``: the test images the page shows the model with (made for it), or None.
    """
    stored = stored_calibration(entry.card)
    if stored is not None and stored.applies_to(entry.class_names, entry.input_shape):
        return Calibration(stored, f"measured on {stored.calibration_images:,} test images of {stored.dataset} "
                                   "when the model was saved (kept in its card)")
    if dataset is None or len(dataset.x_test) < 2:
        return None
    values = _calibrate(entry.model, model_key(entry), dataset, dataset_key(dataset))
    return Calibration(values, f"measured just now on {values.calibration_images:,} test images of {dataset.title}, "
                               "which has this model's classes and input size (its card holds no thresholds)")


def show_softmax_meaning(entry: ModelEntry) -> None:
    """The probabilities in plain words, with how often the model was right on its test split."""
    names = entry.class_names
    accuracy = entry.card.test_accuracy
    if accuracy is not None:
        data = entry.card.dataset_title or "its dataset"
        record = (f"On the test images of {data}, which it never trained on, this model was right "
                  f"**{accuracy:.1%}** of the time.")
    else:
        record = "Its card records no test accuracy, so how often it is right is not known here."
    st.markdown(
        f"**What the percentages mean.** The last layer, the softmax, shares 100 % among the {len(names)} classes "
        f"this model knows ({', '.join(names) if len(names) <= 40 else ', '.join(names[:5]) + ' and the rest'}): "
        f"each percentage is the share the network gives that class. "
        f"It always adds up to 100 % over these {len(names)}, so the model cannot answer \"none of these\": "
        f"a picture of anything else is still split among them, often with one very high share. "
        f"A high value is not a guarantee. {record}")


def show_novelty(entry: ModelEntry, report: NoveltyReport | None, calibration: Calibration | None) -> None:
    """The verdict of both checks, the measured values and the thresholds, and where the thresholds came from."""
    n = len(entry.class_names)
    if report is None or calibration is None:
        st.info("This model came without data it was made for (its card holds no thresholds, and no dataset "
                "with its classes and input size is loaded), so Predict cannot tell whether this picture is like "
                f"its training images. Read its answer as a share among its {n} classes, not as certainty.")
        return
    if report.novel:
        st.warning(f"This photo looks unlike the images this model was trained on: its answer is a guess among "
                   f"its {n} classes.", icon=":material/help:")
    else:
        st.success("This photo passes both checks: the model's confidence and its filters' responses look like "
                   "they do on its own test images. The answer can still be wrong.", icon=":material/check_circle:")
    share = f"{SIGNAL_PASS:.1%}"
    rows = [("Top probability", f"{report.top_probability:.1%}",
             f"at least {report.min_top_probability:.1%}", "too low" if report.unsure else "passes",
             f"{share} of its test images reach it; lower means it hesitates between its classes.")]
    if report.distance is not None:
        rows.append((f"Feature distance ({calibration.values.layer})", f"{report.distance:.2f}",
                     f"at most {report.max_distance:.2f}", "too far" if report.far else "passes",
                     f"How far the {calibration.values.layer} filters' responses (mean and spread of each map) lie "
                     f"from their usual values on training images; {share} of its test images stay within it."))
    rows.append(("Entropy (shown only)", f"{report.entropy:.2f} bits", f"{report.max_entropy:.2f} bits or less",
                 "higher" if report.entropy > report.max_entropy else "within",
                 f"The same doubt as the top probability, in bits: 0 is certain, {np.log2(n):.2f} an even split."))
    st.dataframe({"check": [r[0] for r in rows], "this picture": [r[1] for r in rows],
                  "threshold": [r[2] for r in rows], "result": [r[3] for r in rows], "meaning": [r[4] for r in rows]},
                 hide_index=True)
    feature = "" if report.distance is not None else " This model has no convolution layer, so only its confidence is checked."
    st.caption(f"Thresholds {calibration.origin}: {calibration.values.pass_rate:.1%} of those images pass both "
               f"checks. A picture is called unlike the model's data when either check fails.{feature}")

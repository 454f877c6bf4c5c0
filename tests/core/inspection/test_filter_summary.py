"""core.inspection.filter_summary: each filter's norm, sign and strongest input channels, against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from core.inspection.filter_summary import strongest_first, summarise_filters


def test_summaries_match_numpy():
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(3, 3, 6, 5)).astype(np.float32)
    kernel[:, :, 4, 2] *= 10  # filter 2 weighs input channel 4 far more than the rest
    bias = rng.normal(size=5).astype(np.float32)
    summaries = summarise_filters(kernel, bias, top=2)
    assert [s.filter for s in summaries] == list(range(5))
    for f, s in enumerate(summaries):
        w = kernel[..., f].astype(np.float64)
        assert s.norm == pytest.approx(np.linalg.norm(w))
        assert s.mean == pytest.approx(w.mean())
        assert s.positive_share == pytest.approx(w[w > 0].sum() / np.abs(w).sum())
        assert s.bias == pytest.approx(bias[f])
        energy = (w ** 2).sum(axis=(0, 1))
        channel, share = s.top_inputs[0]
        assert channel == int(np.argmax(energy)) and share == pytest.approx(energy.max() / energy.sum())
        assert len(s.top_inputs) == 2 and s.top_inputs[0][1] >= s.top_inputs[1][1]
    assert summaries[2].top_inputs[0][0] == 4 and summaries[2].top_inputs[0][1] > 0.8


def test_sign_and_strength_order():
    kernel = np.zeros((2, 2, 1, 4), np.float32)
    kernel[..., 0, 0] = 1.0  # all positive
    kernel[..., 0, 1] = -3.0  # all negative, the strongest
    kernel[..., 0, 2] = [[1.0, -1.0], [1.0, -1.0]]  # balanced
    summaries = summarise_filters(kernel)  # filter 3: all zero
    assert [s.sign for s in summaries] == ["positive", "negative", "mixed", "mixed"]
    assert summaries[3].norm == 0.0 and summaries[3].bias == 0.0
    assert strongest_first(summaries) == [1, 0, 2, 3]


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="kh, kw, in, out"):
        summarise_filters(np.zeros((3, 3, 4)))
    with pytest.raises(ValueError, match=r"bias of shape \(4,\)"):
        summarise_filters(np.zeros((3, 3, 1, 4)), np.zeros(3))

"""What each filter of a conv layer weighs, in numbers a person can read.

A deep layer's filters are too many small grids to read one by one (32 filters of
32 input channels are 1,024 grids). Each filter is summed up instead: how large
its weights are (L2 norm), which input channels carry most of that weight, and
whether its weights mostly excite (positive) or inhibit (negative).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MOSTLY = 0.65  # share of a filter's absolute weight on one sign for it to count as mostly that sign


@dataclass
class FilterSummary:
    """One output filter of a conv layer, summed up."""

    filter: int  # its index in the layer
    norm: float  # L2 norm of all its weights
    mean: float  # mean weight
    positive_share: float  # share of its absolute weight that is positive, in [0, 1]
    bias: float  # its bias (0.0 for a layer without one)
    top_inputs: list[tuple[int, float]]  # (input channel, share of the filter's squared weight), largest first

    @property
    def sign(self) -> str:
        """"positive", "negative" or "mixed": which sign holds most of the weight."""
        if self.positive_share >= MOSTLY:
            return "positive"
        if self.positive_share <= 1 - MOSTLY:
            return "negative"
        return "mixed"


def summarise_filters(kernel: np.ndarray, bias: np.ndarray | None = None, top: int = 3) -> list[FilterSummary]:
    """One summary per output filter of ``kernel``, in filter order.

    Args:
        kernel: a conv kernel of shape (kh, kw, in_channels, filters).
        bias: its bias of shape (filters,), or None.
        top: how many input channels each summary names.

    Returns:
        ``FilterSummary`` records; ``top_inputs`` ranks the input channels by the share of
        the filter's squared weights (its energy) each one holds, so the shares of all
        channels add up to 1.
    """
    kernel = np.asarray(kernel, np.float64)
    if kernel.ndim != 4:
        raise ValueError(f"Expected a kernel of shape (kh, kw, in, out). Received: shape={kernel.shape}")
    n_out = kernel.shape[-1]
    if bias is not None and np.shape(bias) != (n_out,):
        raise ValueError(f"Expected a bias of shape ({n_out},). Received: shape={np.shape(bias)}")
    flat = kernel.reshape(-1, n_out)
    energy = np.square(kernel).sum(axis=(0, 1))  # (in, out)
    total_energy = energy.sum(axis=0)
    positive = np.clip(flat, 0, None).sum(axis=0)
    absolute = np.abs(flat).sum(axis=0)
    summaries = []
    for f in range(n_out):
        shares = energy[:, f] / total_energy[f] if total_energy[f] > 0 else np.zeros(energy.shape[0])
        order = np.argsort(-shares, kind="stable")[:top]
        summaries.append(FilterSummary(
            filter=f, norm=float(np.sqrt(total_energy[f])), mean=float(flat[:, f].mean()),
            positive_share=float(positive[f] / absolute[f]) if absolute[f] > 0 else 0.5,
            bias=0.0 if bias is None else float(bias[f]),
            top_inputs=[(int(i), float(shares[i])) for i in order]))
    return summaries


def strongest_first(summaries: list[FilterSummary]) -> list[int]:
    """Filter indices by L2 norm, largest first (ties in filter order)."""
    return [s.filter for s in sorted(summaries, key=lambda s: (-s.norm, s.filter))]

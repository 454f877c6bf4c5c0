"""How big a model is, and which of the server's limits it goes over, told in words a learner reads.

A ``ModelSize`` is worked out without building the model: from a ``.keras`` file's config
(``core.storage.model_limits``) or from the architecture editor's spec
(``core.models.architecture.spec_size``). ``limit_problems`` turns it into one sentence per limit
gone over, each naming the figure, the limit and the ``CNNLAB_*`` variable a teacher can set to
change it (``core.settings``). The limits are read at call time, so a changed variable counts at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.settings import Limits, limits

# The largest output of one layer, per image, is as many numbers as an image of the largest side
# allowed with this many channels: 4.2 million at the default 256 pixels (16 MB of float32, 0.5 GB for a
# batch of 32 before the backward pass doubles it). VGG16's widest layer, 224x224x64, fits; a 20000x20000
# input, or a 256x256 map of 1000 filters, does not.
ACTIVATION_CHANNELS = 64


@dataclass(frozen=True)
class ModelSize:
    """The figures of a model the limits are about."""

    params: int  # weights, counted as model.count_params() counts them
    input_shapes: tuple[tuple[int, ...], ...]  # of each input, without the batch axis
    layers: int  # layers, nested models and their layers included
    largest_output: tuple[str, tuple[int, ...]] | None = None  # the layer whose output has the most numbers
    widest_dense: tuple[str, int] | None = None  # the dense layer with the most units
    blocks: int | None = None  # convolution blocks (an architecture editor's spec; None for a file)
    weight_bytes: int = 4  # bytes of one weight (8 when stored as float64)

    @property
    def largest_output_size(self) -> int:
        return math.prod(self.largest_output[1]) if self.largest_output else 0


def max_output_size(lim: Limits | None = None) -> int:
    """Numbers one layer may output per image: the largest image allowed, with ``ACTIVATION_CHANNELS`` channels."""
    lim = lim or limits()
    return lim.max_input_side ** 2 * ACTIVATION_CHANNELS


def limit_problems(size: ModelSize, lim: Limits | None = None) -> list[str]:
    """One sentence per limit that ``size`` goes over; empty when it fits them all."""
    lim = lim or limits()
    problems = []
    for shape in size.input_shapes:
        if len(shape) == 3 and max(shape[:2]) > lim.max_input_side:
            problems.append(f"It takes images of {shape[0]}×{shape[1]} pixels; the limit is "
                            f"{lim.max_input_side} pixels a side{_teacher('max_input_side')}.")
            break
    if size.blocks is not None and size.blocks > lim.max_blocks:
        problems.append(f"It has {size.blocks} convolution blocks; the limit is {lim.max_blocks}"
                        f"{_teacher('max_blocks')}.")
    if size.layers > lim.max_layers:
        problems.append(f"It has {size.layers:,} layers; the limit is {lim.max_layers:,}{_teacher('max_layers')}.")
    if size.widest_dense and size.widest_dense[1] > lim.max_dense_units:
        name, units = size.widest_dense
        problems.append(f"Its dense layer {name!r} has {units:,} units; the limit is {lim.max_dense_units:,} units "
                        f"a layer{_teacher('max_dense_units')}.")
    if size.largest_output_size > max_output_size(lim):
        name, shape = size.largest_output
        side = lim.max_input_side
        shown = f"{'×'.join(map(str, shape))} = {count(size.largest_output_size)}" if len(shape) > 1 else f"{shape[0]:,}"
        problems.append(f"Its layer {name!r} outputs {shown} numbers for each image; the limit is {count(max_output_size(lim))}, as many as a "
                        f"{side}×{side} image with {ACTIVATION_CHANNELS} channels (it grows with the image size "
                        f"limit, CNNLAB_MAX_INPUT_SIDE).")
    if size.params > lim.max_params:
        problems.append(f"It has {size.params:,} parameters (weights), {count(size.params)}; the limit is "
                        f"{lim.max_params:,}{_teacher('max_params')}.")
    return problems


def params_summary(size: ModelSize, lim: Limits | None = None) -> str:
    """``1.2 M parameters of at most 10 M``."""
    lim = lim or limits()
    return f"{count(size.params)} parameters of at most {count(lim.max_params)}"


def count(n: int) -> str:
    """A count as a person reads it: ``4,096``, ``1.2 M``, ``10 M``, ``12.8 G``."""
    if n >= 10**12:
        return f"{n // 10**9:,} G"  # a file may say anything: no float of it, which could overflow
    for unit, size in (("G", 10**9), ("M", 10**6)):
        if n >= size:
            text = f"{n / size:.1f}".removesuffix(".0")
            return f"{text} {unit}"
    return f"{n:,}"


def _teacher(field: str) -> str:
    return f" (a teacher can change it with CNNLAB_{field.upper()})"

"""Tiny networks and a wait for the training tests (tests/core/training, tests/core/storage).

Their datasets and the tiny model itself are fixtures of ``tests/conftest.py``: ``small_shapes``,
``shapes`` and ``tiny_model``.
"""

from __future__ import annotations

import time

from core.models.architecture import ConvBlock, ModelSpec, build_model

TINY_SPEC = ModelSpec(name="tiny", blocks=[ConvBlock(4)], dense_units=[])
TWO_BLOCKS = ModelSpec(name="tiny", blocks=[ConvBlock(4), ConvBlock(8)], dense_units=[])


def two_block_model(ds):
    """Two conv blocks (4 and 8 filters) and the softmax, for ``ds``, seeded."""
    return build_model(TWO_BLOCKS, ds.input_shape, ds.num_classes, seed=0)


def wait_until(predicate, timeout: float = 60.0) -> bool:
    """Poll ``predicate`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")

"""core.training.progress: the share of a run done (JobSnapshot.fraction) and the time left (eta)."""

from __future__ import annotations

import pytest

from core.training.progress import JobSnapshot


def snap(state="running", epoch=0, epochs=4, batch=0, steps=None, elapsed=10.0, images=0, images_total=0):
    return JobSnapshot(state=state, epoch=epoch, epochs=epochs, batch=batch, steps=steps, elapsed=elapsed,
                       images_per_second=0.0, images=images, images_total=images_total)


@pytest.mark.parametrize("kwargs, fraction", [
    (dict(epoch=0, batch=0, steps=None), 0.0),  # queued: nothing known yet
    (dict(epoch=2, steps=None), 0.5),  # whole epochs only
    (dict(epoch=1, batch=5, steps=10), 1.5 / 4),  # epochs and the batches of the current one
    (dict(epoch=3, batch=10, steps=10), 1.0),
    (dict(epoch=5, batch=10, steps=10), 1.0),  # never past the end
    (dict(epoch=0, epochs=0, steps=None), 0.0),  # no division by zero
    (dict(epoch=1, batch=3, steps=10, images=1500, images_total=2000), 0.75),  # images win over batches (focus)
    (dict(images=5000, images_total=2000), 1.0),
])
def test_fraction(kwargs, fraction):
    assert snap(**kwargs).fraction == pytest.approx(fraction)


def test_a_finished_run_is_whole_whatever_its_counters_say():
    assert snap(state="done", epoch=0, steps=None).fraction == 1.0
    assert snap(state="stopped", epoch=1, steps=None).fraction == pytest.approx(0.25)  # stopped early: as far as it got


def test_eta_is_the_elapsed_time_scaled_by_what_is_left():
    # a quarter done in 10 s: three quarters more take 30 s
    assert snap(epoch=1, steps=None, elapsed=10.0).eta == pytest.approx(30.0)
    assert snap(images=1500, images_total=2000, elapsed=30.0).eta == pytest.approx(10.0)


@pytest.mark.parametrize("state", ["queued", "paused", "done", "stopped", "failed"])
def test_eta_only_while_running_and_once_something_is_done(state):
    assert snap(state=state, epoch=1, steps=None).eta is None
    assert snap(epoch=0, steps=None).eta is None  # running, nothing done yet: no estimate

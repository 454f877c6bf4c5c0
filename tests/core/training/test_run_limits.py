"""core.training.run_limits: a run's clock, the time limits a job is held to, and the words that say why it stopped.

The jobs here run on a clock the test moves by hand (``FakeClock``), so an hour's limit passes at once;
every wait is for a condition, with a deadline (``wait_until``).
"""

from __future__ import annotations

import threading

import pytest

from core.settings import Limits
from core.training.config import TrainConfig
from core.training.jobs import TrainingJob
from core.training.queue import JobQueue
from core.training.run_limits import (
    MAX_TIME,
    ORPHANED,
    PAUSED,
    USER,
    RunClock,
    stop_words,
    stopped_text,
)
from training_models import two_block_model, wait_until


class FakeClock:
    """A clock that stands still until the test moves it."""

    def __init__(self, start: float = 1000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


LIMITS = Limits(job_max_time=100.0, job_paused_max_time=30.0, job_orphan_time=50.0)


@pytest.fixture
def long_limits(monkeypatch):
    """Limits far beyond the test's real time: only the fake clock reaches them. No tab is needed for 10 h, so
    that the clock can jump an hour at a time; the tests of orphaned runs set 10 min."""
    monkeypatch.setenv("CNNLAB_JOB_MAX_TIME", "1h")
    monkeypatch.setenv("CNNLAB_JOB_PAUSED_MAX_TIME", "15min")
    monkeypatch.setenv("CNNLAB_JOB_ORPHAN_TIME", "10h")


def long_job(ds, clock=None, queue=None, **config) -> TrainingJob:
    options = {"epochs": 50, "batch_size": 8} | config
    return TrainingJob(two_block_model(ds), ds, TrainConfig(**options), name="long", queue=queue or JobQueue(2),
                       clock=clock or FakeClock())


def trained_batches(job: TrainingJob) -> int:
    return len(job.snapshot().batch_log)


def wait_for_batches(job: TrainingJob, more: int = 2) -> None:
    """Wait until ``job`` has trained ``more`` batches beyond now: its checks at each batch start have run."""
    target = trained_batches(job) + more
    wait_until(lambda: trained_batches(job) >= target or job.finished)


# --- the clock -----------------------------------------------------------------------------------

def test_run_time_counts_the_pauses_and_leaves_out_the_waits_for_a_slot():
    clock = FakeClock()
    times = RunClock(clock)
    clock.advance(7)  # waiting in the queue before the start: not the run's time
    assert times.run_seconds() == times.training_seconds() == 0.0
    times.start()
    clock.advance(10)
    times.pause()
    clock.advance(5)
    assert times.paused_seconds() == 5 and times.run_seconds() == 15 and times.training_seconds() == 10
    times.end_pause()
    times.wait()  # resumed, waiting for a slot again
    clock.advance(20)
    assert times.waited_seconds() == 20 and times.run_seconds() == 15 and times.training_seconds() == 10
    times.end_wait()
    clock.advance(3)
    times.finish()
    clock.advance(100)  # after the end nothing moves
    assert times.run_seconds() == 18 and times.training_seconds() == 13 and times.paused_seconds() == 5


@pytest.mark.parametrize("steps, expected", [
    # ("seen", n): n seconds with a tab of the user seen every 10; ("advance", n): n seconds unseen
    ([("start",), ("seen", 90), ("advance", 9)], None),
    ([("start",), ("seen", 90), ("advance", 11)], MAX_TIME),
    ([("start",), ("pause",), ("advance", 29)], None),
    ([("start",), ("pause",), ("advance", 31)], PAUSED),
    # pauses count towards the run's time: 80 s training and 25 s paused is over 100 s
    ([("start",), ("seen", 80), ("pause",), ("advance", 25)], MAX_TIME),
    # waiting for a slot again does not: 90 s of running and 45 s of waiting
    ([("start",), ("seen", 45), ("wait",), ("seen", 45), ("end_wait",), ("seen", 45)], None),
    ([("advance", 51)], ORPHANED),  # even before it starts, while it waits in the queue
    ([("start",), ("seen", 40), ("advance", 49)], None),
    ([("start",), ("seen", 40), ("advance", 51)], ORPHANED),
])
def test_limit_passed(steps, expected):
    clock = FakeClock()
    times = RunClock(clock)
    for step in steps:
        if step[0] == "advance":
            clock.advance(step[1])
        elif step[0] == "seen":
            for _ in range(step[1] // 10):
                clock.advance(10)
                times.touch()
        else:
            getattr(times, step[0])()
    assert times.limit_passed(LIMITS) == expected


def test_a_finished_run_passes_no_limit():
    clock = FakeClock()
    times = RunClock(clock)
    times.start()
    times.finish()
    clock.advance(10_000)
    assert times.limit_passed(LIMITS) is None


# --- the words -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, expected", [
    (PAUSED, "Stopped after 15 min paused: the model of epoch 3 is kept."),
    (MAX_TIME, "Stopped after 1 h, the longest a run may last on this server (pauses count, waiting for a slot does "
               "not): the model of epoch 3 is kept."),
    (ORPHANED, "Stopped after 10 min with no tab of yours open: the model of epoch 3 is kept."),
    (USER, "Stopped with the Stop button: the model of epoch 3 is kept."),
])
def test_stop_reasons_in_plain_words(kind, expected):
    assert stopped_text(stop_words(kind, Limits()), 3) == expected


def test_a_run_stopped_in_the_queue_says_nothing_was_trained():
    assert stopped_text(stop_words(ORPHANED, Limits()), None) == (
        "Stopped after 10 min with no tab of yours open while waiting in the queue for a training slot: "
        "nothing was trained.")


def test_an_unknown_reason_is_an_error():
    with pytest.raises(ValueError, match="Received: 'tired'"):
        stop_words("tired", Limits())


# --- a job held to them --------------------------------------------------------------------------

def test_a_job_paused_too_long_is_stopped_with_its_model(shapes, monkeypatch):
    monkeypatch.setenv("CNNLAB_JOB_PAUSED_MAX_TIME", "1s")  # on the real clock
    queue = JobQueue(1)
    job = TrainingJob(two_block_model(shapes), shapes, TrainConfig(epochs=50, batch_size=8), name="paused",
                      queue=queue).start()
    wait_until(lambda: trained_batches(job) >= 3)
    job.pause()
    wait_until(lambda: job.state == "paused")
    assert queue.running == 0  # its slot is free while it waits
    job.join(60)
    assert job.state == "stopped" and job.stop_kind == PAUSED, job.snapshot().error
    assert job.stop_reason.startswith("Stopped after 1 s paused: the model of epoch ")
    assert job.card is not None and job.result["epochs_done"] < 50
    assert job.stop_reason.endswith(f"epoch {job.card.epochs_done} is kept.")


def test_a_job_that_runs_too_long_is_stopped_after_its_batch_with_its_model(shapes, long_limits):
    clock = FakeClock()
    job = long_job(shapes, clock).start()
    wait_until(lambda: trained_batches(job) >= 3)
    assert not job.finished
    clock.advance(3601)
    job.join(60)
    assert job.state == "stopped" and job.stop_kind == MAX_TIME
    assert job.stop_reason.startswith("Stopped after 1 h, the longest a run may last on this server")
    assert job.card is not None and job.result["epochs_done"] < 50


def test_pauses_count_towards_the_longest_run(shapes, long_limits):
    clock = FakeClock()
    job = long_job(shapes, clock).start()
    wait_until(lambda: trained_batches(job) >= 2)
    job.pause()
    wait_until(lambda: job.state == "paused")
    clock.advance(14 * 60)  # paused less than 15 min ...
    job.resume()
    wait_for_batches(job)
    job.pause()
    wait_until(lambda: job.state == "paused")
    clock.advance(14 * 60)
    job.resume()
    wait_for_batches(job)
    assert not job.finished  # ... twice, 28 min in all
    clock.advance(33 * 60)  # and 33 min of training: over the hour
    job.join(60)
    assert job.state == "stopped" and job.stop_kind == MAX_TIME


def test_waiting_in_the_queue_does_not_count_towards_the_longest_run(shapes, long_limits):
    queue = JobQueue(1)
    blocker = long_job(shapes, queue=queue).start()  # on a clock of its own
    wait_until(lambda: blocker.state == "running")
    clock = FakeClock()
    job = long_job(shapes, clock, queue=queue).start()
    wait_until(lambda: job.snapshot().queue_position == 1)
    clock.advance(2 * 3600)  # 2 h in the queue
    blocker.stop()
    wait_until(lambda: trained_batches(job) >= 3)
    assert job.state == "running"
    job.stop()
    job.join(60)
    assert job.stop_kind == USER and blocker.stop_kind == USER


def test_a_job_no_tab_has_seen_for_too_long_is_stopped(shapes, long_limits, monkeypatch):
    monkeypatch.setenv("CNNLAB_JOB_ORPHAN_TIME", "10min")
    clock = FakeClock()
    job = long_job(shapes, clock).start()
    wait_until(lambda: trained_batches(job) >= 2)
    clock.advance(601)
    job.join(60)
    assert job.state == "stopped" and job.stop_kind == ORPHANED
    assert job.stop_reason.startswith("Stopped after 10 min with no tab of yours open: the model of epoch ")
    assert job.card is not None


def test_touch_keeps_a_job_alive(shapes, long_limits, monkeypatch):
    monkeypatch.setenv("CNNLAB_JOB_ORPHAN_TIME", "10min")
    clock = FakeClock()
    job = long_job(shapes, clock).start()
    wait_until(lambda: trained_batches(job) >= 2)
    for _ in range(4):  # 40 min, a tab seen every 8
        clock.advance(8 * 60)
        job.touch()
        wait_for_batches(job)  # it has checked its limits since
        assert not job.finished and job.stop_reason is None
    clock.advance(601)  # then the tab is closed
    job.join(60)
    assert job.stop_kind == ORPHANED


def test_a_paused_job_no_tab_has_seen_is_stopped_too(shapes, long_limits, monkeypatch):
    monkeypatch.setenv("CNNLAB_JOB_ORPHAN_TIME", "10min")
    clock = FakeClock()
    job = long_job(shapes, clock).start()
    wait_until(lambda: trained_batches(job) >= 2)
    job.pause()
    wait_until(lambda: job.state == "paused")
    clock.advance(601)  # over 10 min unseen, under 15 min paused
    job.join(60)
    assert job.state == "stopped" and job.stop_kind == ORPHANED


def test_a_queued_job_no_tab_has_seen_leaves_the_queue(shapes, long_limits, monkeypatch):
    monkeypatch.setenv("CNNLAB_JOB_ORPHAN_TIME", "10min")
    queue = JobQueue(1)
    assert queue.acquire("someone else", threading.Event())
    clock = FakeClock()
    job = long_job(shapes, clock, queue=queue).start()
    wait_until(lambda: job.snapshot().queue_position == 1)
    clock.advance(601)
    job.join(30)
    assert job.state == "stopped" and job.stop_kind == ORPHANED and job.card is None
    assert job.stop_reason == job.snapshot().error
    assert "no tab of yours open while waiting in the queue" in job.stop_reason
    assert queue.position(job.id) is None
    queue.release("someone else")


@pytest.mark.parametrize("kept, scored, end", [
    (2, True, " The model of epoch 2 is kept."),
    (0, True, " No epoch had finished: no model is kept."),
    (2, False, " Scoring the model of epoch 2 ran out of memory too: no model is kept."),
])
def test_out_of_memory_in_plain_words(kept, scored, end):
    from core.training.run_limits import out_of_memory_text

    assert out_of_memory_text(3, 1_250_000_000, 64, kept, scored) == (
        "Out of memory in epoch 3: the server could not find the memory that 1,250,000,000 weights trained in "
        "batches of 64 need. Try a smaller network or batch size, or train when fewer people do." + end)


def test_out_of_memory_errors_are_told_apart_from_others():
    import tensorflow as tf

    from core.training.run_limits import out_of_memory

    assert out_of_memory(MemoryError()) and out_of_memory(tf.errors.ResourceExhaustedError(None, None, "OOM"))
    assert not out_of_memory(ValueError("Expected a model with 4 outputs")) and not out_of_memory(
        tf.errors.InvalidArgumentError(None, None, "bad shape"))

"""core.training.queue: at most ``limit`` runs train at once; the others wait in arrival order and can leave."""

from __future__ import annotations

import threading
import time


from core.training.config import TrainConfig
from core.training.jobs import TrainingJob
from core.training.queue import JobQueue
from training_models import two_block_model, wait_until


def acquire_in_thread(queue: JobQueue, job_id: str, cancelled: threading.Event | None = None):
    """Start ``queue.acquire(job_id)`` in a thread; returns (thread, [its result once it has one])."""
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(queue.acquire(job_id, cancelled or threading.Event())),
                              daemon=True)
    thread.start()
    return thread, result


def test_the_limit_comes_from_the_argument_the_environment_or_the_cores(monkeypatch):
    import os

    assert JobQueue(3).limit == 3
    monkeypatch.setenv("CNNLAB_MAX_TRAINING_JOBS", "5")
    assert JobQueue().limit == 5
    monkeypatch.delenv("CNNLAB_MAX_TRAINING_JOBS")
    assert JobQueue().limit == (os.cpu_count() or 1)


def test_waiting_jobs_start_in_arrival_order_as_places_free_up():
    queue = JobQueue(limit=1)
    assert queue.acquire("a", threading.Event()) and queue.running == 1 and queue.position("a") is None
    b, b_result = acquire_in_thread(queue, "b")
    wait_until(lambda: queue.position("b") == 1)
    c, c_result = acquire_in_thread(queue, "c")
    wait_until(lambda: queue.position("c") == 2)
    time.sleep(0.3)
    assert b_result == c_result == []  # both still waiting: the one place is taken
    queue.release("a")
    b.join(5)
    assert b_result == [True] and c_result == [] and queue.position("c") == 1 and queue.running == 1
    queue.release("b")
    c.join(5)
    assert c_result == [True] and queue.running == 1
    queue.release("c")
    assert queue.running == 0 and queue.position("c") is None


def test_a_cancelled_job_leaves_the_queue_and_the_next_moves_up():
    queue = JobQueue(limit=1)
    queue.acquire("a", threading.Event())
    cancel_b = threading.Event()
    b, b_result = acquire_in_thread(queue, "b", cancel_b)
    wait_until(lambda: queue.position("b") == 1)
    c, c_result = acquire_in_thread(queue, "c")
    wait_until(lambda: queue.position("c") == 2)
    cancel_b.set()
    b.join(5)
    assert b_result == [False] and queue.position("b") is None and queue.position("c") == 1
    queue.release("a")
    c.join(5)
    assert c_result == [True] and queue.running == 1


def test_two_places_run_two_jobs_at_once():
    queue = JobQueue(limit=2)
    assert queue.acquire("a", threading.Event()) and queue.acquire("b", threading.Event())
    assert queue.running == 2
    c, c_result = acquire_in_thread(queue, "c")
    wait_until(lambda: queue.position("c") == 1)
    queue.release("b")
    c.join(5)
    assert c_result == [True] and queue.running == 2


def test_queue_runs_jobs_in_order_and_shows_positions(shapes):
    queue = JobQueue(limit=1)
    a = TrainingJob(two_block_model(shapes), shapes, TrainConfig(epochs=30, batch_size=8), name="a", queue=queue).start()
    wait_until(lambda: a.state == "running")
    b = TrainingJob(two_block_model(shapes), shapes, TrainConfig(epochs=1, batch_size=32), name="b", queue=queue).start()
    c = TrainingJob(two_block_model(shapes), shapes, TrainConfig(epochs=1, batch_size=32), name="c", queue=queue).start()
    wait_until(lambda: c.snapshot().queue_position == 2)
    assert b.snapshot().queue_position == 1 and b.state == "queued" and queue.running == 1
    c.stop()  # leaving the queue
    c.join(10)
    assert c.state == "stopped" and "queue" in c.snapshot().error
    a.stop()
    a.join(60)
    b.join(60)
    assert b.state == "done" and b.snapshot().queue_position is None and queue.running == 0



def test_a_paused_job_gives_its_slot_to_the_next_and_queues_again_on_resume(shapes):
    # On two cores two paused runs held both slots: nobody else trained until they resumed.
    queue = JobQueue(limit=1)
    a = TrainingJob(two_block_model(shapes), shapes, TrainConfig(epochs=50, batch_size=8), name="a", queue=queue).start()
    wait_until(lambda: len(a.snapshot().batch_log) >= 2)
    b = TrainingJob(two_block_model(shapes), shapes, TrainConfig(epochs=50, batch_size=8), name="b", queue=queue).start()
    wait_until(lambda: b.snapshot().queue_position == 1)
    a.pause()
    wait_until(lambda: len(b.snapshot().batch_log) >= 3)  # b trains while a is paused
    assert a.state == "paused" and b.state == "running" and queue.running == 1
    a.resume()  # back in the queue, behind b, and shown so
    wait_until(lambda: a.snapshot().queue_position == 1)
    held = len(a.snapshot().batch_log)
    assert a.state == "queued" and a.snapshot().state == "queued" and b.state == "running"
    b.stop()
    b.join(60)
    wait_until(lambda: len(a.snapshot().batch_log) >= held + 2)  # a has the slot again
    assert a.state == "running" and a.snapshot().queue_position is None and queue.running == 1
    a.stop()
    a.join(60)
    assert a.state == "stopped" and queue.running == 0
    # the time spent paused or waiting for the slot again is not training time
    snap = a.snapshot()
    assert a.result["train_seconds"] == snap.elapsed and a.result["paused_seconds"] > 0


def test_a_job_stopped_while_waiting_to_resume_keeps_its_model(shapes):
    queue = JobQueue(limit=1)
    a = TrainingJob(two_block_model(shapes), shapes, TrainConfig(epochs=50, batch_size=8), name="a", queue=queue).start()
    wait_until(lambda: len(a.snapshot().batch_log) >= 2)
    a.pause()
    wait_until(lambda: a.state == "paused")
    assert queue.acquire("someone else", threading.Event())
    a.resume()
    wait_until(lambda: a.snapshot().queue_position == 1)
    a.stop()
    a.join(60)
    assert a.state == "stopped" and a.card is not None and a.stop_reason.startswith("Stopped with the Stop button")
    assert queue.position(a.id) is None and queue.running == 1  # someone else's slot only
    queue.release("someone else")


def test_a_cancel_function_is_asked_while_waiting():
    queue = JobQueue(limit=1)
    queue.acquire("a", threading.Event())
    asked = []

    def cancelled() -> bool:
        asked.append(queue.position("b"))  # the queue's lock is free while it asks
        return len(asked) >= 3

    assert queue.acquire("b", cancelled) is False
    assert asked == [1, 1, 1] and queue.position("b") is None

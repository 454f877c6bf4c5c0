"""give_way: a training thread waits between batches while a page's script runs, never for long."""

from __future__ import annotations

import threading

from core.training.give_way import give_way, page_run, pages_running


def test_a_batch_starts_at_once_when_no_page_runs():
    assert pages_running() == 0
    assert give_way(max_wait=5) == 0.0


def test_a_batch_waits_for_the_page_run_to_end():
    waited, entered = [], threading.Event()
    with page_run():
        assert pages_running() == 1

        def batch():
            entered.set()
            waited.append(give_way(max_wait=60))

        thread = threading.Thread(target=batch)
        thread.start()
        entered.wait(10)
        assert thread.is_alive() or waited  # (it may only just have started waiting)
    thread.join(30)
    assert not thread.is_alive() and waited[0] < 30
    assert pages_running() == 0


def test_a_long_page_run_delays_a_batch_by_max_wait_at_most():
    with page_run(), page_run():  # two sessions' runs at once
        waited = give_way(max_wait=0.05)
        assert 0.04 <= waited < 5
    assert pages_running() == 0 and give_way(max_wait=5) == 0.0


def test_a_page_run_that_raises_still_lets_training_go():
    try:
        with page_run():
            raise RuntimeError("the page failed")
    except RuntimeError:
        pass
    assert pages_running() == 0 and give_way(max_wait=5) == 0.0

"""core.training.user_jobs: in classroom mode a user has at most ``jobs_per_user`` unfinished runs."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from core.training.config import TrainConfig
from core.training.jobs import TrainingJob
from core.training.queue import JobQueue
from core.training.user_jobs import JobLimitError, UserJobs
from training_models import two_block_model, wait_until


def fake_job(name: str, finished: bool = False):
    return SimpleNamespace(name=name, finished=finished)


@pytest.fixture
def classroom(monkeypatch):
    monkeypatch.setenv("CNNLAB_MODE", "classroom")


def test_classroom_mode_refuses_a_second_unfinished_run_and_names_the_first(classroom):
    jobs = UserJobs()
    first = fake_job("digits_cnn")
    jobs.add("ada", first)
    with pytest.raises(JobLimitError) as refused:
        jobs.add("ada", fake_job("my_classes"))
    assert refused.value.running == [first] and refused.value.limit == 1 and refused.value.user == "ada"
    assert str(refused.value) == ("Expected at most 1 unfinished training run per user in classroom mode. Received: "
                                  "a new run for 'ada' while 'digits_cnn' is not finished")
    jobs.add("bob", fake_job("bobs"))  # another user is not held by ada's run
    first.finished = True
    jobs.add("ada", fake_job("my_classes"))  # once it has ended
    assert [j.name for j in jobs.running("ada")] == ["my_classes"]


def test_the_limit_per_user_comes_from_the_settings(classroom, monkeypatch):
    monkeypatch.setenv("CNNLAB_JOBS_PER_USER", "2")
    jobs = UserJobs()
    jobs.add("ada", fake_job("one"))
    jobs.add("ada", fake_job("two"))
    with pytest.raises(JobLimitError, match="at most 2 unfinished training runs"):
        jobs.add("ada", fake_job("three"))


def test_personal_mode_has_no_limit(monkeypatch):
    monkeypatch.delenv("CNNLAB_MODE", raising=False)
    jobs = UserJobs()
    for name in ("one", "two", "three"):
        jobs.add("me", fake_job(name))
    assert len(jobs.running("me")) == 3


def long_job(ds, name: str, user: str, jobs: UserJobs, queue: JobQueue) -> TrainingJob:
    return TrainingJob(two_block_model(ds), ds, TrainConfig(epochs=50, batch_size=8), name=name, user=user,
                       user_jobs=jobs, queue=queue)


def test_a_job_of_a_user_with_a_run_going_on_never_starts_in_classroom_mode(shapes, classroom):
    jobs, queue = UserJobs(), JobQueue(2)
    first = long_job(shapes, "first", "ada", jobs, queue).start()
    wait_until(lambda: first.state == "running")
    first.pause()
    wait_until(lambda: first.state == "paused")
    second = long_job(shapes, "second", "ada", jobs, queue)
    with pytest.raises(JobLimitError, match="'first' is not finished") as refused:
        second.start()  # paused still counts: it holds its model in memory
    assert refused.value.running == [first] and second.state == "queued" and second.snapshot().batch_log == []
    assert queue.running == 0 and queue.position(second.id) is None  # it never queued
    other = long_job(shapes, "other", "bob", jobs, queue).start()
    first.stop()
    first.join(60)
    third = long_job(shapes, "third", "ada", jobs, queue).start()  # the first has ended
    wait_until(lambda: third.state == "running")
    for job in (third, other):
        job.stop()
        job.join(60)
    assert third.state == other.state == "stopped"


def test_personal_mode_lets_one_user_train_two_runs_at_once(shapes, monkeypatch):
    monkeypatch.setenv("CNNLAB_MODE", "personal")
    jobs, queue = UserJobs(), JobQueue(2)
    runs = [long_job(shapes, name, "me", jobs, queue).start() for name in ("one", "two")]
    wait_until(lambda: all(len(job.snapshot().batch_log) >= 2 for job in runs))
    for job in runs:
        job.stop()
        job.join(60)
    assert [job.state for job in runs] == ["stopped", "stopped"]

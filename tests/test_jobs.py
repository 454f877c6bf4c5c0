"""Background training jobs: progress, pause and resume, learning-rate changes, stop,
continue training, the queue, filter evolution and a distribution strategy."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from core.datasets import load_dataset
from core.jobs import JobQueue, TrainingJob, copy_model
from core.models import ConvBlock, ModelSpec, build_model
from core.training import TrainConfig

SPEC = ModelSpec(name="tiny", blocks=[ConvBlock(4), ConvBlock(8)], dense_units=[])


@pytest.fixture(scope="module")
def shapes():
    return load_dataset("shapes", {"n_train": 320, "n_test": 64})


def new_model(ds):
    return build_model(SPEC, ds.input_shape, ds.num_classes, seed=0)


def wait_until(predicate, timeout=60.0):
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


def test_progress_is_reported_while_running(shapes):
    job = TrainingJob(new_model(shapes), shapes, TrainConfig(epochs=3, batch_size=16), name="p",
                      queue=JobQueue(2)).start()
    wait_until(lambda: job.snapshot().batch_log)
    mid = job.snapshot()
    assert mid.state in ("running", "done") and mid.steps == 18  # 288 training images / 16
    job.join(60)
    snap = job.snapshot()
    assert snap.state == "done" and snap.fraction == 1.0
    assert len(snap.epoch_log) == 3 and len(snap.batch_log) == 3 * 18
    assert snap.images_per_second > 0 and snap.elapsed > 0
    assert job.metadata["epochs_total"] == 3 and job.metadata["metrics"]["test_accuracy"] >= 0


def test_pause_holds_training_and_resume_continues(shapes):
    job = TrainingJob(new_model(shapes), shapes, TrainConfig(epochs=50, batch_size=8), name="pause",
                      queue=JobQueue(2)).start()
    wait_until(lambda: len(job.snapshot().batch_log) >= 3)
    job.pause()
    wait_until(lambda: job.state == "paused")
    held = len(job.snapshot().batch_log)
    elapsed = job.snapshot().elapsed
    time.sleep(0.6)
    assert len(job.snapshot().batch_log) == held  # no batch while paused
    assert job.snapshot().elapsed == pytest.approx(elapsed, abs=0.05)  # paused time is not training time
    job.resume()
    wait_until(lambda: len(job.snapshot().batch_log) > held + 2)
    assert job.state == "running"
    job.stop()
    job.join(60)
    assert job.state == "stopped"


def test_stop_keeps_the_weights_and_the_model_is_usable(shapes):
    model = new_model(shapes)
    initial = [w.copy() for w in model.get_weights()]
    job = TrainingJob(model, shapes, TrainConfig(epochs=50, batch_size=8), name="stop", queue=JobQueue(2)).start()
    wait_until(lambda: len(job.snapshot().batch_log) >= 5)
    job.stop()
    job.join(60)
    assert job.state == "stopped" and job.result["epochs_done"] < 50
    assert any(not np.allclose(a, b) for a, b in zip(initial, model.get_weights()))
    probs = model(shapes.x_test[:4], training=False).numpy()
    assert probs.shape == (4, 4) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert job.metadata["metrics"]["test_accuracy"] is not None


def test_learning_rate_change_takes_effect(shapes):
    # A learning rate of 1e-12 from the first batch on: Adam's steps are about the
    # learning rate in size, so the weights must stay where they started.
    model = new_model(shapes)
    initial = [w.copy() for w in model.get_weights()]
    job = TrainingJob(model, shapes, TrainConfig(epochs=1, batch_size=32, learning_rate=1e-2), name="lr",
                      queue=JobQueue(2))
    job.set_learning_rate(1e-12)
    job.start().join(60)
    assert job.state == "done"
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(1e-12)
    assert all(np.allclose(a, b, atol=1e-8) for a, b in zip(initial, model.get_weights()))
    assert job.snapshot().lr_log == [{"step": 0.0, "learning_rate": 1e-12}]
    assert job.result["learning_rate_changes"][0]["learning_rate"] == 1e-12

    # the same run at the configured rate does move the weights
    moved = new_model(shapes)
    TrainingJob(moved, shapes, TrainConfig(epochs=1, batch_size=32, learning_rate=1e-2), name="lr2",
                queue=JobQueue(2)).start().join(60)
    assert any(not np.allclose(a, b, atol=1e-4) for a, b in zip(initial, moved.get_weights()))


def test_learning_rate_change_mid_run(shapes):
    job = TrainingJob(new_model(shapes), shapes, TrainConfig(epochs=30, batch_size=8), name="mid",
                      queue=JobQueue(2)).start()
    wait_until(lambda: len(job.snapshot().batch_log) >= 3)
    job.set_learning_rate(3e-4)
    wait_until(lambda: job.snapshot().lr_log)
    assert job.snapshot().learning_rate == 3e-4
    assert float(job.model.optimizer.learning_rate.numpy()) == pytest.approx(3e-4)
    with pytest.raises(ValueError):
        job.set_learning_rate(0)
    job.stop()
    job.join(60)


def test_continue_training_leaves_the_original_untouched(shapes):
    first = TrainingJob(new_model(shapes), shapes, TrainConfig(epochs=2, batch_size=32), name="base",
                        queue=JobQueue(2)).start()
    first.join(60)
    original = first.model
    before = [w.copy() for w in original.get_weights()]
    parent = {**first.metadata, "id": "session:base"}
    more = TrainingJob(copy_model(original), shapes, TrainConfig(epochs=2, batch_size=32), name="base+2",
                       parent=parent, queue=JobQueue(2)).start()
    more.join(60)
    assert more.state == "done"
    assert all(np.array_equal(a, b) for a, b in zip(before, original.get_weights()))
    assert any(not np.allclose(a, b) for a, b in zip(before, more.model.get_weights()))
    assert more.metadata["parent"] == "base" and more.metadata["parent_id"] == "session:base"
    assert more.metadata["epochs_before"] == 2 and more.metadata["epochs_total"] == 4
    # continuing starts from the trained weights: its first loss is below the untrained one
    assert more.snapshot().epoch_log[0]["loss"] < first.snapshot().epoch_log[0]["loss"]


def test_queue_runs_jobs_in_order_and_shows_positions(shapes):
    queue = JobQueue(limit=1)
    a = TrainingJob(new_model(shapes), shapes, TrainConfig(epochs=30, batch_size=8), name="a", queue=queue).start()
    wait_until(lambda: a.state == "running")
    b = TrainingJob(new_model(shapes), shapes, TrainConfig(epochs=1, batch_size=32), name="b", queue=queue).start()
    c = TrainingJob(new_model(shapes), shapes, TrainConfig(epochs=1, batch_size=32), name="c", queue=queue).start()
    wait_until(lambda: c.snapshot().queue_position == 2)
    assert b.snapshot().queue_position == 1 and b.state == "queued" and queue.running == 1
    c.stop()  # leaving the queue
    c.join(10)
    assert c.state == "stopped" and "queue" in c.snapshot().error
    a.stop()
    a.join(60)
    b.join(60)
    assert b.state == "done" and b.snapshot().queue_position is None and queue.running == 0


def test_filters_and_maps_are_recorded_at_step_zero_and_every_epoch(shapes):
    model = new_model(shapes)
    initial_kernel = model.get_layer("conv1").get_weights()[0].copy()
    probe = shapes.x_test[3]
    job = TrainingJob(model, shapes, TrainConfig(epochs=3, batch_size=32), name="evo", probe=probe,
                      queue=JobQueue(2)).start()
    job.join(60)
    assert [s.epoch for s in job.snapshots] == [0, 1, 2, 3]
    assert np.array_equal(job.snapshots[0].kernel, initial_kernel)
    assert np.array_equal(job.snapshots[-1].kernel, model.get_layer("conv1").get_weights()[0])
    assert set(job.snapshots[0].maps) == {"conv1", "conv2"}
    import keras

    reference = keras.Model(model.inputs, model.get_layer("conv1").output)(probe[None]).numpy()[0]
    np.testing.assert_allclose(job.snapshots[-1].maps["conv1"], reference, atol=1e-5)


def test_two_jobs_at_once_stay_separate(shapes):
    queue = JobQueue(limit=2)
    jobs = [TrainingJob(new_model(shapes), shapes, TrainConfig(epochs=2, batch_size=32, seed=s), name=f"j{s}",
                        queue=queue).start() for s in (1, 2)]
    for job in jobs:
        job.join(60)
    assert [j.state for j in jobs] == ["done", "done"]
    assert jobs[0].model is not jobs[1].model
    assert jobs[0].metadata["name"] == "j1" and jobs[1].metadata["name"] == "j2"
    assert len(jobs[0].snapshot().batch_log) == len(jobs[1].snapshot().batch_log) == 2 * 9


DISTRIBUTED = textwrap.dedent("""
    import json, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from core.datasets import load_dataset
    from core.models import ConvBlock, ModelSpec, build_model
    from core.training import TrainConfig, train_model
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    strategy = tf.distribute.MirroredStrategy(devices)
    ds = load_dataset("digits")
    model = build_model(ModelSpec(blocks=[ConvBlock(8), ConvBlock(16)], dense_units=[32]), ds.input_shape, 10, seed=0)
    result = train_model(model, ds, TrainConfig(epochs=4, batch_size=32, learning_rate=3e-3), strategy=strategy)
    print(json.dumps({"replicas": strategy.num_replicas_in_sync, "loss": result["history"]["loss"],
                      "devices": result["devices"]}))
""")


@pytest.mark.slow
def test_training_under_a_mirrored_strategy_on_two_logical_cpus(repo_root, make_subprocess_env):
    proc = subprocess.run([sys.executable, "-c", DISTRIBUTED], cwd=repo_root, env=make_subprocess_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    import json

    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["replicas"] == 2 and len(out["devices"]) == 2
    assert out["loss"][-1] < 0.7 * out["loss"][0], out["loss"]


def test_pick_strategy_is_none_without_several_gpus():
    from core.jobs import pick_strategy
    import tensorflow as tf

    if len(tf.config.list_logical_devices("GPU")) > 1:
        pytest.skip("several GPUs visible: MirroredStrategy expected instead")
    assert pick_strategy() is None


def test_stop_while_paused_keeps_the_weights_of_the_pause(shapes):
    model = new_model(shapes)
    job = TrainingJob(model, shapes, TrainConfig(epochs=50, batch_size=8), name="pause-stop", queue=JobQueue(2)).start()
    wait_until(lambda: len(job.snapshot().batch_log) >= 3)
    job.pause()
    wait_until(lambda: job.state == "paused")
    at_pause = [w.copy() for w in model.get_weights()]
    job.stop()
    job.join(60)
    assert job.state == "stopped"
    assert all(np.array_equal(a, b) for a, b in zip(at_pause, model.get_weights()))
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(1e-3)  # restored after the frozen batch

"""core.training.jobs: a training run in a background thread, steered by a page, and the model card it ends with.

Progress, pause and resume, learning-rate changes, stop, continued runs (``continue_run``), new runs
(``new_run``) and the filter evolution they record.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from core.data import load_dataset
from core.data.shapes import load_shapes
from core.models.architecture import ConvBlock, ModelSpec, build_model
from core.training.callbacks import cosine_learning_rate
from core.training.config import TrainConfig
from core.training.jobs import TrainingJob
from core.training.launch import continue_run, copy_model, new_run
from core.training.queue import JobQueue
from training_models import TINY_SPEC, TWO_BLOCKS, two_block_model, wait_until

FOCUS_SPEC = ModelSpec(name="t", blocks=[ConvBlock(4, 3), ConvBlock(8, 3)], dense_units=[16])  # no dropout


def test_training_job_runs_to_done(small_shapes, tiny_model):
    config = TrainConfig(epochs=2, batch_size=32)
    job = TrainingJob(tiny_model, small_shapes, config, name="tiny", spec=TINY_SPEC.to_dict())
    assert job.snapshot().state == "queued" and not job.finished
    job.start()
    job.join(timeout=120)
    snap = job.snapshot()
    assert snap.state == "done", snap.error
    assert job.finished and snap.fraction == 1.0 and snap.error is None
    assert [e["epoch"] for e in snap.epoch_log] == [1, 2]
    assert len(snap.batch_log) == 2 * snap.steps and snap.batch_log[-1]["step"] == pytest.approx(2.0)
    assert snap.elapsed > 0 and snap.images_per_second > 0
    card = job.card
    assert 0.0 <= card.metrics.test_accuracy <= 1.0
    assert card.name == "tiny" and card.spec == TINY_SPEC.to_dict()
    assert card.train_config == config.to_dict() and card.epochs_done == 2
    assert card.class_names == small_shapes.class_names
    json.loads(card.to_json())


def test_training_job_stop_keeps_a_usable_model(small_shapes, tiny_model):
    config = TrainConfig(epochs=50, batch_size=16)
    job = TrainingJob(tiny_model, small_shapes, config, name="tiny").start()
    job.stop()
    job.join(timeout=120)
    snap = job.snapshot()
    assert snap.state == "stopped", snap.error
    assert job.result["epochs_done"] < config.epochs
    assert job.card.epochs_done == job.result["epochs_done"]
    assert job.card.metrics.test_accuracy is not None
    probs = np.asarray(tiny_model(small_shapes.x_test[:4], training=False))
    assert np.isfinite(probs).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_training_job_failure_is_reported(small_shapes):
    wrong = build_model(TINY_SPEC, small_shapes.input_shape, 3)
    job = TrainingJob(wrong, small_shapes, TrainConfig(epochs=1), name="wrong").start()
    job.join(timeout=60)
    snap = job.snapshot()
    assert snap.state == "failed"
    assert "ValueError" in snap.error and "outputs" in snap.error
    assert job.card is None


def test_training_job_rejects_bad_config(small_shapes, tiny_model):
    with pytest.raises(ValueError):
        TrainingJob(tiny_model, small_shapes, TrainConfig(epochs=0), name="x")


def test_progress_is_reported_while_running(shapes):
    job = TrainingJob(two_block_model(shapes), shapes, TrainConfig(epochs=3, batch_size=16), name="p",
                      queue=JobQueue(2)).start()
    wait_until(lambda: job.snapshot().batch_log)
    mid = job.snapshot()
    assert mid.state in ("running", "done") and mid.steps == 18  # 288 training images / 16
    job.join(60)
    snap = job.snapshot()
    assert snap.state == "done" and snap.fraction == 1.0
    assert len(snap.epoch_log) == 3 and len(snap.batch_log) == 3 * 18
    assert snap.images_per_second > 0 and snap.elapsed > 0
    assert job.card.epochs_total == 3 and job.card.metrics.test_accuracy >= 0


def test_pause_holds_training_and_resume_continues(shapes):
    job = TrainingJob(two_block_model(shapes), shapes, TrainConfig(epochs=50, batch_size=8), name="pause",
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


def test_run_time_leaves_out_the_pauses_and_agrees_with_the_progress(shapes):
    # The page shows the progress's elapsed time while the run trains and the result's time once it is done:
    # one figure, training alone, with the pause reported beside it.
    job = TrainingJob(two_block_model(shapes), shapes, TrainConfig(epochs=2, batch_size=16), name="paused-time",
                      queue=JobQueue(2))
    wall = time.perf_counter()
    job.start()
    wait_until(lambda: len(job.snapshot().batch_log) >= 2)
    job.pause()
    wait_until(lambda: job.state == "paused")
    wait_until(lambda: job.snapshot().paused_seconds >= 1.0)
    while_paused = job.snapshot()
    job.resume()
    job.join(120)
    wall = time.perf_counter() - wall
    snap = job.snapshot()
    assert snap.state == "done", snap.error
    paused = job.result["paused_seconds"]
    assert paused >= 1.0 and snap.paused_seconds == pytest.approx(paused)
    assert snap.elapsed == job.result["train_seconds"] == job.card.train_seconds
    assert snap.elapsed >= while_paused.elapsed  # it trained on after the pause
    assert job.result["train_seconds"] + paused < wall


def test_stop_keeps_the_weights_and_the_model_is_usable(shapes):
    model = two_block_model(shapes)
    initial = [w.copy() for w in model.get_weights()]
    job = TrainingJob(model, shapes, TrainConfig(epochs=50, batch_size=8), name="stop", queue=JobQueue(2)).start()
    wait_until(lambda: len(job.snapshot().batch_log) >= 5)
    job.stop()
    job.join(60)
    assert job.state == "stopped" and job.result["epochs_done"] < 50
    assert any(not np.allclose(a, b) for a, b in zip(initial, model.get_weights()))
    probs = model(shapes.x_test[:4], training=False).numpy()
    assert probs.shape == (4, 4) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert job.card.metrics.test_accuracy is not None


def test_learning_rate_change_takes_effect(shapes):
    # A learning rate of 1e-12 from the first batch on: Adam's steps are about the
    # learning rate in size, so the weights must stay where they started.
    model = two_block_model(shapes)
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
    moved = two_block_model(shapes)
    TrainingJob(moved, shapes, TrainConfig(epochs=1, batch_size=32, learning_rate=1e-2), name="lr2",
                queue=JobQueue(2)).start().join(60)
    assert any(not np.allclose(a, b, atol=1e-4) for a, b in zip(initial, moved.get_weights()))


def test_learning_rate_change_mid_run(shapes):
    job = TrainingJob(two_block_model(shapes), shapes, TrainConfig(epochs=30, batch_size=8), name="mid",
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


def test_learning_rate_chosen_while_paused_is_shown_pending_and_applies_on_resume(shapes):
    config = TrainConfig(epochs=30, batch_size=8)
    job = TrainingJob(two_block_model(shapes), shapes, config, name="paused-lr", queue=JobQueue(2)).start()
    wait_until(lambda: len(job.snapshot().batch_log) >= 3)
    job.pause()
    wait_until(lambda: job.state == "paused")
    job.set_learning_rate(5e-4)
    snap = job.snapshot()
    assert snap.pending_learning_rate == 5e-4  # what the page shows: chosen, waiting for the resume
    assert snap.learning_rate == config.learning_rate and snap.lr_log == [] and snap.state == "paused"
    held = snap.epoch + snap.batch / snap.steps
    job.resume()
    wait_until(lambda: job.snapshot().lr_log)
    snap = job.snapshot()
    assert snap.pending_learning_rate is None and snap.learning_rate == 5e-4
    assert float(job.model.optimizer.learning_rate.numpy()) == pytest.approx(5e-4)
    [change] = snap.lr_log
    # from the first batch after the pause (Keras reports a batch's end a moment after the next one starts,
    # so the position read at the pause may be one batch short)
    assert change["learning_rate"] == 5e-4 and held - 1e-9 <= change["step"] <= held + 1 / snap.steps + 1e-9
    job.stop()
    job.join(60)
    assert job.state == "stopped"


def test_continue_training_leaves_the_original_untouched(shapes):
    first = TrainingJob(two_block_model(shapes), shapes, TrainConfig(epochs=2, batch_size=32), name="base",
                        queue=JobQueue(2)).start()
    first.join(60)
    original = first.model
    before = [w.copy() for w in original.get_weights()]
    more = continue_run(original, first.card, "session:base", shapes, TrainConfig(epochs=2, batch_size=32),
                        queue=JobQueue(2))
    more.join(60)
    assert more.state == "done"
    assert all(np.array_equal(a, b) for a, b in zip(before, original.get_weights()))
    assert any(not np.allclose(a, b) for a, b in zip(before, more.model.get_weights()))
    assert more.model is not original and more.name == more.card.name == "base@4ep"
    assert more.card.parent == "base" and more.card.parent_id == "session:base"
    assert more.card.epochs_before == 2 and more.card.epochs_total == 4
    # continuing starts from the trained weights: its first loss is below the untrained one
    assert more.snapshot().epoch_log[0]["loss"] < first.snapshot().epoch_log[0]["loss"]


def test_filters_and_maps_are_recorded_at_step_zero_and_every_epoch(shapes):
    model = two_block_model(shapes)
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
    jobs = [TrainingJob(two_block_model(shapes), shapes, TrainConfig(epochs=2, batch_size=32, seed=s), name=f"j{s}",
                        queue=queue).start() for s in (1, 2)]
    for job in jobs:
        job.join(60)
    assert [j.state for j in jobs] == ["done", "done"]
    assert jobs[0].model is not jobs[1].model
    assert jobs[0].card.name == "j1" and jobs[1].card.name == "j2"
    assert len(jobs[0].snapshot().batch_log) == len(jobs[1].snapshot().batch_log) == 2 * 9


def test_pick_strategy_is_none_without_several_gpus():
    from core.training.run import pick_strategy
    import tensorflow as tf

    if len(tf.config.list_logical_devices("GPU")) > 1:
        pytest.skip("several GPUs visible: MirroredStrategy expected instead")
    assert pick_strategy() is None


def test_stop_while_paused_keeps_the_weights_of_the_pause(shapes):
    model = two_block_model(shapes)
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


def test_new_run_builds_the_spec_seeded_and_keeps_it_in_the_card(shapes):
    config = TrainConfig(epochs=1, batch_size=32, seed=5)
    job = new_run(TWO_BLOCKS, shapes, config, name="fresh", queue=JobQueue(2))
    job.join(60)
    assert job.state == "done" and job.card.name == "fresh" and job.card.spec == TWO_BLOCKS.to_dict()
    assert job.card.parent is None and job.card.epochs_total == 1
    # the weights it started from are those build_model makes with the config's seed
    reference = build_model(TWO_BLOCKS, shapes.input_shape, shapes.num_classes, seed=5)
    np.testing.assert_array_equal(job.snapshots[0].kernel, reference.get_layer("conv1").get_weights()[0])


def test_copy_model_has_the_same_weights_and_changes_apart(shapes):
    model = two_block_model(shapes)
    clone = copy_model(model)
    assert clone is not model
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), clone.get_weights()))
    conv = clone.get_layer("conv1")
    conv.kernel.assign(np.zeros(conv.kernel.shape, np.float32))
    assert np.any(model.get_layer("conv1").get_weights()[0] != 0)  # the original keeps its own


def test_a_job_with_focus_counts_progress_in_images():
    ds = load_dataset("shapes", {"n_train": 600, "n_test": 200, "size": 28, "seed": 0})
    config = TrainConfig(epochs=3, batch_size=50, validation_split=0.0, focus=0.5, focus_warmup=1, focus_revisit=0.0)
    job = TrainingJob(build_model(FOCUS_SPEC, ds.input_shape, ds.num_classes, seed=0), ds, config, name="focus",
                      queue=JobQueue(1))
    first = job.snapshot()
    assert first.images_total == 600 + 300 + 300 and first.fraction == 0.0
    job.start().join(120)
    done = job.snapshot()
    assert done.state == "done", done.error
    assert done.images == done.images_total == 1200
    assert job.result["epoch_images"] == [600, 300, 300]
    assert job.card.train_config["focus"] == 0.5


def test_a_job_shows_the_scheduled_learning_rate():
    ds = load_shapes(n_train=320, n_test=64, size=16, seed=3)
    model = build_model(ModelSpec(), ds.input_shape, ds.num_classes, seed=0)
    config = TrainConfig(epochs=2, batch_size=32, learning_rate=0.004, schedule="cosine")
    job = TrainingJob(model, ds, config, name="cosine", queue=JobQueue(1)).start()
    job.join(timeout=120)
    snap = job.snapshot()
    assert snap.state == "done"
    steps = int(np.ceil((len(ds.x_train) - round(len(ds.x_train) * 0.1)) / 32))
    last = cosine_learning_rate(2 * steps - 1, 2 * steps, 0.004, min(steps, int(0.03 * 2 * steps)))
    assert snap.learning_rate == pytest.approx(last, rel=1e-4) and snap.learning_rate < 0.0004
    assert snap.lr_log == []  # no change by hand



def running_out_of_memory(error: BaseException, epoch: int):
    """A ``train_model`` that raises ``error`` at the second batch of ``epoch`` (0-based), as an allocation would."""
    import keras

    from core.training import jobs

    real = jobs.train_model

    class RunOutOfMemory(keras.callbacks.Callback):
        def on_epoch_begin(self, e, logs=None):
            self.epoch = e

        def on_train_batch_begin(self, batch, logs=None):
            if self.epoch == epoch and batch == 1:
                raise error

    def train_model(model, dataset, config, callbacks=None, **options):
        return real(model, dataset, config, callbacks=list(callbacks or []) + [RunOutOfMemory()], **options)

    return train_model


def out_of_memory_errors():
    import tensorflow as tf

    return [tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape[50000,50000]"),
            MemoryError("Unable to allocate 9.31 GiB")]


@pytest.mark.parametrize("error", out_of_memory_errors(), ids=["ResourceExhaustedError", "MemoryError"])
def test_out_of_memory_ends_the_run_with_a_message_and_the_last_epochs_model(shapes, monkeypatch, capfd, error):
    from core.training import jobs
    from core.training.run_limits import OUT_OF_MEMORY

    monkeypatch.setattr(jobs, "train_model", running_out_of_memory(error, epoch=2))
    model = two_block_model(shapes)
    job = TrainingJob(model, shapes, TrainConfig(epochs=5, batch_size=32), name="oom", queue=JobQueue(2)).start()
    job.join(60)
    assert job.state == "stopped" and job.stop_kind == OUT_OF_MEMORY
    assert job.stop_reason.startswith(f"Out of memory in epoch 3: the server could not find the memory that "
                                      f"{model.count_params():,} weights trained in batches of 32 need.")
    assert job.stop_reason.endswith("The model of epoch 2 is kept.")
    # the model is that of the end of epoch 2, scored and carded, not the half-trained one of epoch 3
    np.testing.assert_array_equal(model.get_layer("conv1").get_weights()[0], job.snapshots[2].kernel)
    assert job.card.epochs_done == 2 and len(job.card.history["loss"]) == 2
    assert job.card.metrics.test_accuracy is not None and job.result["train_seconds"] > 0
    assert "Traceback" not in capfd.readouterr().err  # one line in the log, no traceback


def test_out_of_memory_in_the_first_epoch_fails_with_the_message_and_no_model(shapes, monkeypatch, capfd):
    import tensorflow as tf

    from core.training import jobs

    error = tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")
    monkeypatch.setattr(jobs, "train_model", running_out_of_memory(error, epoch=0))
    ended = []
    job = TrainingJob(two_block_model(shapes), shapes, TrainConfig(epochs=5, batch_size=32), name="oom",
                      queue=JobQueue(2), on_end=ended.append).start()
    job.join(60)
    snap = job.snapshot()
    assert snap.state == "failed" and job.card is None and ended == []
    assert snap.error == job.stop_reason and snap.error.startswith("Out of memory in epoch 1:")
    assert snap.error.endswith("No epoch had finished: no model is kept.")
    assert "Traceback" not in capfd.readouterr().err


def test_out_of_memory_while_scoring_the_model_fails_with_the_message(shapes, monkeypatch):
    from core.storage import card

    def no_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate the novelty calibration")

    monkeypatch.setattr(card, "card_for_run", no_memory)
    job = TrainingJob(two_block_model(shapes), shapes, TrainConfig(epochs=2, batch_size=32), name="oom",
                      queue=JobQueue(2)).start()
    job.join(60)
    snap = job.snapshot()
    assert snap.state == "failed" and job.card is None and job.result is None
    assert snap.error.startswith("Out of memory in epoch 2:")
    assert snap.error.endswith("Scoring the model of epoch 2 ran out of memory too: no model is kept.")


def test_a_finished_run_has_traced_its_models_inspection_functions(shapes):
    from core.inspection.layers import _EXTRACTORS

    job = new_run(TWO_BLOCKS, shapes, TrainConfig(epochs=1, batch_size=32, seed=1), name="warm", queue=JobQueue(2))
    job.join(60)
    assert job.state == "done"
    assert job.model in _EXTRACTORS  # traced by the run's thread once it gave its slot back, before any page asks

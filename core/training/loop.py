"""CNN Lab's own training loop: Keras's ``fit`` with the same callbacks and history, at less cost per batch.

``fit_loop`` runs a compiled step (``make_train_step``) that splits each batch into towers run
side by side on a multi-core CPU; ``shuffled_batches`` and ``core.training.focus.FocusedBatches``
feed it. It leans on private Keras APIs (``Model._symbolic_build``, ``_compute_loss``,
``_loss_tracker`` and ``keras.src.losses.loss``); ``tests/core/training/test_loop.py`` checks its
weight updates against Keras's ``train_on_batch``, so a Keras upgrade that moves them fails there.
"""

from __future__ import annotations

import numpy as np


def train_towers(batch_size: int | None = None) -> int:
    """Parts a training step splits its batch into, to run side by side (see ``make_train_step``).

    Two on a CPU with several cores and no GPU: TensorFlow runs the small
    convolutions of one batch on one core, so two half-batches keep both busy
    (with ``TF_NUM_INTRAOP_THREADS`` at half the cores, set by ``core``). Four for
    a batch of 256 or more, so that each part still holds at least 64 images: the
    scheduler then has more to interleave (the Fashion-MNIST recipe's step at batch
    256 took 0.93x the time with four parts, while the MNIST recipe's at 128 took
    1.08x, measured alternating in one process). One on a GPU or a single core.
    """
    import tensorflow as tf

    if tf.config.list_logical_devices("GPU"):
        return 1
    from core import cpu_count

    if cpu_count() < 2:
        return 1
    return 4 if batch_size is not None and batch_size >= 256 else 2


def batch_signature(sample: tuple) -> list:
    """``tf.TensorSpec``s of batches of any size shaped and typed like ``sample``'s parts."""
    import tensorflow as tf

    return [tf.TensorSpec((None, *np.shape(part)[1:]), tf.as_dtype(np.asarray(part).dtype)) for part in sample]


def make_train_step(model, towers: int = 1, per_image: bool = False, sample: tuple | None = None):
    """A compiled training step ``step(x, y) -> logs``, the same as Keras's ``train_step``.

    With ``towers`` > 1 the batch is cut into that many parts whose forward and
    backward passes are independent until the loss, so TensorFlow runs them in
    parallel; the loss, gradients and metrics are those of the whole batch.
    With ``per_image`` it returns ``(logs, losses)``, where ``losses`` holds each
    image's cross-entropy (without label smoothing) from the forward pass before
    the update, for ``FocusedBatches``.
    With ``sample``, one ``(images, labels)`` batch, the step is traced once for batches of any
    size with its shapes and types; else once per batch shape until TensorFlow relaxes it (the
    last, smaller batch of an epoch traces it again: about 0.5 s a run for a small CNN).
    """
    import keras
    import tensorflow as tf
    from keras.src.losses import loss as loss_module

    def step(x, y, parts: int):
        n = tf.shape(x)[0]
        with tf.GradientTape() as tape:
            if parts > 1:
                cuts = [(n * k) // parts for k in range(parts + 1)]
                y_pred = tf.concat([model(x[cuts[k]:cuts[k + 1]], training=True) for k in range(parts)], axis=0)
            else:
                y_pred = model(x, training=True)
            loss = model._compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=None, training=True)
            model._loss_tracker.update_state(loss_module.unscale_loss_for_distribution(loss), sample_weight=n)
            loss = model.optimizer.scale_loss(loss)
        grads = tape.gradient(loss, model.trainable_weights)
        model.optimizer.apply_gradients(zip(grads, model.trainable_weights))
        logs = model.compute_metrics(x, y, y_pred, sample_weight=None)
        if per_image:
            return logs, keras.losses.sparse_categorical_crossentropy(y, y_pred)
        return logs

    if sample is not None:
        options = {"input_signature": batch_signature(sample)}
    else:
        options = {"reduce_retracing": True}
    whole = tf.function(lambda x, y: step(x, y, 1), **options)
    if towers <= 1:
        return whole
    split = tf.function(lambda x, y: step(x, y, towers), **options)
    # a batch smaller than the number of towers (the last one of an epoch can be) goes whole
    return lambda x, y: (split if len(x) >= towers else whole)(x, y)


def make_test_step(model, sample: tuple):
    """Keras's ``test_step`` compiled once for batches of any size shaped like ``sample``.

    ``model.evaluate`` builds a ``tf.data`` pipeline on every call: about 0.1 s, a
    good share of a small run's epoch when the validation split is scored after each.
    """
    import tensorflow as tf

    return tf.function(lambda x, y: model.test_step((x, y)), input_signature=batch_signature(sample), autograph=False)


def evaluate_batches(model, test_step, x: np.ndarray, y: np.ndarray, batch_size: int) -> dict[str, float]:
    """The compiled loss and metrics of ``model`` on ``(x, y)``, as ``model.evaluate`` gives them."""
    model.reset_metrics()
    for start in range(0, len(x), batch_size):
        test_step(x[start:start + batch_size], y[start:start + batch_size])
    return {k: float(v) for k, v in model.get_metrics_result().items()}


def shuffled_batches(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int):
    """``batches(epoch)``: the training split in a new random order every epoch."""
    rng = np.random.default_rng(seed)

    def batches(epoch: int):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            pick = np.sort(order[start:start + batch_size])  # sorted: contiguous reads
            yield x[pick], y[pick]

    return batches


def batch_augmenter(aug, seed: int):
    """``augment(images) -> images``: ``aug``'s random changes, drawn anew for every batch."""
    import tensorflow as tf

    from core.data.augment import build_augmenter

    augmenter = build_augmenter(aug, seed)

    @tf.function(reduce_retracing=True)
    def augment(images):
        return tf.clip_by_value(augmenter(images, training=True), 0.0, 1.0)

    return augment


def fit_loop(model, batches, steps: int | list[int], epochs: int, callbacks: list, sample: tuple, validation=None,
             batch_size: int = 64, switch: tuple | None = None):
    """Train like ``model.fit``, with the same callbacks and history, at less cost per batch.

    ``batches(epoch)`` yields ``(images, labels)``; ``sample`` is one such pair (its shapes build the
    model's metrics and optimizer). ``steps`` is the number of batches an epoch, or a list of one per
    epoch (callbacks see the epoch's own in ``params["steps"]`` and the run's in ``params["total_steps"]``).
    If ``batches`` has a ``record(losses)`` method, it gets each batch's losses per image after the
    batch (``FocusedBatches``). On a 2-core CPU, Keras's own loop spends about a
    fifth of the time of these small CNNs outside the training step; this loop
    calls the step directly, split into ``train_towers(batch_size)`` parts. Together: the MNIST
    recipe trains in 19 s instead of 28 to 32 s (bench/time_to_accuracy.py).

    ``switch``, ``(k, change)``: after ``k`` epochs ``change(model)`` runs (fine-tuning unfreezes layers and
    compiles a new optimizer there); the step is then made again for the new trainable weights.
    """
    import keras

    record = getattr(batches, "record", None)

    def compiled_steps():
        model._symbolic_build(data_batch=sample)  # metrics, loss and optimizer variables, before tracing the step
        return (make_train_step(model, train_towers(batch_size), per_image=record is not None, sample=sample),
                make_test_step(model, sample) if validation is not None else None)

    step, test_step = compiled_steps()
    per_epoch = list(steps) if isinstance(steps, (list, tuple)) else [int(steps)] * epochs
    if len(per_epoch) != epochs:
        raise ValueError(f"Expected one number of steps per epoch ({epochs}). Received: {len(per_epoch)}")
    cbs = keras.callbacks.CallbackList(callbacks, add_history=True, add_progbar=False, model=model, verbose=0,
                                       epochs=epochs, steps=per_epoch[0], total_steps=sum(per_epoch))
    model.stop_training = False
    cbs.on_train_begin()
    epoch_logs: dict = {}
    for epoch in range(epochs):
        if cbs.params["steps"] != per_epoch[epoch]:
            cbs.set_params({**cbs.params, "steps": per_epoch[epoch]})
        model.reset_metrics()
        cbs.on_epoch_begin(epoch)
        for i, (xb, yb) in enumerate(batches(epoch)):
            cbs.on_train_batch_begin(i)
            logs = step(xb, yb)
            if record is not None:
                logs, losses = logs
                record(losses)
            cbs.on_train_batch_end(i, logs)
            if model.stop_training:
                break
        epoch_logs = {k: float(v) for k, v in model.get_metrics_result().items()}
        if validation is not None:
            val = evaluate_batches(model, test_step, validation[0], validation[1], batch_size)
            epoch_logs.update({f"val_{k}": float(v) for k, v in val.items()})
        cbs.on_epoch_end(epoch, epoch_logs)
        if model.stop_training:
            break
        if switch is not None and epoch + 1 == switch[0] and epoch + 1 < epochs:
            switch[1](model)
            step, test_step = compiled_steps()
    model.optimizer.finalize_variable_values(model.trainable_weights)
    cbs.on_train_end(logs=epoch_logs)
    return model.history

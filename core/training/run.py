"""One whole training run: compile, train on the training split, score the test split.

``train_model`` is what the Train page's jobs, the command line and the benchmarks call. It
picks the loop: CNN Lab's own (``core.training.loop``) on one device, Keras's ``fit`` under a
``tf.distribute`` strategy.
"""

from __future__ import annotations

import itertools
import time

import numpy as np

from core.data import Dataset
from core.training.config import TrainConfig, epoch_images, epoch_steps, split_validation, steps_per_epoch


def pick_strategy():
    """``MirroredStrategy`` over all GPUs when more than one is visible, else None (one device)."""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.MirroredStrategy([g.name for g in gpus]) if len(gpus) > 1 else None


def make_optimizer(config: TrainConfig):
    import keras

    cls = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD,
           "rmsprop": keras.optimizers.RMSprop, "adamw": keras.optimizers.AdamW}[config.optimizer]
    decay = {"weight_decay": config.weight_decay} if config.weight_decay else {}
    if config.optimizer == "sgd":
        return cls(learning_rate=config.learning_rate, momentum=0.9, nesterov=True, **decay)
    return cls(learning_rate=config.learning_rate, **decay)


def compile_model(model, config: TrainConfig) -> None:
    from core.training.losses import make_loss

    model.compile(optimizer=make_optimizer(config), loss=make_loss(config), metrics=["accuracy"])


def train_model(model, dataset: Dataset, config: TrainConfig, callbacks: list | None = None,
                compile: bool = True, strategy=None) -> dict:
    """Train ``model`` on the dataset's training split and score the test split.

    Args:
        model: a Keras model whose input fits ``dataset.input_shape``.
        dataset: the data.
        config: hyperparameters.
        callbacks: Keras callbacks (progress, early stopping, a stop button...).
        compile: compile with ``config``'s optimizer first; pass False to continue
            with the model's current optimizer state.
        strategy: a ``tf.distribute`` strategy. The model is then copied into the
            strategy's scope, trained there, and its weights copied back, so the
            caller's model ends up trained either way.

    Returns:
        ``{"history": {metric: [per epoch]}, "test_loss", "test_accuracy", "train_seconds", "epochs_done"}``.
    """
    import keras

    from core.training.callbacks import CosineSchedule
    from core.training.focus import FocusedBatches
    from core.training.loop import batch_augmenter, fit_loop, shuffled_batches

    config.validate()
    if tuple(model.input_shape[1:]) != tuple(dataset.input_shape):
        raise ValueError(f"Expected a model for input shape {dataset.input_shape}. Received: {tuple(model.input_shape[1:])}")
    if model.output_shape[-1] != dataset.num_classes:
        raise ValueError(f"Expected a model with {dataset.num_classes} outputs. Received: {model.output_shape[-1]}")
    keras.utils.set_random_seed(config.seed)
    fit_model = model
    if strategy is not None:
        with strategy.scope():
            fit_model = keras.models.clone_model(model)
            fit_model.set_weights(model.get_weights())
            compile_model(fit_model, config)
    elif compile:
        compile_model(model, config)
    x, y, validation = split_validation(dataset.x_train, dataset.y_train, config.validation_split, config.seed)
    callbacks = list(callbacks or [])
    if config.schedule == "cosine":
        # first, so that a learning rate set by hand in a later callback wins (and ends the schedule)
        callbacks.insert(0, CosineSchedule(config.learning_rate,
                                           config.fine_tune_from if config.fine_tune_blocks else None))
    aug = config.augmenter_settings()
    if config.fine_tune_blocks and strategy is not None:
        raise ValueError("Expected one device for fine-tuning: it trains through CNN Lab's own loop, not Keras's fit. "
                         "Received: a tf.distribute strategy")
    switch = (config.fine_tune_from, _fine_tuning(config, callbacks)) if config.fine_tune_blocks else None
    if config.focus and strategy is not None:
        raise ValueError("Expected one device for hard-image focus: it trains through CNN Lab's own loop, not "
                         "Keras's fit. Received: a tf.distribute strategy")
    start = time.perf_counter()
    try:
        if aug.active and not config.focus:
            from core.data.augment import augmented_dataset

            # Keras's fit starts the pipeline anew each epoch; CNN Lab's loop reads one endless stream
            data = augmented_dataset(x, y, aug, config.batch_size, config.seed, repeat=strategy is None)
        if strategy is not None:  # Keras's own loop runs the replicas
            if aug.active:
                history = fit_model.fit(data, epochs=config.epochs, validation_data=validation,
                                        callbacks=callbacks, verbose=0, shuffle=False)  # shuffled by the pipeline
            else:
                history = fit_model.fit(x, y, batch_size=config.batch_size, epochs=config.epochs,
                                        validation_data=validation, callbacks=callbacks, verbose=0, shuffle=True)
        else:
            if config.focus:
                batches = FocusedBatches(x, y, config, augment=batch_augmenter(aug, config.seed) if aug.active else None)
                steps = epoch_steps(len(x), config)
            else:
                steps = steps_per_epoch(len(dataset.x_train), config.validation_split, config.batch_size)
                if aug.active:
                    stream = iter(data)

                    def batches(epoch: int):
                        return itertools.islice(stream, steps)
                else:
                    batches = shuffled_batches(x, y, config.batch_size, config.seed)
            history = fit_loop(fit_model, batches, steps=steps, epochs=config.epochs,
                               callbacks=callbacks, sample=(x[:1], y[:1]), validation=validation,
                               batch_size=config.batch_size, switch=switch)
    finally:
        if fit_model is not model:
            model.set_weights(fit_model.get_weights())
    seconds = time.perf_counter() - start
    test_loss, test_acc = evaluate_model(model, dataset)
    return {
        "history": {k: [float(v) for v in vals] for k, vals in history.history.items()},
        "test_loss": test_loss, "test_accuracy": test_acc,
        "train_seconds": seconds, "epochs_done": len(history.history.get("loss", [])),
        "epoch_images": epoch_images(len(x), config)[:len(history.history.get("loss", []))],
        "devices": _device_names(strategy),
    }


def _fine_tuning(config: TrainConfig, callbacks: list):
    """What turns a frozen backbone's run into fine-tuning: its last blocks unfrozen (batch norm kept frozen), a new
    optimizer at ``fine_tune_rate`` times the learning rate, and the cosine schedule started again from there."""
    from dataclasses import replace

    def change(model) -> None:
        from core.models.backbones import set_trainable_blocks
        from core.training.callbacks import CosineSchedule

        set_trainable_blocks(model, config.fine_tune_blocks, model.layers[-2].name)
        rate = config.learning_rate * config.fine_tune_rate
        compile_model(model, replace(config, learning_rate=rate))
        for callback in callbacks:
            if isinstance(callback, CosineSchedule):
                callback.restart(rate)

    return change


def _device_names(strategy) -> list[str]:
    if strategy is not None:
        return list(strategy.extended.worker_devices)
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    return [gpus[0].name] if gpus else ["CPU"]


def evaluate_model(model, dataset: Dataset, batch_size: int = 256) -> tuple[float, float]:
    """Loss and accuracy on the test split, computed in batches without ``compile``."""
    total_loss, correct = 0.0, 0
    for i in range(0, len(dataset.x_test), batch_size):
        xb = dataset.x_test[i:i + batch_size]
        yb = dataset.y_test[i:i + batch_size]
        probs = model(xb, training=False).numpy()
        total_loss += float(np.sum(-np.log(np.clip(probs[np.arange(len(yb)), yb], 1e-7, 1.0))))
        correct += int(np.sum(np.argmax(probs, axis=1) == yb))
    n = max(1, len(dataset.x_test))
    return total_loss / n, correct / n

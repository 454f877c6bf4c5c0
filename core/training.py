"""Train a model on a dataset, reporting progress through Keras callbacks."""

from __future__ import annotations

import functools
import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from .datasets import Dataset

OPTIMIZERS = ("adam", "sgd", "rmsprop", "adamw")
SCHEDULES = ("constant", "cosine")
# the choices the Train page offers
LEARNING_RATES = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
BATCH_SIZES = (8, 16, 32, 64, 128, 256)
LABEL_SMOOTHING = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3)
# shares of the training images a focused epoch trains on (0: every image every epoch)
FOCUS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
# A run with fewer weight updates than this rarely gets far from a guess: the Train page says so.
FEW_UPDATES = 100


@dataclass
class TrainConfig:
    """Hyperparameters of one training run."""

    epochs: int = 5  # passes over the training split
    batch_size: int = 64  # images per gradient step
    learning_rate: float = 1e-3  # step size of the optimizer
    optimizer: str = "adam"  # one of OPTIMIZERS
    validation_split: float = 0.1  # share of the training split held out to validate each epoch
    seed: int = 0  # seeds weights, shuffling and the validation split
    schedule: str = "constant"  # "cosine": warm up over the first steps, then decay to 0 by the last batch
    augmentation: dict | None = None  # core.augment.Augmentation settings applied to every training batch
    label_smoothing: float = 0.0  # train towards 1 - s on the true class and s / classes on every class, not 1 and 0
    # Hard-image focus: after ``focus_warmup`` epochs of every image, each epoch trains on the share ``focus``
    # of the images with the highest loss when last trained on, plus ``focus_revisit`` of the others picked at
    # random (their losses are measured again then). 0: every epoch trains on every image. See ``FocusedBatches``.
    focus: float = 0.0
    focus_warmup: int = 2
    focus_revisit: float = 0.1

    def to_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"Expected epochs and batch_size of at least 1. Received: {self.epochs}, {self.batch_size}")
        if not self.learning_rate > 0:
            raise ValueError(f"Expected a positive learning rate. Received: {self.learning_rate}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"Expected an optimizer in {OPTIMIZERS}. Received: {self.optimizer!r}")
        if not 0.0 <= self.validation_split < 1.0:
            raise ValueError(f"Expected validation_split in [0, 1). Received: {self.validation_split}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"Expected label_smoothing in [0, 1). Received: {self.label_smoothing}")
        if not 0.0 <= self.focus < 1.0:
            raise ValueError(f"Expected focus in [0, 1). Received: {self.focus}")
        if self.focus and self.focus_warmup < 1:
            raise ValueError(f"Expected focus_warmup of at least 1 epoch (the losses that pick the hard images are "
                             f"measured then). Received: {self.focus_warmup}")
        if not 0.0 <= self.focus_revisit <= 1.0:
            raise ValueError(f"Expected focus_revisit in [0, 1]. Received: {self.focus_revisit}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"Expected a schedule in {SCHEDULES}. Received: {self.schedule!r}")
        self.augmenter_settings().validate()

    def augmenter_settings(self):
        """The ``Augmentation`` these settings describe (all off when ``augmentation`` is None)."""
        from .augment import Augmentation

        return Augmentation.from_dict(self.augmentation)


def make_optimizer(config: TrainConfig):
    import keras

    cls = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD,
           "rmsprop": keras.optimizers.RMSprop, "adamw": keras.optimizers.AdamW}[config.optimizer]
    if config.optimizer == "sgd":
        return cls(learning_rate=config.learning_rate, momentum=0.9)
    return cls(learning_rate=config.learning_rate)


def make_loss(config: TrainConfig):
    """Cross-entropy on integer labels; with label smoothing when ``config`` asks for it."""
    if config.label_smoothing:
        return _smoothed_loss_class()(config.label_smoothing)
    return "sparse_categorical_crossentropy"


@functools.cache  # one class, registered with Keras once
def _smoothed_loss_class():
    import keras
    import tensorflow as tf

    @keras.saving.register_keras_serializable(package="cnn_lab")
    class SmoothedSparseCrossentropy(keras.losses.Loss):
        """Keras's ``CategoricalCrossentropy(label_smoothing=s)`` for integer labels.

        Keras's sparse cross-entropy has no smoothing; this one-hot encodes the
        labels inside the loss, so datasets keep their integer labels (and the
        accuracy metric stays the sparse one).
        """

        def __init__(self, label_smoothing: float = 0.1, name: str = "smoothed_sparse_crossentropy", **kwargs):
            super().__init__(name=name, **kwargs)
            self.label_smoothing = float(label_smoothing)

        def call(self, y_true, y_pred):
            labels = tf.cast(tf.reshape(y_true, [-1]), tf.int32)
            one_hot = tf.one_hot(labels, tf.shape(y_pred)[-1], dtype=y_pred.dtype)
            return keras.losses.categorical_crossentropy(one_hot, y_pred, label_smoothing=self.label_smoothing)

        def get_config(self):
            return {**super().get_config(), "label_smoothing": self.label_smoothing}

    return SmoothedSparseCrossentropy


def __getattr__(name):  # the loss class is built on first use, so importing this module needs no TensorFlow
    if name == "SmoothedSparseCrossentropy":
        return _smoothed_loss_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def compile_model(model, config: TrainConfig) -> None:
    model.compile(optimizer=make_optimizer(config), loss=make_loss(config), metrics=["accuracy"])


def validation_size(n: int, fraction: float) -> int:
    """How many of ``n`` training images ``split_validation`` holds out: at least one on each side."""
    if fraction <= 0 or n < 2:
        return 0
    return min(max(1, int(round(n * fraction))), n - 1)


def epoch_images(n: int, config: TrainConfig) -> list[int]:
    """Images each epoch trains on, of ``n`` training images (fewer after the warm-up with hard-image focus)."""
    if not config.focus:
        return [n] * config.epochs
    hard = max(1, round(config.focus * n))
    focused = hard + round(config.focus_revisit * (n - hard))
    return [n if epoch < config.focus_warmup else focused for epoch in range(config.epochs)]


def epoch_steps(n: int, config: TrainConfig) -> list[int]:
    """Batches (weight updates) each epoch runs, of ``n`` training images (see ``epoch_images``)."""
    return [-(-k // config.batch_size) for k in epoch_images(n, config)]


def steps_per_epoch(n: int, validation_split: float, batch_size: int) -> int:
    """Batches (weight updates) in one epoch of ``n`` training images once the validation share is held out."""
    return -(-(n - validation_size(n, validation_split)) // batch_size)


def split_validation(x: np.ndarray, y: np.ndarray, fraction: float, seed: int):
    """Shuffle once with ``seed`` and hold out the last ``fraction`` for validation.

    Keras's own ``validation_split`` takes the *last* images without shuffling,
    which on a sorted dataset validates on classes never trained on.
    """
    n_val = validation_size(len(x), fraction)
    if n_val == 0:
        return x, y, None
    order = np.random.default_rng(seed).permutation(len(x))
    val, train = order[:n_val], order[n_val:]
    return x[train], y[train], (x[val], y[val])


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
        callbacks.insert(0, CosineSchedule(config.learning_rate))
    aug = config.augmenter_settings()
    if config.focus and strategy is not None:
        raise ValueError("Expected one device for hard-image focus: it trains through CNN Lab's own loop, not "
                         "Keras's fit. Received: a tf.distribute strategy")
    start = time.perf_counter()
    try:
        if aug.active and not config.focus:
            from .augment import augmented_dataset

            data = augmented_dataset(x, y, aug, config.batch_size, config.seed)
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
                batches = (lambda epoch: data) if aug.active else shuffled_batches(x, y, config.batch_size, config.seed)
                steps = steps_per_epoch(len(dataset.x_train), config.validation_split, config.batch_size)
            history = fit_loop(fit_model, batches, steps=steps, epochs=config.epochs,
                               callbacks=callbacks, sample=(x[:1], y[:1]), validation=validation,
                               batch_size=config.batch_size)
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
    from . import cpu_count

    if cpu_count() < 2:
        return 1
    return 4 if batch_size is not None and batch_size >= 256 else 2


def make_train_step(model, towers: int = 1, per_image: bool = False):
    """A compiled training step ``step(x, y) -> logs``, the same as Keras's ``train_step``.

    With ``towers`` > 1 the batch is cut into that many parts whose forward and
    backward passes are independent until the loss, so TensorFlow runs them in
    parallel; the loss, gradients and metrics are those of the whole batch.
    With ``per_image`` it returns ``(logs, losses)``, where ``losses`` holds each
    image's cross-entropy (without label smoothing) from the forward pass before
    the update, for ``FocusedBatches``.
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

    whole = tf.function(lambda x, y: step(x, y, 1), reduce_retracing=True)
    if towers <= 1:
        return whole
    split = tf.function(lambda x, y: step(x, y, towers), reduce_retracing=True)
    # a batch smaller than the number of towers (the last one of an epoch can be) goes whole
    return lambda x, y: (split if len(x) >= towers else whole)(x, y)


def shuffled_batches(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int):
    """``batches(epoch)``: the training split in a new random order every epoch."""
    rng = np.random.default_rng(seed)

    def batches(epoch: int):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            pick = np.sort(order[start:start + batch_size])  # sorted: contiguous reads
            yield x[pick], y[pick]

    return batches


class FocusedBatches:
    """``batches(epoch)`` for ``fit_loop`` that spends later epochs on the images the network still gets wrong.

    The first ``config.focus_warmup`` epochs hold every image in a new random order, as
    ``shuffled_batches``. Each later epoch holds the share ``config.focus`` of the images
    whose loss was highest when last trained on, plus ``config.focus_revisit`` of the others
    picked at random, so that an image learnt early is measured again now and then and comes
    back if it is forgotten. ``fit_loop`` passes each batch's losses to ``record`` (the
    cross-entropy of every image before that batch's update).

    Images the network already classifies with confidence add almost nothing to the
    gradient; leaving most of them out of an epoch saves their forward and backward passes.
    On Fashion-MNIST, epochs of the hardest half and a tenth of the rest (0.63x the
    batches of 12 whole epochs) scored 93.42 and 93.02 % on two hold-outs, against 93.67
    and 92.90 % for whole epochs (a fifth of the rest: 93.60 and 92.85 % at 0.67x).
    This is close to "selective backprop" (Jiang et al., 2019), with losses from the
    image's last batch instead of an extra forward pass.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, config: TrainConfig, augment: Callable | None = None):
        self.x, self.y, self.config, self.augment = x, y, config, augment
        self.rng = np.random.default_rng(config.seed)
        self.losses = np.full(len(x), np.inf, np.float32)  # never trained on: hardest
        self._pending: list[tuple[np.ndarray, object]] = []
        self._pick: np.ndarray | None = None

    def order(self, epoch: int) -> np.ndarray:
        """The images (indices) of ``epoch`` in the order they are trained on."""
        self._flush()
        n = len(self.x)
        size = epoch_images(n, self.config)[min(epoch, self.config.epochs - 1)]
        if size >= n:
            return self.rng.permutation(n)
        hard = max(1, round(self.config.focus * n))
        ranked = np.argsort(-self.losses, kind="stable")
        extra = self.rng.choice(ranked[hard:], size - hard, replace=False)
        return self.rng.permutation(np.concatenate([ranked[:hard], extra]))

    def __call__(self, epoch: int):
        order = self.order(epoch)
        for start in range(0, len(order), self.config.batch_size):
            pick = np.sort(order[start:start + self.config.batch_size])  # sorted: contiguous reads
            self._pick = pick
            xb = self.x[pick]
            yield (self.augment(xb) if self.augment else xb), self.y[pick]

    def record(self, losses) -> None:
        """The losses of the batch just yielded; kept as given (a tensor need not be read yet)."""
        self._pending.append((self._pick, losses))

    def _flush(self) -> None:
        for pick, losses in self._pending:
            self.losses[pick] = np.asarray(losses, np.float32)
        self._pending.clear()


def batch_augmenter(aug, seed: int):
    """``augment(images) -> images``: ``aug``'s random changes, drawn anew for every batch."""
    import tensorflow as tf

    from .augment import build_augmenter

    augmenter = build_augmenter(aug, seed)

    @tf.function(reduce_retracing=True)
    def augment(images):
        return tf.clip_by_value(augmenter(images, training=True), 0.0, 1.0)

    return augment


def fit_loop(model, batches, steps: int | list[int], epochs: int, callbacks: list, sample: tuple, validation=None,
             batch_size: int = 64):
    """Train like ``model.fit``, with the same callbacks and history, at less cost per batch.

    ``batches(epoch)`` yields ``(images, labels)``; ``sample`` is one such pair (its shapes build the
    model's metrics and optimizer). ``steps`` is the number of batches an epoch, or a list of one per
    epoch (callbacks see the epoch's own in ``params["steps"]`` and the run's in ``params["total_steps"]``).
    If ``batches`` has a ``record(losses)`` method, it gets each batch's losses per image after the
    batch (``FocusedBatches``). On a 2-core CPU, Keras's own loop spends about a
    fifth of the time of these small CNNs outside the training step; this loop
    calls the step directly, split into ``train_towers(batch_size)`` parts. Together: the MNIST
    recipe trains in 19 s instead of 28 to 32 s (bench/time_to_accuracy.py).
    """
    import keras

    model._symbolic_build(data_batch=sample)  # metrics, loss and optimizer variables, before tracing the step
    record = getattr(batches, "record", None)
    step = make_train_step(model, train_towers(batch_size), per_image=record is not None)
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
            val = model.evaluate(validation[0], validation[1], batch_size=batch_size, verbose=0, return_dict=True)
            epoch_logs.update({f"val_{k}": float(v) for k, v in val.items()})
        cbs.on_epoch_end(epoch, epoch_logs)
        if model.stop_training:
            break
    model.optimizer.finalize_variable_values(model.trainable_weights)
    cbs.on_train_end(logs=epoch_logs)
    return model.history


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


def cosine_learning_rate(step: int, total: int, base: float, warmup: int) -> float:
    """Learning rate of batch ``step`` (0-based) of ``total``: linear warm-up from base/10, then cosine to 0."""
    if warmup > 0 and step < warmup:
        return base * (0.1 + 0.9 * step / warmup)
    span = max(1, total - warmup)
    progress = min(1.0, (step - warmup) / span)
    return base * 0.5 * (1.0 + float(np.cos(np.pi * progress)))


class CosineSchedule:
    """Keras callback setting the learning rate before every batch (see ``cosine_learning_rate``).

    Warm-up lasts 3% of the batches (at most one epoch). If something else
    changes the learning rate meanwhile (the Train page's control), the schedule
    steps aside and leaves the rate as set.
    """

    def __new__(cls, base: float):
        import keras

        class _Cosine(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.step, self.total, self.warmup = 0, 1, 0
                self.last: float | None = None
                self.active = True
                self.rates: list[float] = []

            def on_train_begin(self, logs=None):
                steps = self.params.get("steps") or 1
                self.total = self.params.get("total_steps") or steps * (self.params.get("epochs") or 1)
                self.warmup = min(steps, int(0.03 * self.total))

            def on_train_batch_begin(self, batch, logs=None):
                if not self.active:
                    return
                lr_var = self.model.optimizer.learning_rate
                if self.last is not None and float(lr_var.numpy()) != self.last:
                    self.active = False  # set by hand: keep it
                    return
                lr_var.assign(cosine_learning_rate(self.step, self.total, base, self.warmup))
                self.last = float(lr_var.numpy())  # as stored (float32), to compare with next time
                self.rates.append(self.last)
                self.step += 1

        return _Cosine()


class ProgressCallback:
    """Builds a Keras callback that forwards batch and epoch logs to plain functions.

    ``on_batch(epoch, batch, steps, logs)`` and ``on_epoch(epoch, logs)`` receive
    floats only, so a UI can draw them without touching TensorFlow.
    ``on_batch`` may run on a Keras helper thread, slightly after the batch and,
    rarely, out of order. The
    ``on_batch_begin(model)``, ``on_train_begin(model)`` and
    ``on_epoch_end_model(model, epoch)`` hooks get the model being trained (a
    job uses them to pause, change the learning rate and record filters).
    """

    def __new__(cls, on_batch: Callable | None = None, on_epoch: Callable | None = None,
                should_stop: Callable[[], bool] | None = None, on_batch_begin: Callable | None = None,
                on_train_begin: Callable | None = None, on_epoch_end_model: Callable | None = None):
        import keras

        class _Progress(keras.callbacks.Callback):
            # Keras then runs on_train_batch_end in a helper thread: reading the
            # batch's loss no longer makes the training loop wait for the device
            # after every batch. The handlers given here must be thread-safe.
            async_safe = True

            def __init__(self):
                super().__init__()
                self.epoch = 0

            def on_train_begin(self, logs=None):
                if on_train_begin:
                    on_train_begin(self.model)

            def on_epoch_begin(self, epoch, logs=None):
                self.epoch = epoch

            def on_train_batch_begin(self, batch, logs=None):
                if on_batch_begin:
                    on_batch_begin(self.model)
                if should_stop and should_stop():
                    self.model.stop_training = True

            def on_train_batch_end(self, batch, logs=None):
                if on_batch:
                    on_batch(self.epoch, batch, self.params.get("steps"), {k: float(v) for k, v in (logs or {}).items()})
                if should_stop and should_stop():
                    self.model.stop_training = True

            def on_epoch_end(self, epoch, logs=None):
                if on_epoch:
                    on_epoch(epoch, {k: float(v) for k, v in (logs or {}).items()})
                if on_epoch_end_model:
                    on_epoch_end_model(self.model, epoch)

        return _Progress()

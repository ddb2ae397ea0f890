"""Training any model: the loop (epochs of shuffled batches, validation, callbacks, History) and
``Trainer``, the Keras-style public API (compile / fit / evaluate / predict) that models inherit.

The loop calls a model's public steps on one batch at a time: ``train_step(x_batch, y_batch)``
(update the weights, return the batch's (loss, accuracy) from before the update) and
``test_step(x_batch, y_batch)`` (the same numbers without updating); batches come from a source,
any object with ``len(source)`` and ``source.take(rows)`` (npembed.stages.Rows for a plain array,
npembed.kernels.bags.Bags for packed ids).

The NaN policy: a step that finds a non-finite loss or gradient raises FloatingPointError BEFORE it
changes any weight; the loop then ends training with that error, unless a callback (TerminateOnNaN)
sets ``model.stop_training`` when told of the NaN batch, in which case training stops quietly.
"""
import contextlib
import time

import numpy as np

from . import _checks, _threads, losses, optimizers
from .interrupts import HeldInterrupts


class History:
    """What fit returns: ``history`` maps "loss", "accuracy", "val_loss", ... to one value per epoch."""

    def __init__(self, params):
        self.params = params
        self.epoch = []
        self.history = {}
        self.epoch_seconds = []

    def append(self, epoch, logs, seconds):
        """Record one epoch's logs and its wall time in seconds."""
        self.epoch.append(epoch)
        self.epoch_seconds.append(seconds)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)


def split_validation(x, y, fraction):
    """Keras's validation_split: the LAST fraction of the samples, taken before any shuffling.

    Returns (x_train, y_train, x_val, y_val); both parts must keep at least one sample.
    """
    split_at = int(len(x) * (1 - fraction))
    if split_at < 1 or split_at >= len(x):
        raise ValueError(f"validation_split={fraction} leaves {split_at} training and "
                         f"{len(x) - split_at} validation samples out of {len(x)}; both need at least one")
    return x[:split_at], y[:split_at], x[split_at:], y[split_at:]


def call(callbacks, hook, *args):
    """Call ``hook`` on every callback that has it (callbacks need not subclass Callback)."""
    for callback in callbacks:
        method = getattr(callback, hook, None)
        if method is not None:
            method(*args)


def fit_loop(model, train_step, test_step, source, y, validation=None, epochs=1, batch_size=32,
        shuffle=True, verbose=1, callbacks=(), accuracy_name="accuracy"):
    """Train for ``epochs`` passes over (source, y); returns a History.

    model: what callbacks see as ``callback.model``; its ``rng`` draws each epoch's order and its
    ``stop_training`` ends training after the current batch. validation: (source, y) evaluated at
    every epoch's end, or None. Epoch metrics are batch-size-weighted means, as in Keras.
    accuracy_name: the key of the accuracy in the logs ("accuracy", or Keras's alias "acc"; then
    "val_acc"), or None to log the loss only.
    """
    callbacks = list(callbacks)
    history = History({"epochs": epochs, "batch_size": batch_size, "samples": len(y)})
    model.stop_training = False
    for callback in callbacks:
        if hasattr(callback, "set_model"):
            callback.set_model(model)
    call(callbacks, "on_train_begin", {})
    for epoch in range(epochs):
        call(callbacks, "on_epoch_begin", epoch, {})
        started = time.perf_counter()
        order = model.rng.permutation(len(y)) if shuffle else np.arange(len(y))
        loss_sum, accuracy_sum, seen = _train_epoch(model, train_step, source, y, order, batch_size,
                                                    callbacks)
        if seen == 0:
            break
        logs = {"loss": loss_sum / seen}
        if accuracy_name:
            logs[accuracy_name] = accuracy_sum / seen
        if validation is not None:
            val_loss, val_accuracy = evaluate_loop(test_step, *validation, batch_size)
            logs["val_loss"] = val_loss
            if accuracy_name:
                logs[f"val_{accuracy_name}"] = val_accuracy
        seconds = time.perf_counter() - started
        history.append(epoch, logs, seconds)
        if verbose:
            shown = " - ".join(f"{key}: {value:.4f}" for key, value in logs.items())
            print(f"Epoch {epoch + 1}/{epochs} - {seconds:.3f}s - {shown}", flush=True)
        call(callbacks, "on_epoch_end", epoch, logs)
        if model.stop_training:
            break
    call(callbacks, "on_train_end", {})
    return history


def _train_epoch(model, train_step, source, y, order, batch_size, callbacks):
    """One pass in the given order: (loss sum, accuracy sum, samples seen), sums weighted by batch size."""
    loss_sum = accuracy_sum = 0.0
    seen = 0
    for batch, start in enumerate(range(0, len(y), batch_size)):
        rows = order[start:start + batch_size]
        try:
            loss, accuracy = train_step(source.take(rows), y[rows])
        except FloatingPointError:
            # the step changed no weight; a TerminateOnNaN callback turns this into a quiet stop
            call(callbacks, "on_batch_end", batch,
                 {"loss": float("nan"), "accuracy": float("nan"), "size": len(rows)})
            if not model.stop_training:
                raise
            break
        loss_sum += loss * len(rows)
        accuracy_sum += accuracy * len(rows)
        seen += len(rows)
        if callbacks:
            call(callbacks, "on_batch_end", batch, {"loss": loss, "accuracy": accuracy, "size": len(rows)})
            if model.stop_training:
                break
    return loss_sum, accuracy_sum, seen


def batches(source, batch_size):
    """Consecutive (rows, batch) pairs of a source, in order; the last batch may be smaller."""
    for start in range(0, len(source), batch_size):
        rows = np.arange(start, min(start + batch_size, len(source)))
        yield rows, source.take(rows)


def evaluate_loop(test_step, source, y, batch_size):
    """[loss, accuracy] over the whole source: batch-size-weighted means of test_step's values."""
    loss_sum = accuracy_sum = 0.0
    for rows, x_batch in batches(source, batch_size):
        loss, accuracy = test_step(x_batch, y[rows])
        loss_sum += loss * len(rows)
        accuracy_sum += accuracy * len(rows)
    return [loss_sum / len(y), accuracy_sum / len(y)]


class Trainer:
    """What every npembed model offers on top of its steps: compile, fit, evaluate, predict,
    train_on_batch and loss_and_gradients, with their arguments checked here.

    A model inherits it and provides, all public: ``params`` and ``grads`` (same keys), ``rng``
    (a Generator), ``trainable_params()`` (what the optimizer updates), ``check_data(x, y=None)``
    (a whole dataset checked: x, or (x, y)), ``batch_source(x)`` (where its batches come from, see
    the module docstring), and the steps on one batch of that source: ``train_step(x, y)``,
    ``test_step(x, y)``, ``predict_step(x, logits)`` and ``compute_gradients(x, y)``.
    """

    def __init__(self):
        self.optimizer = self.loss = None
        self.metrics = []
        self.stop_training = False
        self._held_interrupts = HeldInterrupts()

    def compile(self, optimizer="adam", loss="binary_crossentropy", metrics=None):
        """Choose the optimizer (a name or an instance), the loss and the metrics ("accuracy")."""
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.check_loss(loss)
        self.metrics = losses.check_metrics(metrics)

    def interrupts_held(self):
        """A ``with`` block in which Ctrl-C waits until the block ends (one weight update)."""
        return self._held_interrupts

    @contextlib.contextmanager
    def _training(self):
        """Around training: Ctrl-C never splits an update, and BLAS leaves the cores to the kernels."""
        with self._held_interrupts.installed(), _threads.blas_single_threaded():
            yield

    def _require_compiled(self):
        if self.optimizer is None:
            raise _checks.StateError("the model must be compiled before training or evaluating: "
                                     "call model.compile(optimizer='adam', loss='binary_crossentropy')")

    def _whole_batch(self, x, y):
        """(batch, y) of a whole checked dataset, as one batch of its source."""
        x, y = self.check_data(x, y)
        return self.batch_source(x).take(np.arange(len(x))), y

    def loss_and_gradients(self, x, y):
        """Loss of the batch (x, y) and the gradient of every weight; no weight changes.

        x (batch, ...) as fit takes it, y (batch,) of 0/1. Returns (loss, {name: gradient}) with
        the keys, shapes and dtypes of ``params`` (copies). What gradcheck.check_model differences.
        """
        loss, _ = self.compute_gradients(*self._whole_batch(x, y))
        return loss, {key: grad.copy() for key, grad in self.grads.items()}

    def train_on_batch(self, x, y):
        """One update on (x, y); returns [loss, accuracy] of the batch before the update."""
        batch, y = self._whole_batch(x, y)
        with self._training():
            return list(self.train_step(batch, y))

    def fit(self, x, y, epochs=1, batch_size=32, validation_split=0.0, validation_data=None,
            shuffle=True, verbose=1, callbacks=None):
        """Train for ``epochs``; returns a History. Keras's semantics for validation_split."""
        self._require_compiled()
        epochs = _checks.positive_int("epochs", epochs, minimum=0)
        batch_size = _checks.positive_int("batch_size", batch_size)
        validation_split = _checks.finite_float("validation_split", validation_split,
                                                low=0, high=1, high_open=True)
        x, y = self.check_data(x, y)
        validation = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("validation_data must be a tuple (x_val, y_val)")
            validation = self.check_data(*validation_data)
        elif validation_split > 0:
            x, y, *validation = split_validation(x, y, validation_split)
        source = self.batch_source(x)
        if validation is not None:
            validation = (self.batch_source(validation[0]), validation[1])
        with self._training():
            self.history = fit_loop(self, self.train_step, self.test_step, source, y, validation, epochs,
                                    batch_size, shuffle, verbose, callbacks or (),
                                    accuracy_name=losses.accuracy_name(self.metrics))
        return self.history

    def evaluate(self, x, y, batch_size=32):
        """[loss, accuracy] over (x, y), batch-size-weighted means (just [loss] without metrics)."""
        self._require_compiled()
        batch_size = _checks.positive_int("batch_size", batch_size)
        x, y = self.check_data(x, y)
        with _threads.blas_single_threaded():
            result = evaluate_loop(self.test_step, self.batch_source(x), y, batch_size)
        return result if losses.accuracy_name(self.metrics) else result[:1]

    def predict(self, x, batch_size=32):
        """Model outputs for x, shape (n, units of the last layer)."""
        return self._predict(x, batch_size, logits=False)

    def predict_logits(self, x, batch_size=32):
        """The last layer's values before its sigmoid, (n, 1): log-odds."""
        return self._predict(x, batch_size, logits=True)

    def _predict(self, x, batch_size, logits):
        batch_size = _checks.positive_int("batch_size", batch_size)
        source = self.batch_source(self.check_data(x))
        with _threads.blas_single_threaded():
            return np.concatenate([self.predict_step(x_batch, logits).copy()
                                   for _, x_batch in batches(source, batch_size)])

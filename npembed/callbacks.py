"""Keras-style callbacks for Sequential.fit, and instruments that watch embeddings learn.

fit calls, in order: on_train_begin(logs), then per epoch on_epoch_begin(epoch, logs),
on_batch_end(batch, logs) after every update (logs: loss, accuracy, size), on_epoch_end(epoch, logs)
(logs: the epoch's loss, accuracy, val_loss, val_accuracy), and finally on_train_end(logs).
``callback.model`` is the model being trained; setting ``model.stop_training = True`` ends fit
after the current batch's epoch.
"""
import numpy as np

from . import _checks
from .layers import Embedding, first_of_type
from .atomic import atomic_write


class Callback:
    """Base class: every hook does nothing."""

    model = None

    def set_model(self, model):
        """The model being trained (fit calls this first)."""
        self.model = model

    def on_train_begin(self, logs=None):
        """Called once before the first epoch."""
        pass

    def on_train_end(self, logs=None):
        """Called once after the last epoch."""
        pass

    def on_epoch_begin(self, epoch, logs=None):
        """Called before each epoch (0-based)."""
        pass

    def on_epoch_end(self, epoch, logs=None):
        """Called after each epoch with its loss, accuracy and validation logs."""
        pass

    def on_batch_end(self, batch, logs=None):
        """Called after each update with the batch's loss, accuracy and size."""
        pass


class TerminateOnNaN(Callback):
    """Stop training when a batch's loss is not finite (the model keeps its last finite weights).

    Without this callback fit raises FloatingPointError instead.
    """

    def on_batch_end(self, batch, logs=None):
        """Stop training when this batch's loss is NaN or infinite."""
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            print(f"Batch {batch}: invalid loss {loss}, terminating training")
            self.model.stop_training = True


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by more than min_delta for `patience` epochs.

    mode: "min", "max" or "auto" (max for names containing "acc", min otherwise).
    restore_best_weights: when stopping, put back the weights of the best epoch.
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, mode="auto",
                 restore_best_weights=False):
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be the name of a logged value such as 'val_loss', got {monitor!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.monitor = monitor
        self.min_delta = abs(_checks.finite_float("min_delta", min_delta))
        self.patience = _checks.positive_int("patience", patience, minimum=0)
        self.maximize = mode == "max" or (mode == "auto" and "acc" in monitor)
        self.restore_best_weights = bool(restore_best_weights)

    def on_train_begin(self, logs=None):
        """Reset the counters and the best value."""
        self.wait, self.stopped_epoch, self.best_epoch = 0, None, None
        self.best = -np.inf if self.maximize else np.inf
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        """Compare the monitored value with the best; stop after `patience` epochs without improvement."""
        if self.monitor not in (logs or {}):
            raise KeyError(f"EarlyStopping monitors {self.monitor!r}, but the epoch logs only have "
                           f"{sorted(logs or {})} (validation metrics need validation data)")
        value = logs[self.monitor]
        improved = value > self.best + self.min_delta if self.maximize else value < self.best - self.min_delta
        if improved:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                self.model.set_weights(self.best_weights)


class EmbeddingSnapshots(Callback):
    """Copies of the embedding matrix (or chosen rows) as training goes.

    every: "epoch" (after each epoch) or a number of steps. The state before training is kept
    too, as epoch 0 / step 0. rows: ids to keep (default: all). path: also write every snapshot to
    one .npz at the end of training (arrays "snapshots" (n, rows, dim), "epochs", "steps", "rows").
    After fit: ``snapshots`` (list of arrays), ``epochs`` and ``steps`` (when each was taken).
    """

    def __init__(self, every="epoch", rows=None, path=None):
        if every != "epoch":
            every = _checks.positive_int("every", every)
        self.every = every
        self.rows = None if rows is None else np.asarray(rows)
        self.path = path

    def _take(self, epoch):
        table = first_of_type(self.model.layers, Embedding).params["embeddings"]
        self.snapshots.append(table.copy() if self.rows is None else table[self.rows].copy())
        self.epochs.append(epoch)
        self.steps.append(self.step)

    def on_train_begin(self, logs=None):
        """Check the rows and take snapshot 0: the weights before training."""
        self.snapshots, self.epochs, self.steps, self.step, self.epoch = [], [], [], 0, 0
        if self.rows is not None:
            table = first_of_type(self.model.layers, Embedding).params["embeddings"]
            self.rows = np.asarray(self.rows)
            if self.rows.dtype.kind not in "iu" or self.rows.size and (
                    self.rows.min() < 0 or self.rows.max() >= len(table)):
                raise ValueError(f"rows must be ids in [0, {len(table)}), got {self.rows!r}")
        self._take(0)

    def on_epoch_begin(self, epoch, logs=None):
        """Remember the epoch, for snapshots taken every N steps."""
        self.epoch = epoch

    def on_batch_end(self, batch, logs=None):
        """Take a snapshot every `every` steps (when every is a number)."""
        self.step += 1
        if self.every != "epoch" and self.step % self.every == 0:
            self._take(self.epoch + 1)

    def on_epoch_end(self, epoch, logs=None):
        """Take a snapshot after each epoch (when every is "epoch")."""
        if self.every == "epoch":
            self._take(epoch + 1)

    def on_train_end(self, logs=None):
        """Write every snapshot to `path` (when given), atomically."""
        if self.path is not None:
            rows = np.arange(len(self.snapshots[0])) if self.rows is None else self.rows
            with atomic_write(self.path) as handle:
                np.savez(handle, snapshots=np.stack(self.snapshots), epochs=np.array(self.epochs),
                         steps=np.array(self.steps), rows=rows)


class GradientStats(Callback):
    """Per training step: distinct embedding rows the batch touched, and gradient / update norms.

    ``records``: one dict per step {"step", "rows_touched", "grad_norm", "update_norm"}.
    ``row_updates``: for every embedding row, the summed norm of its updates, and ``row_steps``:
    in how many steps its gradient was not zero, to compare rare and frequent words. Costs one
    copy of the embedding matrix per step.
    """

    def on_train_begin(self, logs=None):
        """Find the Embedding layer and copy its table, to measure each step's update."""
        self.embedding = first_of_type(self.model.layers, Embedding)
        table = self.embedding.params["embeddings"]
        self.records, self.step = [], 0
        self.row_updates = np.zeros(len(table))
        self.row_steps = np.zeros(len(table), dtype=np.int64)
        self._before = table.copy()

    def on_batch_end(self, batch, logs=None):
        """Record the rows touched and the gradient and update norms of this step."""
        grad, table = self.embedding.grads["embeddings"], self.embedding.params["embeddings"]
        touched = np.any(grad != 0, axis=1)
        update = np.linalg.norm(table - self._before, axis=1)
        self.row_updates += update
        self.row_steps += touched
        self.step += 1
        self.records.append({"step": self.step, "rows_touched": int(touched.sum()),
                             "grad_norm": float(np.linalg.norm(grad)),
                             "update_norm": float(np.linalg.norm(update))})
        self._before[...] = table

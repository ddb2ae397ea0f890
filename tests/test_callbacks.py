"""Callbacks: hook order and logs, snapshots, gradient statistics, early stopping, NaN handling."""
import numpy as np
import pytest

from npembed.callbacks import Callback, EarlyStopping, EmbeddingSnapshots, GradientStats, TerminateOnNaN
from npembed.optimizers import Adam
from test_model import reviews, tutorial_model


class Recorder(Callback):
    def __init__(self):
        self.calls = []

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin", None, dict(logs)))

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch, dict(logs)))

    def on_batch_end(self, batch, logs=None):
        self.calls.append(("batch_end", batch, dict(logs)))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, dict(logs)))

    def on_train_end(self, logs=None):
        self.calls.append(("train_end", None, dict(logs)))


def test_hooks_fire_in_order_with_logs(rng):
    x, y = reviews(rng, n=20)
    recorder = Recorder()
    model = tutorial_model()
    history = model.fit(x, y, epochs=2, batch_size=8, validation_split=0.2, verbose=0, callbacks=[recorder])
    names = [(name, index) for name, index, _ in recorder.calls]
    per_epoch = [("batch_end", 0), ("batch_end", 1)]                  # 16 training samples
    assert names == ([("train_begin", None), ("epoch_begin", 0)] + per_epoch + [("epoch_end", 0),
                     ("epoch_begin", 1)] + per_epoch + [("epoch_end", 1), ("train_end", None)])
    assert recorder.model is model
    assert set(recorder.calls[2][2]) == {"loss", "accuracy", "size"}
    epoch_logs = recorder.calls[4][2]
    assert epoch_logs == {key: values[0] for key, values in history.history.items()}


def test_snapshots_equal_the_weights_at_those_moments(rng):
    x, y = reviews(rng, n=40)
    seen = []

    class WeightsAtEpochEnd(Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(self.model.get_weights()[0])
    model = tutorial_model()
    model.build()
    initial = model.get_weights()[0]
    snapshots = EmbeddingSnapshots()
    model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[WeightsAtEpochEnd(), snapshots])
    assert snapshots.epochs == [0, 1, 2, 3]
    np.testing.assert_array_equal(snapshots.snapshots[0], initial)
    for snapshot, weights in zip(snapshots.snapshots[1:], seen):
        np.testing.assert_array_equal(snapshot, weights)
    assert not np.array_equal(snapshots.snapshots[1], snapshots.snapshots[2])


def test_snapshots_every_n_steps_of_chosen_rows_written_to_npz(rng, tmp_path):
    x, y = reviews(rng, n=40)
    snapshots = EmbeddingSnapshots(every=2, rows=[3, 4, 9], path=tmp_path / "snaps.npz")
    model = tutorial_model()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[snapshots])   # 3 steps an epoch
    assert snapshots.steps == [0, 2, 4, 6]
    assert snapshots.snapshots[0].shape == (3, 4)
    np.testing.assert_array_equal(snapshots.snapshots[-1], model.get_weights()[0][[3, 4, 9]])
    with np.load(tmp_path / "snaps.npz", allow_pickle=False) as saved:
        assert saved["snapshots"].shape == (4, 3, 4)
        np.testing.assert_array_equal(saved["rows"], [3, 4, 9])
    with pytest.raises(ValueError, match="rows must be ids"):
        tutorial_model().fit(x, y, verbose=0, callbacks=[EmbeddingSnapshots(rows=[50])])
    with pytest.raises(ValueError, match="every"):
        EmbeddingSnapshots(every=0)


def test_gradient_stats_count_the_rows_a_batch_touched(rng):
    x, y = reviews(rng, n=16)
    model = tutorial_model(mask_zero=True)
    stats = GradientStats()
    model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0, callbacks=[stats])
    (record,) = stats.records
    assert record["rows_touched"] == len(set(x.ravel().tolist()) - {0})     # padding masked out
    assert record["grad_norm"] > 0 and record["update_norm"] > 0
    assert stats.row_steps[0] == 0 and stats.row_steps[3] == 1
    unused = sorted(set(range(50)) - set(x.ravel().tolist()))
    assert stats.row_updates[unused].max() == 0                  # first step: m was 0 for them


def test_early_stopping_restores_the_best_weights(rng):
    x, y = reviews(rng, n=60)
    recorded = []

    class Keep(Callback):
        def on_epoch_end(self, epoch, logs=None):
            recorded.append((logs["val_loss"], self.model.get_weights()))
    model = tutorial_model()
    model.compile(optimizer=Adam(learning_rate=0.3))          # large steps: val_loss soon worsens
    stopper = EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    history = model.fit(x, y, epochs=40, batch_size=8, validation_split=0.3, verbose=0,
                        callbacks=[Keep(), stopper])
    epochs_run = len(history.history["loss"])
    assert stopper.stopped_epoch == epochs_run - 1 < 39
    best = int(np.argmin([loss for loss, _ in recorded]))
    assert stopper.best_epoch == best
    for a, b in zip(model.get_weights(), recorded[best][1]):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_needs_its_metric_and_a_valid_mode(rng):
    x, y = reviews(rng, n=20)
    with pytest.raises(KeyError, match="val_loss"):
        tutorial_model().fit(x, y, epochs=1, verbose=0, callbacks=[EarlyStopping()])
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")
    assert EarlyStopping(monitor="val_accuracy").maximize


def test_terminate_on_nan_stops_with_finite_weights(rng, capsys):
    x, y = reviews(rng, n=40)
    model = tutorial_model()
    model.compile(optimizer=Adam(learning_rate=1e30))
    with np.errstate(all="ignore"):
        model.fit(x, y, epochs=50, batch_size=4, verbose=0, callbacks=[TerminateOnNaN()])
    assert "invalid loss" in capsys.readouterr().out
    assert model.stop_training
    assert all(np.isfinite(w).all() for w in model.get_weights())

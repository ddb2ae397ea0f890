"""Sequential: Keras semantics of compile / fit / evaluate / predict / summary / weights / files."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import npembed
from npembed import Sequential, load_model
from npembed.layers import Dense, Embedding, GlobalAveragePooling1D
from npembed.optimizers import Adam


def tutorial_model(vocab=50, dim=4, seed=0, mask_zero=False, dtype="float32", hidden=8):
    model = Sequential([Embedding(vocab, dim, mask_zero=mask_zero), GlobalAveragePooling1D(),
                        Dense(hidden, activation="relu"), Dense(1, activation="sigmoid")], seed=seed,
                       dtype=dtype)
    model.compile(optimizer=Adam(learning_rate=0.02), loss="binary_crossentropy", metrics=["accuracy"])
    return model


def reviews(rng, n=120, vocab=50, steps=12):
    """Padded 'reviews' whose label is carried by ids 3 (positive) and 4 (negative)."""
    y = rng.integers(0, 2, n)
    lengths = rng.integers(1, steps + 1, n)
    x = np.zeros((n, steps), dtype=np.int64)
    for i, length in enumerate(lengths):
        x[i, :length] = rng.integers(5, vocab, length)
        x[i, 0] = 3 if y[i] else 4
    return x, y


def test_summary_matches_the_tutorial(capsys):
    model = tutorial_model(vocab=10000, dim=16, hidden=16)
    model.build((None, 500))
    model.summary()
    out = capsys.readouterr().out
    assert "Total params: 160,289" in out and "Trainable params: 160,289" in out
    assert "(None, 500, 16)" in out and "160000" in out and "272" in out and "17" in out
    assert [w.shape for w in model.get_weights()] == [(10000, 16), (16, 16), (16,), (16, 1), (1,)]


def test_keras_initializers(rng):
    model = tutorial_model(vocab=2000, dim=16)
    model.build()
    embeddings, kernel, bias, kernel_1, bias_1 = model.get_weights()
    assert embeddings.dtype == np.float32
    assert -0.05 <= embeddings.min() < -0.049 and 0.049 < embeddings.max() <= 0.05
    limit = np.sqrt(6 / (16 + 8))
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.9 * limit
    assert np.all(bias == 0) and np.all(bias_1 == 0)


def test_fit_learns_and_history_has_keras_keys(rng):
    x, y = reviews(rng)
    model = tutorial_model()
    history = model.fit(x, y, epochs=25, batch_size=16, validation_split=0.25, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(values) == 25 for values in history.history.values())
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["val_accuracy"][-1] > 0.9
    loss, accuracy = model.evaluate(x, y)
    assert accuracy > 0.9 and np.isfinite(loss)
    assert model.predict(x[:7], batch_size=3).shape == (7, 1)
    # evaluate (which reads the logits) agrees with cross-entropy on predict's probabilities
    p = model.predict(x, batch_size=len(x))[:, 0].astype(np.float64)
    expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert model.evaluate(x, y, batch_size=len(x)) == pytest.approx([expected, np.mean((p > 0.5) == y)],
                                                                    rel=1e-5)


def test_validation_split_holds_out_the_last_fraction_and_shuffles_each_epoch(rng, monkeypatch):
    x, y = reviews(rng, n=50)
    model = tutorial_model(vocab=60)
    seen = []
    original = Sequential.train_step

    def recording(self, xb, yb):
        seen.append(xb.rows + 1)           # a batch of the fused model: rows of the training part
        return original(self, xb, yb)
    monkeypatch.setattr(Sequential, "train_step", recording)
    history = model.fit(x, y, epochs=3, batch_size=8, validation_split=0.3, verbose=0)
    split_at = int(50 * (1 - 0.3))        # 35 train, 15 validation
    sizes = [len(b) for b in seen]
    assert sizes == [8, 8, 8, 8, 3] * 3   # the last partial batch is kept
    epochs = [np.concatenate(seen[i * 5:(i + 1) * 5]) for i in range(3)]
    for order in epochs:
        assert sorted(order) == list(range(1, split_at + 1))
    assert not np.array_equal(epochs[0], epochs[1]) and not np.array_equal(epochs[1], epochs[2])
    val_loss, val_accuracy = model.evaluate(x[split_at:], y[split_at:], batch_size=8)
    assert history.history["val_loss"][-1] == pytest.approx(val_loss, rel=1e-6)
    assert history.history["val_accuracy"][-1] == pytest.approx(val_accuracy)


def test_epoch_metrics_are_batch_size_weighted_means(rng):
    x, y = reviews(rng, n=21)

    class Recorder:
        def __init__(self):
            self.batches = []

        def on_batch_end(self, batch, logs):
            self.batches.append(logs)
    recorder = Recorder()
    history = tutorial_model().fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[recorder])
    sizes = np.array([b["size"] for b in recorder.batches])
    assert list(sizes) == [8, 8, 5]
    for key in ("loss", "accuracy"):
        expected = np.sum([b[key] for b in recorder.batches] * sizes) / 21
        assert history.history[key][0] == pytest.approx(expected)


def test_train_on_batch_reports_before_the_update(rng):
    x, y = reviews(rng, n=16)
    model = tutorial_model()
    model.build()
    before = model.evaluate(x, y, batch_size=16)
    reported = model.train_on_batch(x, y)
    assert reported == pytest.approx(before)
    assert model.evaluate(x, y, batch_size=16)[0] < before[0]


def test_validation_data_and_verbose_line(rng, capsys):
    x, y = reviews(rng)
    tutorial_model().fit(x[:80], y[:80], epochs=2, batch_size=32, validation_data=(x[80:], y[80:]), verbose=1)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("Epoch 2/2 - ")
    for key in ("loss:", "accuracy:", "val_loss:", "val_accuracy:"):
        assert key in lines[0]


def test_float64_model_computes_in_float64(rng):
    x, y = reviews(rng, n=10)
    model = tutorial_model(dtype="float64")
    model.fit(x, y, epochs=1, verbose=0)
    assert model.predict(x).dtype == np.float64
    assert all(w.dtype == np.float64 for w in model.get_weights())


def test_mask_zero_changes_the_model_but_trains(rng):
    x, y = reviews(rng)
    plain, masked = tutorial_model(seed=4), tutorial_model(seed=4, mask_zero=True)
    assert not np.allclose(plain.predict(x), masked.predict(x))
    history = masked.fit(x, y, epochs=20, batch_size=16, verbose=0)
    assert history.history["accuracy"][-1] > 0.9


def test_same_seed_gives_bit_identical_weights(kernels, rng):
    x, y = reviews(rng)
    runs = []
    for _ in range(2):
        model = tutorial_model(seed=11)
        model.fit(x, y, epochs=3, batch_size=16, validation_split=0.2, verbose=0)
        runs.append(model.get_weights())
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
    other = tutorial_model(seed=12)
    other.fit(x, y, epochs=3, batch_size=16, validation_split=0.2, verbose=0)
    assert not np.array_equal(other.get_weights()[0], runs[0][0])


def test_bit_identical_for_any_number_of_threads(rng):
    """Reviews are pooled independently, each embedding row's gradient has one owner thread that adds
    in batch order, Adam is element-wise and BLAS runs on one thread: the thread count cannot
    change a single bit of training."""
    import numba
    x, y = reviews(rng, n=600, vocab=300, steps=40)
    previous = numba.get_num_threads()
    runs = []
    try:
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            model = tutorial_model(vocab=300, dim=8, seed=3)
            model.fit(x, y, epochs=2, batch_size=128, validation_split=0.2, verbose=0)
            runs.append(model.get_weights())
    finally:
        numba.set_num_threads(previous)
    for weights in runs[1:]:
        for a, b in zip(runs[0], weights):
            np.testing.assert_array_equal(a, b)


def test_bit_identical_across_processes(tmp_path):
    script = textwrap.dedent("""
        import hashlib, sys
        import numpy as np
        sys.path.insert(0, %r)
        from test_model import tutorial_model, reviews
        x, y = reviews(np.random.default_rng(5), n=300, vocab=50, steps=30)
        model = tutorial_model(seed=3, mask_zero=True)
        model.fit(x, y, epochs=2, batch_size=32, validation_split=0.2, verbose=0)
        print(hashlib.sha256(b"".join(w.tobytes() for w in model.get_weights())).hexdigest())
    """ % str(__import__("pathlib").Path(__file__).parent))
    digests = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              check=True).stdout.strip() for _ in range(2)}
    assert len(digests) == 1 and len(digests.pop()) == 64


def test_get_set_weights_round_trip(rng):
    model, other = tutorial_model(seed=1), tutorial_model(seed=2)
    model.build(), other.build()
    x, _ = reviews(rng, n=5)
    other.set_weights(model.get_weights())
    np.testing.assert_array_equal(model.predict(x), other.predict(x))
    weights = model.get_weights()
    weights[0][:] = 0                                  # get_weights returns copies
    assert model.get_weights()[0].any()


def test_save_load_round_trip_reproduces_predictions_and_training(tmp_path, rng):
    x, y = reviews(rng)
    model = tutorial_model(seed=7, mask_zero=True)
    model.compile(optimizer=Adam(learning_rate=0.01), metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = load_model(path)
    np.testing.assert_array_equal(model.predict(x), loaded.predict(x))
    assert loaded.layers[0].mask_zero and loaded.optimizer.learning_rate == 0.01
    assert loaded.optimizer.iterations == model.optimizer.iterations
    # continuing to train gives the same weights as the original (optimizer state and rng restored)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    loaded.fit(x, y, epochs=1, batch_size=16, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not list(tmp_path.glob(".*tmp"))            # nothing half-written left behind


def test_kernels_paths_train_to_the_same_weights(rng):
    x, y = reviews(rng)
    results = {}
    for name in ("numba", "numpy"):
        npembed.set_kernels(name)
        try:
            model = tutorial_model(seed=2, dtype="float64", mask_zero=True)
            model.fit(x, y, epochs=3, batch_size=16, verbose=0)
            results[name] = model.get_weights()
        finally:
            npembed.set_kernels("numba")
    for a, b in zip(results["numba"], results["numpy"]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)


def test_blas_runs_on_one_thread_while_training_and_is_restored(rng):
    """NumPy's BLAS must not compete with Numba's threads for the cores (see npembed._threads)."""
    from threadpoolctl import threadpool_info

    def blas_threads():
        return {pool["filepath"]: pool["num_threads"] for pool in threadpool_info()
                if pool["user_api"] == "blas"}
    before = blas_threads()                 # NumPy's BLAS (others, e.g. SciPy's, may load later)
    seen = []

    class Record:
        def on_batch_end(self, batch, logs):
            seen.append({path: threads for path, threads in blas_threads().items() if path in before})
    x, y = reviews(rng)
    tutorial_model().fit(x, y, epochs=1, batch_size=32, verbose=0, callbacks=[Record()])
    assert before and seen and all(threads == {path: 1 for path in before} for threads in seen)
    assert {path: threads for path, threads in blas_threads().items() if path in before} == before


def test_optimizer_state_round_trips_and_bad_slots_are_refused(rng, tmp_path):
    x, y = reviews(rng)
    model = tutorial_model(seed=5)
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    state = model.optimizer.get_state()
    fresh = Adam(learning_rate=0.02)
    fresh.set_state(state, model.params)
    assert fresh.iterations == model.optimizer.iterations
    for slot in ("m", "v"):
        for key, value in state[slot].items():
            np.testing.assert_array_equal(fresh.get_state()[slot][key], value)
            assert fresh.get_state()[slot][key] is not value            # copied
    key = "embedding/embeddings"
    for slot, bad in (("v", -1.0), ("m", np.nan), ("v", np.inf)):
        broken = {**state, slot: {**state[slot], key: np.full_like(state[slot][key], bad)}}
        with pytest.raises(ValueError, match=f"{slot}/{key} must be finite"):
            Adam().set_state(broken, model.params)
    with pytest.raises(ValueError, match="shape"):
        Adam().set_state({**state, "m": {**state["m"], key: state["m"][key][:3]}}, model.params)
    # a saved file whose v slot went negative does not load
    model.save(tmp_path / "model.npz")
    arrays = dict(np.load(tmp_path / "model.npz"))
    arrays[f"optimizer/v/{key}"] = -arrays[f"optimizer/v/{key}"] - 1
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match="bad.npz.*>= 0"):
        load_model(tmp_path / "bad.npz")

"""Bad input gets a clear error naming the problem and the value, before any kernel runs."""
import numpy as np
import pytest

from npembed import Sequential, load_model
from npembed.layers import Dense, Embedding, GlobalAveragePooling1D
from test_model import reviews, tutorial_model


@pytest.fixture
def model():
    return tutorial_model(vocab=20)


@pytest.fixture
def data(rng):
    return reviews(rng, n=10, vocab=20, steps=6)


@pytest.mark.parametrize("bad, error, message", [
    (20, IndexError, "got 20"),
    (-1, IndexError, "got -1"),
    (10**12, IndexError, "got 1000000000000"),
])
def test_ids_out_of_range(model, data, bad, error, message):
    x, y = data
    x = x.astype(np.int64)
    x[3, 2] = bad
    for call in (lambda: model.fit(x, y, verbose=0), lambda: model.predict(x),
                 lambda: model.evaluate(x, y), lambda: model.train_on_batch(x, y)):
        with pytest.raises(error, match=message):
            call()


@pytest.mark.parametrize("x, error, message", [
    (np.ones((2, 3), dtype=float), TypeError, "integer ids"),
    (np.ones((2, 3), dtype=bool), TypeError, "integer ids"),
    (np.array([["a", "b"]]), TypeError, "integer ids"),
    (np.zeros((0, 3), dtype=int), ValueError, "empty"),
    (np.zeros((2, 0), dtype=int), ValueError, "empty"),
    (np.zeros(3, dtype=int), ValueError, "dimensions|batch axis"),
    (np.zeros((2, 3, 1), dtype=int), ValueError, "dimensions"),
    ([[1, 2], [3]], ValueError, "rectangular|ragged"),
])
def test_bad_ids(model, x, error, message):
    with pytest.raises(error, match=message):
        model.predict(x)


@pytest.mark.parametrize("y, error, message", [
    (np.array([0, 1, 2] + [0] * 7), ValueError, "0 or 1.*got 2"),
    (np.array([0.5] * 10), ValueError, "0 or 1"),
    (np.array([np.nan] * 10), ValueError, "0 or 1"),
    (np.zeros(9), ValueError, "same length.*10 and 9"),
    (np.zeros((10, 2)), ValueError, r"shape \(n,\)"),
    (np.array(["0"] * 10), TypeError, "labels"),
])
def test_bad_labels(model, data, y, error, message):
    with pytest.raises(error, match=message):
        model.fit(data[0], y, verbose=0)


def test_fit_or_evaluate_before_compile(data):
    model = Sequential([Embedding(20, 2), GlobalAveragePooling1D(), Dense(1, activation="sigmoid")])
    for call in (lambda: model.fit(*data), lambda: model.evaluate(*data),
                 lambda: model.train_on_batch(*data)):
        with pytest.raises(RuntimeError, match="compile"):
            call()


@pytest.mark.parametrize("kwargs, message", [
    (dict(batch_size=0), "batch_size"), (dict(batch_size=2.5), "batch_size"),
    (dict(epochs=-1), "epochs"), (dict(validation_split=1.0), "validation_split"),
    (dict(validation_split=-0.1), "validation_split"), (dict(validation_split=0.95), "validation_split"),
    (dict(validation_data=([1],)), "validation_data"),
])
def test_bad_fit_arguments(model, data, kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        model.fit(*data, verbose=0, **kwargs)


def test_unknown_names():
    with pytest.raises(ValueError, match="activation 'tanhh'"):
        Dense(2, activation="tanhh")
    model = tutorial_model()
    with pytest.raises(ValueError, match="optimizer 'sgdd'"):
        model.compile(optimizer="sgdd")
    with pytest.raises(ValueError, match="loss 'mse'"):
        model.compile(loss="mse")
    with pytest.raises(ValueError, match="metric 'auc'"):
        model.compile(metrics=["auc"])


@pytest.mark.parametrize("make, message", [
    (lambda: Embedding(0, 4), "input_dim"), (lambda: Embedding(10, -1), "output_dim"),
    (lambda: Embedding(10.0, 4), "input_dim"), (lambda: Embedding(1, 4, mask_zero=True), "input_dim"),
    (lambda: Embedding(2**31, 4), "input_dim must be <= 2147483647"),
    (lambda: Embedding(10, 4, mask_zero="yes"), "mask_zero"), (lambda: Dense(0), "units"),
    (lambda: Sequential([], dtype="int32"), "dtype"), (lambda: Sequential([], seed=-1), "seed"),
    (lambda: Sequential(["dense"]), "layers"),
])
def test_bad_constructor_arguments(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_set_weights_checks_count_shapes_and_values(model):
    model.build()
    weights = model.get_weights()
    with pytest.raises(ValueError, match="have 5 weights, got 4 arrays"):
        model.set_weights(weights[:4])
    with pytest.raises(ValueError, match="shape"):
        model.set_weights([weights[0][:3]] + weights[1:])
    weights[2][0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        model.set_weights(weights)
    assert np.isfinite(model.get_weights()[2]).all()   # nothing was half-applied


def test_nan_in_float_inputs_is_rejected():
    model = Sequential([Dense(1, activation="sigmoid")], seed=0)
    model.compile()
    with pytest.raises(ValueError, match="finite"):
        model.fit(np.array([[0.0, np.inf]]), [1], verbose=0)


def test_layer_call_checks_and_requires_build():
    layer = Embedding(5, 2)
    with pytest.raises(RuntimeError, match="not built"):
        layer(np.array([[1]]))
    layer.build((None, 1), np.random.default_rng(0))
    with pytest.raises(IndexError, match="got 5"):
        layer(np.array([[5]]))
    assert layer(np.array([[4]])).shape == (1, 1, 2)


def test_diverging_training_stops_with_finite_weights(data):
    x, y = data
    model = tutorial_model(vocab=20)
    from npembed.optimizers import Adam
    model.compile(optimizer=Adam(learning_rate=1e30))
    with pytest.raises(FloatingPointError, match="loss became"), np.errstate(all="ignore"):
        model.fit(x, y, epochs=50, batch_size=2, verbose=0)
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_a_non_finite_gradient_with_a_finite_loss_stops_before_any_update(data, monkeypatch, kernels):
    from npembed import stages
    from npembed.callbacks import TerminateOnNaN
    x, y = data
    model = tutorial_model(vocab=20)
    model.fit(x, y, epochs=1, batch_size=5, verbose=0)
    before = model.get_weights()
    if kernels == "numpy":                  # the hidden Dense layer hands back an infinite gradient
        hidden = model.layers[2]
        monkeypatch.setattr(hidden, "backward", lambda dy: np.full((len(dy), 4), np.inf, np.float32))
    else:                                   # the same, from the head kernel (npembed.stages)
        backward = stages.DenseHead.backward
        monkeypatch.setattr(stages.DenseHead, "backward", lambda self: np.full_like(backward(self), np.inf))
    with pytest.raises(FloatingPointError, match="gradient became non-finite"):
        model.fit(x, y, epochs=1, batch_size=5, verbose=0)
    history = model.fit(x, y, epochs=3, batch_size=5, verbose=0, callbacks=[TerminateOnNaN()])
    assert history.epoch == []                              # stopped in the first batch
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04 truncated"])
def test_load_model_rejects_foreign_and_corrupt_files(tmp_path, content):
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not .*npembed model"):
        load_model(path)


def test_load_model_rejects_truncated_and_pickled_files(tmp_path, model):
    model.build()
    good = tmp_path / "good.npz"
    model.save(good)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:len(good.read_bytes()) // 2])
    with pytest.raises(ValueError, match="npembed model"):
        load_model(truncated)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, config=np.array([{"format": "npembed.Sequential"}], dtype=object))
    with pytest.raises(ValueError, match="npembed model"):
        load_model(pickled)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a=np.zeros(3))
    with pytest.raises(ValueError, match="npembed model"):
        load_model(foreign)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.npz")


def _rewrite(path, out, edit_config=None, arrays=None):
    """Copy a saved model with its config edited and/or arrays replaced (as a hostile file would)."""
    import json
    with np.load(path, allow_pickle=False) as saved:
        members = {name: saved[name] for name in saved.files}
    config = json.loads(bytes(members["config"]).decode())
    if edit_config:
        edit_config(config)
    members["config"] = np.frombuffer(json.dumps(config).encode(), dtype=np.uint8)
    members.update(arrays or {})
    np.savez(out, **members)
    return out


def test_load_model_refuses_huge_declared_sizes_before_allocating(tmp_path, model):
    model.build()
    good = tmp_path / "good.npz"
    model.save(good)

    def huge_embedding(config):
        config["layers"][0]["config"]["input_dim"] = 2**31 - 1
    with pytest.raises(ValueError, match="layers declare weights"):
        load_model(_rewrite(good, tmp_path / "a.npz", huge_embedding))

    def huge_everything(config):
        config["layers"][0]["config"]["input_dim"] = 2**31 - 1
        config["weights"][0][1] = [2**31 - 1, 4]
    with pytest.raises(ValueError, match="stored with shape"):
        load_model(_rewrite(good, tmp_path / "b.npz", huge_everything))
    # a member whose header (and config) claim a huge array, but which holds only 20 x 4 floats
    def claims_huge(config):
        config["layers"][0]["config"]["input_dim"] = 99999999
        config["weights"][0][1] = [99999999, 4]
    import io
    import zipfile
    source = _rewrite(good, tmp_path / "claims.npz", claims_huge)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (99999999, 4)})
    forged_member = header.getvalue() + np.zeros((20, 4), np.float32).tobytes()
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(tmp_path / "c.npz", "w") as forged:
        for info in original.infolist():
            name = info.filename
            forged.writestr(name, forged_member if name == "weights/embedding/embeddings.npy"
                            else original.read(name))
    with pytest.raises(ValueError, match="holds only"):
        load_model(tmp_path / "c.npz")


def ctrl_c_at_adam_call(monkeypatch, at_call):
    """Make every Adam update of a weight (kernels.adam_update, or the embedding's step fused into
    bags.pooled_lookup_backward) send Ctrl-C to this process right after the at_call-th of them;
    returns the list of updates made (one entry per weight) and the original adam_update."""
    import os
    import signal

    from npembed import kernels
    from npembed.kernels import bags
    original, original_backward = kernels.adam_update, bags.pooled_lookup_backward
    calls = []

    def counted():
        calls.append(1)
        if len(calls) == at_call:
            os.kill(os.getpid(), signal.SIGINT)

    def interrupting(*args):
        result = original(*args)
        counted()
        return result

    def interrupting_backward(*args, **kwargs):
        result = original_backward(*args, **kwargs)
        if (args[5:] or [kwargs.get("adam")])[0] is not None:      # the table's Adam step was fused
            counted()
        return result
    monkeypatch.setattr(kernels, "adam_update", interrupting)
    monkeypatch.setattr(bags, "pooled_lookup_backward", interrupting_backward)
    return calls, original


def test_ctrl_c_during_an_update_leaves_every_weight_updated(rng, monkeypatch):
    import signal
    x, y = reviews(rng, n=16, vocab=20, steps=6)
    interrupted, twin = tutorial_model(vocab=20, seed=5), tutorial_model(vocab=20, seed=5)
    twin.train_on_batch(x, y)
    calls, _ = ctrl_c_at_adam_call(monkeypatch, 1)          # Ctrl-C between two weights' updates
    with pytest.raises(KeyboardInterrupt):
        interrupted.train_on_batch(x, y)
    assert len(calls) == 5                                  # the step finished before stopping
    # the first update was the embedding's, fused into its backward: Ctrl-C came before the step began
    for a, b in zip(interrupted.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_in_fit_stops_after_the_update_and_restores_the_handler(rng, monkeypatch):
    import signal

    from npembed import kernels
    x, y = reviews(rng, n=40, vocab=20, steps=6)
    interrupted, twin = tutorial_model(vocab=20, seed=5), tutorial_model(vocab=20, seed=5)
    calls, original = ctrl_c_at_adam_call(monkeypatch, 11)  # the first weight of the third batch
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(x, y, epochs=5, batch_size=8, verbose=0)
    assert len(calls) == 15                                 # three whole steps, then the stop
    monkeypatch.setattr(kernels, "adam_update", original)
    twin.build((None, 6))                                   # the same generator draws, then
    order = twin.rng.permutation(40)                        # the same three batches by hand
    for start in (0, 8, 16):
        twin.train_on_batch(x[order[start:start + 8]], y[order[start:start + 8]])
    for a, b in zip(interrupted.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_in_fit_reaches_a_custom_handler(rng):
    import os
    import signal

    from npembed.callbacks import Callback
    x, y = reviews(rng, n=40, vocab=20, steps=6)
    received = []

    class CtrlCAfterSecondBatch(Callback):
        def on_batch_end(self, batch, logs):
            if batch == 1:
                os.kill(os.getpid(), signal.SIGINT)        # outside an update: delivered at once

    def handler(signum, frame):
        received.append(signum)
    previous = signal.signal(signal.SIGINT, handler)
    try:
        history = tutorial_model(vocab=20).fit(x, y, epochs=2, batch_size=8, verbose=0,
                                               callbacks=[CtrlCAfterSecondBatch()])
        assert received == [signal.SIGINT] * 2              # the user's handler ran; fit went on
        assert len(history.epoch) == 2
        assert signal.getsignal(signal.SIGINT) is handler
    finally:
        signal.signal(signal.SIGINT, previous)

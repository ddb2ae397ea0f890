"""The textbook path is the reference: set_kernels("numpy") runs the layers as declared, and the fused
Numba step over packed ids (npembed.stages) is held equal to it, forward and gradients."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import npembed
from npembed import Sequential, callbacks, gradcheck
from npembed import stages
from npembed.layers import Dense, Embedding, GlobalAveragePooling1D
from strategies import id_batches, seeds

TOLERANCE = {"float64": dict(rtol=1e-12, atol=1e-14), "float32": dict(rtol=1e-5, atol=1e-6)}


@pytest.fixture
def numpy_kernels():
    previous = npembed.get_kernels()
    npembed.set_kernels("numpy")
    yield
    npembed.set_kernels(previous)


def tutorial(vocab, dim=3, mask_zero=False, dtype="float64", seed=0):
    model = Sequential([Embedding(vocab, dim, mask_zero=mask_zero), GlobalAveragePooling1D(),
                        Dense(4, activation="relu"), Dense(1, activation="sigmoid")], seed=seed, dtype=dtype)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


@given(batch=id_batches(max_vocab=9, max_batch=6, max_steps=10), dim=st.integers(1, 6),
       mask_zero=st.booleans(), dtype=st.sampled_from(["float32", "float64"]), seed=seeds)
def test_fused_step_equals_the_textbook_pair(kernels, batch, dim, mask_zero, dtype, seed):
    """Forward and the embedding gradient of EmbeddingMean equal Embedding -> GlobalAveragePooling1D."""
    vocab, ids = batch
    rng = np.random.default_rng(seed)
    embedding, pooling = Embedding(vocab, dim, mask_zero=mask_zero), GlobalAveragePooling1D()
    embedding.build((None, ids.shape[1]), rng, dtype)
    pooling.build((None, ids.shape[1], dim), rng, dtype)
    step = stages.EmbeddingMean(embedding, pooling)
    d_pooled = rng.normal(size=(len(ids), dim)).astype(dtype)

    vectors = embedding(ids)
    textbook = pooling(vectors, embedding.compute_mask(ids, None))
    embedding.zero_grads()
    embedding.backward(pooling.backward(d_pooled))
    textbook_grad = embedding.grads["embeddings"].copy()

    packed = step(ids)
    embedding.zero_grads()
    step.backward(d_pooled)
    np.testing.assert_allclose(packed, textbook, **TOLERANCE[dtype])
    np.testing.assert_allclose(embedding.grads["embeddings"], textbook_grad, **TOLERANCE[dtype])


@given(batch=id_batches(max_vocab=6, max_batch=5, max_steps=8), mask_zero=st.booleans(), seed=seeds,
       data=st.data())
def test_loss_and_gradients_agree_on_both_paths(batch, mask_zero, seed, data):
    vocab, ids = batch
    y = np.array(data.draw(st.lists(st.integers(0, 1), min_size=len(ids), max_size=len(ids))))
    results = {}
    for name in ("numba", "numpy"):
        npembed.set_kernels(name)
        try:
            results[name] = tutorial(vocab, mask_zero=mask_zero, seed=seed).loss_and_gradients(ids, y)
        finally:
            npembed.set_kernels("numba")
    (loss_a, grads_a), (loss_b, grads_b) = results["numba"], results["numpy"]
    assert loss_a == pytest.approx(loss_b, rel=1e-12, abs=1e-15)
    assert list(grads_a) == list(grads_b)
    for key in grads_a:
        np.testing.assert_allclose(grads_a[key], grads_b[key], **TOLERANCE["float64"])


def test_numpy_mode_runs_the_layers_as_declared(numpy_kernels, monkeypatch, rng):
    """After fit with set_kernels("numpy"), every layer's own forward and backward ran, and the fused
    step did not."""
    calls = []
    for cls in (Embedding, GlobalAveragePooling1D, Dense):
        for method in ("forward", "backward"):
            original = getattr(cls, method)

            def spy(self, *args, _original=original, _name=f"{cls.__name__}.{method}", **kwargs):
                calls.append(_name)
                return _original(self, *args, **kwargs)
            monkeypatch.setattr(cls, method, spy)
    monkeypatch.setattr(stages.EmbeddingMean, "forward", lambda *args: pytest.fail("fused step ran"))
    model = tutorial(20, dtype="float32")
    x = rng.integers(0, 20, (30, 7))
    model.fit(x, rng.integers(0, 2, 30), epochs=1, batch_size=8, verbose=0)
    for name in ("Embedding.forward", "Embedding.backward", "GlobalAveragePooling1D.forward",
                 "GlobalAveragePooling1D.backward", "Dense.forward"):
        assert name in calls, name


def test_numba_mode_runs_the_fused_step(monkeypatch, rng):
    ran = []
    original = stages.EmbeddingMean.forward

    def spy(self, *args, **kwargs):
        ran.append(True)
        return original(self, *args, **kwargs)
    monkeypatch.setattr(stages.EmbeddingMean, "forward", spy)
    monkeypatch.setattr(GlobalAveragePooling1D, "forward", lambda *args: pytest.fail("pair ran"))
    tutorial(20, dtype="float32").fit(rng.integers(0, 20, (30, 7)), rng.integers(0, 2, 30), epochs=1, verbose=0)
    assert ran


def test_summary_names_the_fused_step(capsys):
    model = tutorial(100)
    model.build((None, 9))
    model.summary()
    out = capsys.readouterr().out
    assert "embedding + global_average_pooling1d run as one stage over packed ids" in out
    Sequential([Dense(2, activation="relu"), Dense(1)]).build((None, 3))
    unfused = Sequential([Embedding(5, 2), Dense(1)])
    unfused.build((None, 3))
    unfused.summary()
    assert "run as one" not in capsys.readouterr().out


@pytest.mark.parametrize("bad, error", [(np.array([[99]]), IndexError), (np.array([[-1]]), IndexError),
                                        (np.array([[0.5]]), TypeError), (np.array([1, 2]), ValueError)])
def test_fused_step_checks_ids_before_any_kernel(bad, error):
    """Out-of-range ids once read memory past the table; now they are refused like layer(x) refuses them."""
    embedding = Embedding(5, 3)
    embedding.build((None, None), np.random.default_rng(0))
    step = stages.EmbeddingMean(embedding, GlobalAveragePooling1D())
    with pytest.raises(error, match="ids"):
        step(bad)
    with pytest.raises(error, match="ids"):
        embedding(bad)
    assert not hasattr(embedding, "forward_mean")


def test_fused_step_refuses_other_layers():
    with pytest.raises(TypeError, match="EmbeddingMean fuses"):
        stages.EmbeddingMean(Dense(2), GlobalAveragePooling1D())


def test_loss_is_never_stale_after_add(rng):
    """Compile with a sigmoid output, then add a linear Dense: the loss must read the new output."""
    model = Sequential([Embedding(10, 3), GlobalAveragePooling1D(), Dense(1, activation="sigmoid")], seed=0)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.add(Dense(1, activation="sigmoid"))
    x, y = rng.integers(0, 10, (12, 5)), rng.integers(0, 2, 12)
    p = model.predict(x, batch_size=12)[:, 0].astype(np.float64)
    expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert model.evaluate(x, y, batch_size=12)[0] == pytest.approx(expected, rel=1e-5)
    linear = Sequential([Embedding(10, 3), GlobalAveragePooling1D(), Dense(1, activation="sigmoid")], seed=0)
    linear.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    linear.add(Dense(1))                                # outputs are no probabilities: BCE clips them
    q = np.clip(linear.predict(x, batch_size=12)[:, 0].astype(np.float64), 1e-7, 1 - 1e-7)
    expected = -np.mean(y * np.log(q) + (1 - y) * np.log(1 - q))
    assert linear.evaluate(x, y, batch_size=12)[0] == pytest.approx(expected, rel=1e-4)


def test_loss_and_gradients_changes_no_weight_and_matches_finite_differences(rng):
    model = tutorial(8, seed=3)
    x, y = rng.integers(0, 8, (5, 6)), rng.integers(0, 2, 5)
    loss, grads = model.loss_and_gradients(x, y)
    before = model.get_weights()
    assert np.isfinite(loss) and set(grads) == set(model.params)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    grads["embedding/embeddings"][:] = 0                # copies: the model's own grads are untouched
    assert model.grads["embedding/embeddings"].any()
    gradcheck.check_model(model, x, y)


def test_a_wrong_fused_backward_fails_the_model_check(monkeypatch, rng):
    def drops_repeats(self, d_pooled):
        self.grads["embeddings"][self._packed.ids] += 0.0     # the gradient never arrives
    monkeypatch.setattr(stages.EmbeddingMean, "backward", drops_repeats)
    model = tutorial(8, seed=3)
    with pytest.raises(gradcheck.GradcheckError):
        gradcheck.check_model(model, rng.integers(1, 8, (4, 5)), [0, 1, 1, 0])


def test_callbacks_find_the_embedding_by_type_or_say_there_is_none(rng):
    x, y = rng.integers(0, 10, (8, 4)).astype(float), rng.integers(0, 2, 8)
    model = Sequential([Dense(3, activation="relu"), Dense(1, activation="sigmoid")], seed=0)
    model.compile()
    for callback in (callbacks.GradientStats(), callbacks.EmbeddingSnapshots()):
        with pytest.raises(ValueError, match="Embedding layer"):
            model.fit(x, y, epochs=1, verbose=0, callbacks=[callback])


def test_layer_names_must_be_unique():
    with pytest.raises(ValueError, match="already has a layer named 'head'"):
        Sequential([Embedding(5, 2), GlobalAveragePooling1D(), Dense(2, name="head"), Dense(1, name="head")])


def test_a_misfit_shape_builds_nothing(rng):
    model = Sequential([Embedding(5, 2), GlobalAveragePooling1D(), Dense(1)], seed=0)
    with pytest.raises(ValueError, match="dimensions"):
        model.predict(np.zeros((2, 3, 1), dtype=int))
    assert not model.built and not any(layer.built for layer in model.layers)
    assert model.predict(np.zeros((2, 3), dtype=int)).shape == (2, 1)


def test_only_one_sigmoid_in_the_library():
    from pathlib import Path
    sources = {path.name: path.read_text() for path in Path(npembed.__file__).parent.rglob("*.py")}
    defining = [name for name, text in sources.items() if "def sigmoid" in text]
    assert defining == ["activations.py"]
    assert not [name for name, text in sources.items() if "1 / (1 + np.exp" in text]


@pytest.mark.parametrize("kernels", ["numba", "numpy"])
@pytest.mark.parametrize("frozen", [False, True])
def test_each_batch_gets_its_own_gradients(kernels, frozen, rng):
    """grads after a batch are that batch's alone: nothing is left of the batch before, on either
    path, and a frozen table's is 0."""
    npembed.set_kernels(kernels)
    try:
        x_a, x_b = rng.integers(0, 20, (9, 6)), rng.integers(0, 20, (5, 6))
        y_a, y_b = rng.integers(0, 2, 9), rng.integers(0, 2, 5)
        model, fresh = tutorial(20), tutorial(20)
        model.layers[0].trainable = fresh.layers[0].trainable = not frozen
        model.loss_and_gradients(x_a, y_a)
        model.train_on_batch(x_a, y_a)
        fresh.set_weights(model.get_weights())
        loss, grads = model.loss_and_gradients(x_b, y_b)
        expected_loss, expected = fresh.loss_and_gradients(x_b, y_b)
    finally:
        npembed.set_kernels("numba")
    assert loss == expected_loss
    for key in grads:
        np.testing.assert_array_equal(grads[key], expected[key])
    assert np.any(grads["embedding/embeddings"] != 0) != frozen


def test_a_batch_that_fails_leaves_every_gradient_zero(rng):
    """A non-finite loss stops the batch before its backward: grads then read 0, not the last batch's."""
    model = tutorial(20)
    x, y = rng.integers(0, 20, (9, 6)), rng.integers(0, 2, 9)
    model.loss_and_gradients(x, y)
    assert all(np.any(grad != 0) for grad in model.grads.values())
    model.params["dense_1/bias"].fill(np.inf)        # an infinite logit: a non-finite loss
    with pytest.raises(FloatingPointError):
        model.train_on_batch(x, y)
    for key, grad in model.grads.items():
        assert np.all(grad == 0), key

def test_a_frozen_table_is_neither_updated_nor_given_a_gradient(rng):
    """A frozen table is neither updated nor given Adam slots; its stage computes no gradient."""
    model = tutorial(20, dtype="float32")
    x, y = rng.integers(0, 20, (30, 7)), rng.integers(0, 2, 30)
    model.build((None, 7))
    model.layers[0].trainable = False
    table = model.get_weights()[0]
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    np.testing.assert_array_equal(model.get_weights()[0], table)
    assert "embedding/embeddings" not in model.optimizer.m and model.optimizer.iterations == 8
    assert not model.grads["embedding/embeddings"].any()          # a frozen table gets no gradient


def test_an_adam_subclass_with_its_own_update_gets_it_for_the_table_too(rng):
    """Every weight, the table included, takes the optimizer's own update: a subclass's runs."""
    from npembed import optimizers

    class NoMove(optimizers.Adam):
        def update(self, w, g, slots, scalars):
            return 0

    model = tutorial(20, dtype="float32")
    model.compile(optimizer=NoMove(), loss="binary_crossentropy")
    model.build((None, 7))
    before = model.get_weights()
    model.fit(rng.integers(0, 20, (30, 7)), rng.integers(0, 2, 30), epochs=2, batch_size=8, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)

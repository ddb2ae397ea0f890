"""Hostile input, round two: each class of attack is closed by a general rule, tested here.

Rules (see README, "Bad input and interrupted runs"):
- every error a user can cause is a ValueError / TypeError / KeyError / IndexError / OSError
  subclass that names the argument or file and the value received;
- hyperparameters are finite and in range, also once cast to the weights' dtype;
- a value never silently changes on its way into an array (no wrap-around, no truncation);
- nothing allocates more than this machine's memory because an argument or a file asks for it;
- a training step that would leave non-finite weights says so; a FloatingPointError that says the
  weights are those from before the batch is true.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npembed import Sequential, callbacks, pad_sequences
from npembed.study import analysis
from npembed.layers import Dense, Embedding, GlobalAveragePooling1D
from npembed.optimizers import Adam

USER_ERRORS = (ValueError, TypeError, KeyError, IndexError, OSError)


def tutorial(vocab=20, optimizer="adam", dtype="float32", seed=0, embedding=None):
    model = Sequential([embedding or Embedding(vocab, 4), GlobalAveragePooling1D(),
                        Dense(4, activation="relu"), Dense(1, activation="sigmoid")], seed=seed, dtype=dtype)
    model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
    return model


# ---- the wrong state: a ValueError (and a RuntimeError, as before) naming what to do ---------------

@pytest.mark.parametrize("call, message", [
    (lambda m: m.save("never-written.npz"), "not built"),
    (lambda m: m.get_weights(), "not built"),
    (lambda m: m.count_params(), "not built"),
    (lambda m: Sequential([Dense(1)]).fit(np.ones((2, 2)), [0, 1], verbose=0), "compile"),
])
def test_calls_in_the_wrong_state_are_value_errors(call, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = Sequential([Dense(2), Dense(1, activation="sigmoid")])     # its input size is unknown
    model.compile()
    with pytest.raises(ValueError, match=message) as caught:
        call(model)
    assert isinstance(caught.value, RuntimeError)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("make, message", [
    (lambda: Sequential([Embedding(5, 2), GlobalAveragePooling1D(), GlobalAveragePooling1D()]).build((None, 3)),
     r"GlobalAveragePooling1D needs inputs \(batch, steps, features\), got shape \(None, 2\)"),
    (lambda: tutorial().compile(metrics="auc"), "unknown metric 'auc'"),
    (lambda: tutorial().compile(metrics=3), "metrics must be a list"),
    (lambda: callbacks.EarlyStopping(monitor=None), "monitor must be"),
    (lambda: analysis.word_sentiment(tutorial(), batch_size=0), "batch_size must be >= 1, got 0"),
])
def test_unclear_errors_now_name_the_argument(make, message):
    with pytest.raises(USER_ERRORS, match=message):
        make()


def test_metrics_may_be_one_name():
    model = tutorial()
    model.compile(metrics="accuracy")
    assert model.metrics == ["accuracy"]


def test_word_sentiment_on_an_unbuilt_model_builds_it():
    scores = analysis.word_sentiment(tutorial(vocab=7))
    assert scores.shape == (7,) and np.isfinite(scores).all()


# ---- hyperparameters: finite, in range, and still so in the weights' dtype ------------------------

@pytest.mark.parametrize("argument", ["learning_rate", "beta_1", "beta_2", "epsilon"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0, 1.0, 0.0, "0.1", True])
def test_adam_refuses_bad_hyperparameters(argument, value):
    valid = {"learning_rate": (1.0,), "beta_1": (0.0,), "beta_2": (0.0,), "epsilon": (1.0,)}
    if value in valid[argument] and not isinstance(value, bool):
        return                                                   # a legal value of this argument
    with pytest.raises((ValueError, TypeError), match=argument):
        Adam(**{argument: value})


@pytest.mark.parametrize("options, message", [({"learning_rate": 1e300}, "not a finite float32"),
                                              ({"epsilon": 1e-50}, "is 0 in float32")])
def test_hyperparameters_are_checked_in_the_weights_dtype_before_any_change(options, message, rng):
    model = tutorial(optimizer=Adam(**options))
    model.build((None, 6))
    before = model.get_weights()
    with pytest.raises(ValueError, match=message):
        model.fit(rng.integers(0, 20, (8, 6)), rng.integers(0, 2, 8), epochs=1, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == 0
    float64 = tutorial(optimizer=Adam(**options), dtype="float64")       # fine in float64
    float64.fit(rng.integers(0, 20, (8, 6)), rng.integers(0, 2, 8), epochs=1, verbose=0)


@pytest.mark.parametrize("learning_rate", [1e30, 1e36, 3e37])
def test_a_floating_point_error_tells_the_truth_about_the_weights(learning_rate, rng):
    """Huge steps end training; if the error says the weights are those from before the batch,
    they are all finite; otherwise it says they are no longer usable."""
    model = tutorial(optimizer=Adam(learning_rate=learning_rate))
    x, y = rng.integers(0, 20, (64, 6)), rng.integers(0, 2, 64)
    with pytest.raises(FloatingPointError) as caught:
        model.fit(x, y, epochs=200, batch_size=8, verbose=0)
    finite = all(np.isfinite(w).all() for w in model.get_weights())
    if "from before this batch" in str(caught.value):
        assert finite
    else:
        assert "no longer usable" in str(caught.value) and not finite


# ---- values never change silently on their way into an array -------------------------------------

int_dtypes = st.sampled_from(["int8", "uint8", "int16", "int32", "uint32", "int64"])


@given(values=st.lists(st.integers(-2**63, 2**63 - 1), min_size=1, max_size=5), dtype=int_dtypes)
def test_pad_sequences_keeps_every_value_or_refuses(values, dtype):
    try:
        padded = pad_sequences([np.array(values, dtype=np.int64)], dtype=dtype)
    except ValueError as error:
        info = np.iinfo(dtype)
        assert any(v < info.min or v > info.max for v in values) and "range of dtype" in str(error)
    else:
        assert [int(v) for v in padded[0]] == values


@pytest.mark.parametrize("sequences, kwargs, message", [
    ([[4294967303]], {}, "4294967303, outside the range of dtype int32"),
    ([[1.5]], {}, "1.5, which is not an integer"),
    ([[float("nan")]], {}, "not an integer"),
    ([[1]], {"value": 2**40}, "value holds 1099511627776"),
    ([[1e300]], {"dtype": "float32"}, "beyond the largest float32"),
])
def test_pad_sequences_refuses_values_that_do_not_fit(sequences, kwargs, message):
    with pytest.raises(ValueError, match=message):
        pad_sequences(sequences, **kwargs)


# ---- nothing allocates more than the machine has because an argument asks for it -----------------

@pytest.mark.parametrize("make", [
    lambda: pad_sequences([[1, 2]], maxlen=10**12),
    lambda: Embedding(2**31 - 1, 16).build((None, 5), np.random.default_rng(0)),
    lambda: tutorial(embedding=Embedding(2**31 - 1, 64)).build((None, 5)),
])
def test_huge_sizes_are_refused_with_the_size_named(make):
    with pytest.raises(ValueError, match=r"GiB, more than this machine's .* GiB of memory"):
        make()


# ---- one layer in two models: the weights are shared, as in Keras ---------------------------------

def test_a_layer_in_two_models_shares_its_weights(rng):
    shared = Embedding(20, 4)
    first, second = tutorial(embedding=shared, seed=1), tutorial(embedding=shared, seed=2)
    x, y = rng.integers(0, 20, (32, 6)), rng.integers(0, 2, 32)
    first.fit(x, y, epochs=1, verbose=0)
    before = second.predict(x)
    assert second.params["embedding/embeddings"] is first.params["embedding/embeddings"]
    first.fit(x, y, epochs=2, verbose=0)                    # training the first moves the second
    assert not np.array_equal(before, second.predict(x))
    second.fit(x, y, epochs=1, verbose=0)                   # and the second trains too
    with pytest.raises(ValueError, match="already built with weights"):
        tutorial(embedding=shared, dtype="float64").build((None, 6))
    with pytest.raises(ValueError, match="already built with weights"):
        dense = first.layers[2]                                # Dense(4) built for 4 inputs
        Sequential([Embedding(9, 7), GlobalAveragePooling1D(), dense]).build((None, 3))


def test_an_update_that_overflows_is_reported_by_both_kernels(kernels):
    for size in (3, 1 << 15):                              # the one-thread and the parallel kernel
        w = np.full(size, 3e38, dtype=np.float32)
        optimizer = Adam(learning_rate=1e38)
        with pytest.raises(FloatingPointError, match=rf"Adam step 1 made weights non-finite \({{'w': {size}}}"):
            optimizer.step({"w": w}, {"w": np.full(size, -1.0, dtype=np.float32)})
        assert np.isinf(w).all()
        fine = np.zeros(size, dtype=np.float32)
        optimizer.step({"w": fine}, {"w": np.ones(size, dtype=np.float32)})   # counts nothing when finite


# ---- text: every operation linear in the input's size ---------------------------------------------

ADVERSARIAL = {
    "unclosed tags": "<", "nested opens": "<a", "apostrophes": "'", "word apostrophes": "a'",
    "typographic apostrophes": "\u2019x", "tags": "<b>", "broken tags": "<<>>", "separators": ".,;",
    "mixed": "<a'b'<c", "line breaks": "\r\n", "wide script": "日'本<",
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_tokenizer_time_grows_linearly_on_adversarial_text(name):
    """10x the input may cost about 10x the time (quadratic would be 100x): the best of several
    runs at 20 KB and 200 KB must stay under 30x apart."""
    import time
    from npembed.datasets import text
    unit = ADVERSARIAL[name]

    def best_time(size):
        sample = unit * (size // len(unit))
        times = []
        for _ in range(5):
            started = time.perf_counter()
            text.tokenize(sample)
            times.append(time.perf_counter() - started)
        return min(times)
    small, large = best_time(20_000), best_time(200_000)
    assert large < 30 * max(small, 1e-4), (name, small, large)


def test_a_stray_less_than_sign_no_longer_swallows_the_text_after_it():
    from npembed.datasets import text
    assert text.tokenize("a < b and c <br /> d") == ["a", "b", "and", "c", "d"]
    assert text.tokenize("x <i>y</i> <<z>") == ["x", "y"]

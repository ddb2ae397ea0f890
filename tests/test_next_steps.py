"""The tutorial's "Next steps": Flatten, Dropout, frozen and initialised Embeddings, SGD and RMSprop,
metrics=['acc'], save_weights / load_weights, Keras's Tokenizer, word-vector files, import paths."""
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import npembed
from npembed import Sequential, gradcheck, kernels, pad_sequences
from npembed.wordvectors import files as vectors
from npembed.layers import Dense, Dropout, Embedding, Flatten, GlobalAveragePooling1D
from npembed.optimizers import SGD, RMSprop
from npembed.preprocessing.text import Tokenizer, text_to_word_sequence
from strategies import float_inputs, id_batches, seeds


def built(layer, input_shape, seed=0, dtype="float64"):
    layer.build(input_shape, np.random.default_rng(seed), dtype)
    return layer


def chollet_model(maxlen=5, vocab=12, dim=3, hidden=None, optimizer="rmsprop", dtype="float32", seed=0,
                  embedding=None):
    model = Sequential(seed=seed, dtype=dtype)
    model.add(embedding or Embedding(vocab, dim, input_length=maxlen))
    model.add(Flatten())
    if hidden:
        model.add(Dense(hidden, activation="relu"))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["acc"])
    return model


# ---- Flatten and Dropout: backward against finite differences ------------------------------------

@given(x=float_inputs(ndim=3), seed=seeds)
def test_flatten_backward(x, seed):
    layer = built(Flatten(), (None,) + x.shape[1:])
    assert layer.forward(x).shape == (len(x), x.shape[1] * x.shape[2])
    gradcheck.check_layer(layer, x, rng=np.random.default_rng(seed))


@given(batch=id_batches(), dim=st.integers(1, 3), hidden=st.integers(1, 3), seed=seeds, data=st.data())
def test_embedding_flatten_dense_model_matches_finite_differences(kernels, batch, dim, hidden, seed, data):
    vocab, ids = batch
    y = np.array(data.draw(st.lists(st.integers(0, 1), min_size=len(ids), max_size=len(ids))))
    model = chollet_model(maxlen=ids.shape[1], vocab=vocab, dim=dim, dtype="float64", seed=seed)
    gradcheck.check_model(model, ids, y)


@given(x=float_inputs(ndim=2), rate=st.sampled_from([0.0, 0.25, 0.5, 0.9]), seed=seeds)
def test_dropout_backward_with_its_mask_held_fixed(x, rate, seed):
    layer = Dropout(rate, seed=seed)
    layer.build((None, x.shape[1]), np.random.default_rng(0), "float64")
    upstream = np.random.default_rng(seed).standard_normal(x.shape)

    def f():
        layer.rng = np.random.default_rng(seed)          # the same entries dropped at every call
        return float(np.sum(layer.forward(x, training=True) * upstream))
    f()
    analytic = layer.backward(upstream)
    gradcheck.check_gradients(f, {"input": analytic}, {"input": x})


def test_dropout_is_inverted_and_only_active_in_training():
    layer = Dropout(0.25, seed=1)
    layer.build((None, 4), np.random.default_rng(0), "float64")
    x = np.ones((2000, 4))
    np.testing.assert_array_equal(layer.forward(x), x)                 # inference: identity
    out = layer.forward(x, training=True)
    assert set(np.unique(out)) == {0.0, 1 / 0.75}
    assert abs((out == 0).mean() - 0.25) < 0.02 and abs(out.mean() - 1) < 0.03
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), out)  # a dropped entry passes nothing


def test_dropout_in_a_model_is_reproducible_and_inactive_in_predict(rng):
    x, y = rng.integers(0, 12, (40, 5)), rng.integers(0, 2, 40)
    runs = []
    for _ in range(2):
        model = Sequential([Embedding(12, 3, input_length=5), Flatten(), Dropout(0.5), Dense(1, activation="sigmoid")],
                           seed=4)
        model.compile(optimizer="rmsprop", metrics=["acc"])
        model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        runs.append(model.get_weights())
        np.testing.assert_array_equal(model.predict(x), model.predict(x))
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, float("nan"), "0.5"])
def test_dropout_refuses_bad_rates(rate):
    with pytest.raises((ValueError, TypeError), match="rate"):
        Dropout(rate)


# ---- frozen and initialised embeddings ----------------------------------------------------------

@pytest.mark.parametrize("how", ["weights", "initializer", "set_weights"])
def test_an_initialised_frozen_embedding_keeps_its_matrix(how, rng):
    matrix = rng.normal(size=(12, 3))
    if how == "weights":
        embedding = Embedding(12, 3, input_length=5, weights=[matrix], trainable=False)
    elif how == "initializer":
        embedding = Embedding(12, 3, input_length=5, embeddings_initializer=matrix, trainable=False)
    else:
        embedding = Embedding(12, 3, input_length=5)
    model = chollet_model(embedding=embedding, hidden=4)
    if how == "set_weights":                       # Chollet's order: after add, before compile
        model.layers[0].set_weights([matrix])
        model.layers[0].trainable = False
    lines = []
    model.summary(print_fn=lines.append)
    assert "Trainable params: 69" in lines[0] and "Non-trainable params: 36" in lines[0]
    first = model.get_weights()[0]
    np.testing.assert_array_equal(first, matrix.astype(np.float32))
    x, y = rng.integers(0, 12, (30, 5)), rng.integers(0, 2, 30)
    dense_before = model.get_weights()[1].copy()
    model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    np.testing.assert_array_equal(model.get_weights()[0], matrix.astype(np.float32))   # frozen
    assert not np.array_equal(model.get_weights()[1], dense_before)                      # the rest trains
    model.layers[0].trainable = True                                                     # fine-tuning
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert not np.array_equal(model.get_weights()[0], matrix.astype(np.float32))


def test_a_frozen_embedding_in_the_fused_tutorial_model_stays_put(rng):
    matrix = rng.normal(size=(20, 4))
    model = Sequential([Embedding(20, 4, weights=[matrix], trainable=False), GlobalAveragePooling1D(),
                        Dense(4, activation="relu"), Dense(1, activation="sigmoid")], seed=0)
    model.compile(metrics=["accuracy"])
    model.fit(rng.integers(0, 20, (30, 6)), rng.integers(0, 2, 30), epochs=2, batch_size=8, verbose=0)
    np.testing.assert_array_equal(model.get_weights()[0], matrix.astype(np.float32))


@pytest.mark.parametrize("kwargs, message", [
    ({"weights": [np.ones((3, 3))]}, r"shape \(12, 3\)"),
    ({"weights": np.ones((12, 3))}, "list of one"),
    ({"weights": [np.ones((12, 3))], "embeddings_initializer": np.ones((12, 3))}, "once"),
    ({"embeddings_initializer": "glorot"}, "'uniform' or a matrix"),
    ({"weights": [np.full((12, 3), np.nan)]}, "finite"),
    ({"input_length": 0}, "input_length"),
])
def test_embedding_refuses_bad_starting_matrices(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Embedding(12, 3, **kwargs)


def test_input_length_fixes_the_steps_and_builds_the_model(capsys, rng):
    model = Sequential([Embedding(10000, 16, input_length=500), GlobalAveragePooling1D(),
                        Dense(16, activation="relu"), Dense(1, activation="sigmoid")])
    assert [w.shape for w in model.get_weights()] == [(10000, 16), (16, 16), (16,), (16, 1), (1,)]
    model.summary()
    assert "(None, 500, 16)" in capsys.readouterr().out
    model.compile()
    with pytest.raises(ValueError, match="input_length=500 steps"):
        model.predict(rng.integers(0, 10, (2, 20)))


def test_flatten_after_an_embedding_without_input_length_says_what_to_do():
    with pytest.raises(ValueError, match="input_length"):
        Sequential([Embedding(10, 3), Flatten(), Dense(1)]).build()


# ---- optimizers: Keras's golden steps, kernels equal to references --------------------------------

def one_step(optimizer, variables, gradient):
    w = np.array(variables, dtype=np.float32)
    optimizer.step({"w": w}, {"w": np.array(gradient, dtype=np.float32)})
    return w


def test_golden_single_steps_as_keras_documents_them():
    # keras/src/optimizers/*_test.py test_single_step: variables [1, 2, 3, 4], gradient [1, 6, 7, 2]
    np.testing.assert_allclose(one_step(SGD(learning_rate=0.5), [1, 2, 3, 4], [1, 6, 7, 2]),
                               [0.5, -1.0, -0.5, 3.0], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(one_step(RMSprop(learning_rate=0.5), [1, 2, 3, 4], [1, 6, 7, 2]),
                               [-0.5811, 0.4189, 1.4189, 2.4189], rtol=1e-4, atol=1e-4)


def test_rmsprop_centered_golden_trajectory():
    # keras/src/optimizers/rmsprop_test.py test_correctness_with_golden
    optimizer, x = RMSprop(centered=True), np.ones(10, dtype=np.float32)
    optimizer.step({"x": x}, {"x": np.full(10, 0.01, dtype=np.float32)})
    for expected in (0.9967, 0.9933, 0.9908, 0.9885, 0.9864):
        np.testing.assert_allclose(x, expected, rtol=5e-4, atol=5e-4)
        optimizer.step({"x": x}, {"x": np.arange(0.1, 1.1, 0.1, dtype=np.float32)[:10]})


def test_momentum_formulas_step_by_step():
    lr, mu, g = 0.1, 0.9, np.array([1.0, -2.0])
    for nesterov in (False, True):
        optimizer, w, velocity = SGD(lr, momentum=mu, nesterov=nesterov), np.zeros(2), np.zeros(2)
        expected = np.zeros(2)
        for _ in range(3):
            optimizer.step({"w": w}, {"w": g})
            velocity = mu * velocity - lr * g
            expected = expected + (mu * velocity - lr * g if nesterov else velocity)
            np.testing.assert_allclose(w, expected, rtol=1e-12)
    optimizer, w = RMSprop(0.01, rho=0.8, momentum=0.5), np.zeros(2)
    velocity = moment = np.zeros(2)
    expected = np.zeros(2)
    for _ in range(3):
        optimizer.step({"w": w}, {"w": g})
        velocity = 0.8 * velocity + 0.2 * g ** 2
        moment = 0.5 * moment + 0.01 * g / np.sqrt(velocity + 1e-7)
        expected = expected - moment
        np.testing.assert_allclose(w, expected, rtol=1e-12)


optimizers = st.sampled_from([
    lambda: SGD(0.1), lambda: SGD(0.1, momentum=0.9), lambda: SGD(0.05, momentum=0.5, nesterov=True),
    lambda: RMSprop(0.01), lambda: RMSprop(0.01, momentum=0.9), lambda: RMSprop(0.01, centered=True),
    lambda: RMSprop(0.01, rho=0.5, momentum=0.3, centered=True)])


@given(make=optimizers, size=st.sampled_from([7, kernels.PARALLEL_ADAM_SIZE + 3]),
       dtype=st.sampled_from([np.float32, np.float64]), seed=seeds)
def test_numba_optimizer_kernels_equal_their_references(make, size, dtype, seed):
    rng = np.random.default_rng(seed)
    start, grads = rng.normal(size=(3, size)).astype(dtype), rng.normal(size=(3, size)).astype(dtype)
    results = {}
    for name in ("numba", "numpy"):
        npembed.set_kernels(name)
        try:
            optimizer, w = make(), start[0].copy()
            for g in grads:
                optimizer.step({"w": w}, {"w": g})
            results[name] = w
        finally:
            npembed.set_kernels("numba")
    tolerance = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(results["numba"], results["numpy"], **tolerance)


@pytest.mark.parametrize("make, argument", [
    (lambda: SGD(momentum=-0.1), "momentum"), (lambda: SGD(momentum=1.5), "momentum"),
    (lambda: SGD(learning_rate=0), "learning_rate"), (lambda: SGD(nesterov="yes"), "nesterov"),
    (lambda: RMSprop(rho=1.1), "rho"), (lambda: RMSprop(epsilon=0), "epsilon"),
    (lambda: RMSprop(momentum=float("nan")), "momentum"), (lambda: RMSprop(centered=1), "centered"),
])
def test_optimizers_refuse_bad_arguments(make, argument):
    with pytest.raises((ValueError, TypeError), match=argument):
        make()


def test_optimizer_names_and_state_round_trip(tmp_path, rng):
    x, y = rng.integers(0, 12, (30, 5)), rng.integers(0, 2, 30)
    for optimizer in ("sgd", "rmsprop", SGD(0.05, momentum=0.9), RMSprop(momentum=0.5, centered=True)):
        model = chollet_model(optimizer=optimizer, hidden=3)
        model.layers[0].trainable = False                    # state only for the trainable weights
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)
        model.save(tmp_path / "m.npz")
        loaded = npembed.load_model(tmp_path / "m.npz")
        assert type(loaded.optimizer) is type(model.optimizer)
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)
        loaded.fit(x, y, epochs=1, batch_size=8, verbose=0)
        for a, b in zip(model.get_weights(), loaded.get_weights()):
            np.testing.assert_array_equal(a, b)


# ---- Keras conveniences -----------------------------------------------------------------------

def test_acc_alias_names_the_history_keys(rng):
    history = chollet_model().fit(rng.integers(0, 12, (20, 5)), rng.integers(0, 2, 20), epochs=2,
                                  batch_size=4, validation_split=0.2, verbose=0)
    assert set(history.history) == {"loss", "acc", "val_loss", "val_acc"}


def test_save_weights_and_load_weights(tmp_path, rng):
    model, other = chollet_model(seed=1, hidden=3), chollet_model(seed=2, hidden=3)
    model.fit(rng.integers(0, 12, (20, 5)), rng.integers(0, 2, 20), epochs=1, verbose=0)
    model.save_weights(tmp_path / "pre_trained_glove_model.h5")          # an .npz, whatever the name
    other.load_weights(tmp_path / "pre_trained_glove_model.h5")
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    other_names = Sequential([Embedding(12, 3, input_length=5, name="other"), Flatten(), Dense(1)])
    with pytest.raises(ValueError, match="no weights named"):
        other_names.load_weights(tmp_path / "pre_trained_glove_model.h5")
    with pytest.raises(ValueError, match="shape"):
        chollet_model(dim=4, hidden=3).load_weights(tmp_path / "pre_trained_glove_model.h5")


def test_pad_sequences_pads_string_tokens_with_dtype_object():
    padded = pad_sequences([["the", "film"], ["a"]], maxlen=3, dtype=object, value="<pad>")
    assert padded.tolist() == [["<pad>", "the", "film"], ["<pad>", "<pad>", "a"]]
    with pytest.raises(ValueError, match="dtype=object"):
        pad_sequences([["the"]])


def test_import_npembed_reaches_every_module_lazily():
    code = ("import sys, npembed; assert 'matplotlib' not in sys.modules; "
            "npembed.projector.export_projector; npembed.datasets.imdb.load_data; npembed.analysis.word_sentiment; "
            "npembed.plotting.plot_history; npembed.text.tokenize; npembed.vectors.load_word_vectors; "
            "npembed.word2vec.Word2Vec; npembed.evaluation.spearman; npembed.explorer; npembed.pretrained; "
            "npembed.preprocessing.sequence.pad_sequences; npembed.preprocessing.text.Tokenizer; print('ok')")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "ok\n"


# ---- Keras's Tokenizer --------------------------------------------------------------------------

def test_tokenizer_follows_keras():
    texts = ["The film, the PLOT!", "A film; a-plot?", "the end"]
    assert text_to_word_sequence(texts[1]) == ["a", "film", "a", "plot"]
    tokenizer = Tokenizer()
    tokenizer.fit_on_texts(texts)
    # counts: the 3, film 2, plot 2, a 2, end 1; ties keep their order of first appearance
    assert tokenizer.word_index == {"the": 1, "film": 2, "plot": 3, "a": 4, "end": 5}
    assert tokenizer.document_count == 3 and tokenizer.word_docs["the"] == 2
    assert tokenizer.texts_to_sequences(["the unseen plot"]) == [[1, 3]]
    limited = Tokenizer(num_words=3, oov_token="<OOV>")
    limited.fit_on_texts(texts)
    assert limited.word_index["<OOV>"] == 1 and limited.word_index["the"] == 2
    assert limited.texts_to_sequences(["the film plot unseen"]) == [[2, 1, 1, 1]]
    assert limited.sequences_to_texts([[2, 1, 7]]) == ["the <OOV> <OOV>"]
    plain = Tokenizer(num_words=3)
    plain.fit_on_texts(texts)
    assert plain.texts_to_sequences(["the film plot"]) == [[1, 2]]
    assert plain.sequences_to_texts([[1, 2, 3]]) == ["the film"]
    chars = Tokenizer(char_level=True)
    chars.fit_on_texts(["aab"])
    assert chars.word_index == {"a": 1, "b": 2}
    with pytest.raises(TypeError, match="list of strings"):
        tokenizer.fit_on_texts("one string")


# ---- word-vector files ---------------------------------------------------------------------------

def test_word_vectors_round_trip_and_fill_the_matrix(tmp_path):
    words, table = ["good", "bad", "plot"], np.array([[1.0, 0.5], [-1.0, 0.25], [0.0, 1e-9]])
    vectors.save_word_vectors(tmp_path / "w2v.txt", words, table)
    assert (tmp_path / "w2v.txt").read_text().splitlines()[0] == "3 2"
    read_words, read = vectors.load_word_vectors(tmp_path / "w2v.txt")
    assert read_words == words and np.allclose(read, table)
    (tmp_path / "glove.txt").write_text("good 1 0.5\nbad -1 0.25 \n")         # no header, trailing space
    assert vectors.load_word_vectors(tmp_path / "glove.txt")[0] == ["good", "bad"]
    matrix, found = vectors.embedding_matrix({"bad": 1, "good": 2, "unknown": 3, "rare": 9}, words, table,
                                             num_words=5)
    assert found == 2 and matrix.shape == (5, 2)
    np.testing.assert_array_equal(matrix[[1, 2]], table[[1, 0]].astype(np.float32))
    assert not matrix[[0, 3, 4]].any()


@pytest.mark.parametrize("content, message", [
    ("a 1 2\nb 1\n", "line 2: 1 numbers, but the first vector has 2"),
    ("a 1 x\n", "line 1: not all of its values are numbers"),
    ("a 1 nan\n", "line 1: a value is not finite"),
    ("3 2\na 1 2\n", "header says 3 vectors of 2 numbers, but it holds 1 of 2"),
    ("", "holds no word vectors"),
    ("a\n", "line 1: a word with no numbers"),
])
def test_malformed_word_vector_files_are_refused_with_the_line(tmp_path, content, message):
    (tmp_path / "v.txt").write_text(content)
    with pytest.raises(ValueError, match=message):
        vectors.load_word_vectors(tmp_path / "v.txt")


def test_words_that_cannot_be_written_are_refused(tmp_path):
    with pytest.raises(ValueError, match="without white space"):
        vectors.save_word_vectors(tmp_path / "v.txt", ["two words"], np.ones((1, 2)))
    (tmp_path / "latin.txt").write_bytes(b"caf\xe9 1 2\n")
    with pytest.raises(ValueError, match="not UTF-8"):
        vectors.load_word_vectors(tmp_path / "latin.txt")

"""Hostile input for every public entry point (run by test_fuzz.py in a subprocess, so that a crash of
the interpreter, e.g. a kernel reading out of bounds, fails a test instead of killing the run).

Each call must either return a result of the right shape or raise ValueError, TypeError, IndexError
or KeyError. Distinct error messages (numbers masked) are appended to $NPEMBED_FUZZ_LOG.
"""
import os
import re

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import npembed
from npembed import Sequential, pad_sequences
from npembed.wordvectors import projector
from npembed.layers import Dense, Embedding, GlobalAveragePooling1D

ALLOWED = (ValueError, TypeError, IndexError, KeyError)
FUZZ = settings(max_examples=int(os.environ.get("NPEMBED_FUZZ_EXAMPLES", "300")), deadline=None,
                suppress_health_check=list(HealthCheck))
VOCAB = 12

dtypes = st.sampled_from([np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
                          np.uint64, np.float16, np.float32, np.float64, np.bool_])
shapes = st.lists(st.integers(0, 5), min_size=0, max_size=3).map(tuple)


@st.composite
def hostile_arrays(draw):
    """Arrays of any dtype and shape, with extreme values, maybe non-contiguous or read-only."""
    dtype = draw(dtypes)
    shape = draw(shapes)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        elements = st.one_of(st.integers(0, VOCAB + 2), st.integers(int(info.min), int(info.max)))
    elif dtype == np.bool_:
        elements = st.booleans()
    else:
        elements = st.floats(width=np.finfo(dtype).bits, allow_nan=True, allow_infinity=True)
    array = draw(arrays(dtype, shape, elements=elements))
    if draw(st.booleans()) and array.ndim >= 1 and array.shape[0] > 1:
        array = array[::2]                                          # non-contiguous
    if draw(st.booleans()):
        array.setflags(write=False)
    return array


hostile = st.one_of(
    hostile_arrays(),
    st.lists(st.lists(st.integers(-3, VOCAB + 3), max_size=4), max_size=4),   # maybe ragged
    st.sampled_from([None, "ids", 3, 2.5, [], [[]], {"a": 1}, np.array(["x", "y"]),
                     np.array([[1, 2]], dtype=object), np.empty((2, 0), dtype=np.int64)]),
)


def log(error):
    path = os.environ.get("NPEMBED_FUZZ_LOG")
    if path:
        message = re.sub(r"\d+(\.\d+)?", "N", f"{type(error).__name__}: {error}")[:160]
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(message.replace("\n", " ") + "\n")


def call(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except ALLOWED as error:
        log(error)
        return None


def model(mask_zero=False):
    m = Sequential([Embedding(VOCAB, 3, mask_zero=mask_zero), GlobalAveragePooling1D(),
                    Dense(4, activation="relu"), Dense(1, activation="sigmoid")], seed=0)
    m.compile(metrics=["accuracy"])
    return m


@FUZZ
@given(x=hostile, y=hostile, mask_zero=st.booleans(), kernels=st.sampled_from(["numba", "numpy"]))
def test_sequential_entry_points(x, y, mask_zero, kernels):
    npembed.set_kernels(kernels)
    m = model(mask_zero)
    out = call(m.predict, x)
    if out is not None:
        assert out.shape == (len(np.asarray(x)), 1) and np.all((out >= 0) & (out <= 1))
    result = call(m.evaluate, x, y)
    if result is not None:
        assert len(result) == 2 and np.isfinite(result[0])
    call(m.train_on_batch, x, y)
    call(m.fit, x, y, epochs=1, batch_size=2, verbose=0)
    if m.built:
        assert all(np.isfinite(w).all() for w in m.get_weights())


@FUZZ
@given(x=hostile, mask=hostile)
def test_layers_called_directly(x, mask):
    rng = np.random.default_rng(0)
    embedding = Embedding(VOCAB, 2)
    embedding.build((None, None), rng)
    pooling, dense = GlobalAveragePooling1D(), Dense(2)
    pooling.build((None, None, 2), rng)
    dense.build((None, 2), rng)
    for layer in (embedding, pooling, dense):
        call(layer, x)
        call(layer, x, mask)


@FUZZ
@given(sequences=hostile, maxlen=st.one_of(st.none(), st.integers(-2, 6)),
       padding=st.sampled_from(["pre", "post", "mid"]), value=st.sampled_from([0, -1, 2.5, "x"]))
def test_pad_sequences(sequences, maxlen, padding, value):
    out = call(pad_sequences, sequences, maxlen=maxlen, padding=padding, value=value)
    if out is not None:
        assert out.ndim >= 2 and out.shape[0] == len(sequences)


@FUZZ
@given(vectors=hostile, words=st.lists(st.text(max_size=3), max_size=5), query=st.text(max_size=3),
       topn=st.integers(-1, 4))
def test_projector_functions(tmp_path_factory, vectors, words, query, topn):
    out = call(projector.export_projector, vectors, words, tmp_path_factory.mktemp("p"))
    if out is not None:
        loaded, loaded_words = projector.load_projector(out)
        assert loaded_words == words and len(loaded) == len(words)
        call(projector.nearest_neighbors, loaded, loaded_words, query, topn=topn)


@st.composite
def hostile_scalars(draw):
    return draw(st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                          st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=3),
                          st.just([1]), st.just(np.int64(3)), st.just(np.float32(0.5))))


@FUZZ
@given(args=st.fixed_dictionaries({}, optional={
    "num_words": hostile_scalars(), "skip_top": hostile_scalars(), "maxlen": hostile_scalars(),
    "seed": hostile_scalars(), "start_char": hostile_scalars(), "oov_char": hostile_scalars(),
    "index_from": hostile_scalars()}))
def test_load_data_parameters(tmp_path_factory, args):
    from npembed.datasets import imdb
    root = tmp_path_factory.getbasetemp() / "fuzz-tree"
    if not root.exists():
        for split in ("train", "test"):
            for label, text in (("pos", "a great film"), ("neg", "an awful film")):
                (root / "aclImdb" / split / label).mkdir(parents=True)
                (root / "aclImdb" / split / label / "0_5.txt").write_text(text)
    os.environ["NPEMBED_CACHE"] = str(root / "cache")
    result = call(imdb.load_data, root, **args)
    if result is not None:
        (x_train, y_train), (x_test, y_test) = result
        assert len(x_train) == len(y_train) and len(x_test) == len(y_test)
        assert all(np.asarray(x).dtype == np.int32 for x in list(x_train) + list(x_test))


@FUZZ
@given(lr=hostile_scalars(), beta_1=hostile_scalars(), patience=hostile_scalars(), every=hostile_scalars(),
       vectors=hostile_arrays(), components=hostile_scalars())
def test_optimizer_callbacks_and_analysis_arguments(lr, beta_1, patience, every, vectors, components):
    from npembed.study import analysis
    from npembed.callbacks import EarlyStopping, EmbeddingSnapshots
    from npembed.optimizers import Adam
    call(Adam, learning_rate=lr)
    call(Adam, beta_1=beta_1)
    call(EarlyStopping, patience=patience)
    call(EmbeddingSnapshots, every=every)
    out = call(analysis.pca, vectors, 2 if not isinstance(components, int) or isinstance(components, bool)
               else components)
    if out is not None:
        assert out[0].shape[0] == np.asarray(vectors).shape[0]

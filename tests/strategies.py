"""Hypothesis strategies shared by the tests: small shapes, small vocabularies (so ids repeat)."""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

finite = st.floats(-3, 3, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def id_batches(draw, max_vocab=6, max_batch=4, max_steps=7, min_vocab=2):
    """(vocab, ids) with ids (batch, steps) in [0, vocab); rows may be all padding."""
    vocab = draw(st.integers(min_vocab, max_vocab))
    batch = draw(st.integers(1, max_batch))
    steps = draw(st.integers(1, max_steps))
    ids = draw(arrays(np.int64, (batch, steps), elements=st.integers(0, vocab - 1)))
    return vocab, ids


@st.composite
def float_inputs(draw, max_batch=4, max_steps=5, max_features=4, ndim=2, away_from_zero=False):
    """Float64 arrays of shape (batch, features) or (batch, steps, features)."""
    batch = draw(st.integers(1, max_batch))
    features = draw(st.integers(1, max_features))
    shape = (batch, features) if ndim == 2 else (batch, draw(st.integers(1, max_steps)), features)
    values = draw(arrays(np.float64, shape, elements=finite))
    return values


seeds = st.integers(0, 2**32 - 1)

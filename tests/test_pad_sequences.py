"""pad_sequences against Keras's documented behaviour."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npembed import pad_sequences

SEQUENCES = [[1, 2, 3, 4, 5], [6, 7], [], [8, 9, 10]]


@pytest.mark.parametrize("padding, truncating, expected", [
    ("pre", "pre", [[2, 3, 4, 5], [0, 0, 6, 7], [0, 0, 0, 0], [0, 8, 9, 10]]),
    ("post", "pre", [[2, 3, 4, 5], [6, 7, 0, 0], [0, 0, 0, 0], [8, 9, 10, 0]]),
    ("pre", "post", [[1, 2, 3, 4], [0, 0, 6, 7], [0, 0, 0, 0], [0, 8, 9, 10]]),
    ("post", "post", [[1, 2, 3, 4], [6, 7, 0, 0], [0, 0, 0, 0], [8, 9, 10, 0]]),
])
def test_every_padding_truncating_combination(padding, truncating, expected):
    out = pad_sequences(SEQUENCES, maxlen=4, padding=padding, truncating=truncating)
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == np.int32


def test_maxlen_none_pads_to_the_longest_and_value_dtype():
    out = pad_sequences(SEQUENCES, value=-1, dtype="int64")
    assert out.shape == (4, 5) and out.dtype == np.int64
    np.testing.assert_array_equal(out[1], [-1, -1, -1, 6, 7])
    np.testing.assert_array_equal(out[2], [-1] * 5)


def test_empty_input_and_arrays_of_arrays():
    assert pad_sequences([]).shape == (0, 0)
    assert pad_sequences([], maxlen=3).shape == (0, 3)
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = np.array([1, 2, 3]), np.array([4])
    np.testing.assert_array_equal(pad_sequences(ragged, maxlen=2, padding="post"), [[2, 3], [4, 0]])


def test_vector_items_keep_their_sample_shape():
    out = pad_sequences([[[1, 2]], [[3, 4], [5, 6]]], dtype="float32")
    assert out.shape == (2, 2, 2)
    np.testing.assert_array_equal(out[0], [[0, 0], [1, 2]])


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(padding="middle"), ValueError, "padding"), (dict(truncating="both"), ValueError, "truncating"),
    (dict(maxlen=0), ValueError, "maxlen"), (dict(maxlen=-3), ValueError, "maxlen"),
    (dict(maxlen=2.5), TypeError, "maxlen"),
])
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        pad_sequences(SEQUENCES, **kwargs)


def test_bad_sequences():
    with pytest.raises(TypeError, match="list of sequences"):
        pad_sequences("abc")
    with pytest.raises(ValueError, match="sequences\\[1\\]"):
        pad_sequences([[1], 5])
    with pytest.raises(ValueError, match="sequences\\[1\\]"):
        pad_sequences([[[1, 2]], [[1, 2, 3]]])


@given(st.lists(st.lists(st.integers(1, 99), max_size=8), min_size=1, max_size=6),
       st.integers(1, 10), st.sampled_from(["pre", "post"]), st.sampled_from(["pre", "post"]))
def test_property_rows_hold_the_kept_items_in_order(sequences, maxlen, padding, truncating):
    out = pad_sequences(sequences, maxlen=maxlen, padding=padding, truncating=truncating)
    assert out.shape == (len(sequences), maxlen)
    for row, sequence in zip(out, sequences):
        kept = sequence[-maxlen:] if truncating == "pre" else sequence[:maxlen]
        assert list(row[row != 0]) == kept
        if padding == "post":
            assert list(row[:len(kept)]) == kept
        else:
            assert list(row[maxlen - len(kept):]) == kept

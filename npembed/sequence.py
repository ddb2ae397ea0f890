"""pad_sequences: ragged id sequences -> one (samples, maxlen) array, with Keras's semantics."""
import numbers

import numpy as np

from . import _checks


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0):
    """Pad (and truncate) sequences to a common length, exactly as keras.utils.pad_sequences.

    sequences: list (or object array) of sequences of numbers, or a 2-D array; with dtype=object,
    sequences of strings too (e.g. tokens, value="<pad>").
    maxlen: final length; None pads to the longest sequence.
    truncating: "pre" keeps the last maxlen items (s[-maxlen:]), "post" keeps the first.
    padding: "pre" puts `value` before each sequence (right-aligned), "post" after it.
    Returns an array of shape (len(sequences), maxlen) (plus a trailing sample shape if the items
    are themselves vectors). Empty sequences become all `value`.

    >>> pad_sequences([[1, 2, 3], [4]], maxlen=2, padding="post")
    array([[2, 3],
           [4, 0]], dtype=int32)
    """
    for name, mode in (("padding", padding), ("truncating", truncating)):
        if mode not in ("pre", "post"):
            raise ValueError(f'{name} must be "pre" or "post", got {mode!r}')
    if maxlen is not None:
        maxlen = _checks.positive_int("maxlen", maxlen)
    if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__len__") or (
            isinstance(sequences, np.ndarray) and sequences.ndim == 0):
        raise TypeError(f"sequences must be a list of sequences, got {type(sequences).__name__}")
    dtype = np.dtype(dtype)
    textual = dtype.kind in "OUS"          # dtype=object (or str) pads string tokens, as Keras allows
    if isinstance(value, str) and not textual:
        raise ValueError(f"value {value!r} is a string, which does not fit dtype {dtype} "
                         "(pad string tokens with dtype=object)")
    if not isinstance(value, (str, numbers.Number)):
        raise TypeError(f"value must be a number, got {value!r}")
    _check_fits("value", np.asarray(value), dtype)

    arrays = []
    for i, sequence in enumerate(sequences):
        if isinstance(sequence, (str, bytes)) or not hasattr(sequence, "__len__"):
            raise ValueError(f"sequences[{i}] is not a sequence: {sequence!r}")
        array = np.asarray(sequence)
        if array.dtype == object and not textual:
            raise ValueError(f"sequences[{i}] is ragged or holds non-numbers")
        if not textual and array.size and array.dtype.kind not in "biuf":
            raise ValueError(f"sequences[{i}] holds {array.dtype} values, not numbers "
                             "(pad string tokens with dtype=object)")
        _check_fits(f"sequences[{i}]", array, dtype)
        arrays.append(array.reshape(0) if len(array) == 0 else array)
    sample_shape = next((a.shape[1:] for a in arrays if len(a)), ())
    if maxlen is None:
        maxlen = max((len(a) for a in arrays), default=0)
    _checks.allocation("pad_sequences's output (sequences, maxlen)", (len(arrays), maxlen) + sample_shape, dtype)

    out = np.full((len(arrays), maxlen) + sample_shape, value, dtype=dtype)
    for i, array in enumerate(arrays):
        if not len(array):
            continue
        if array.shape[1:] != sample_shape:
            raise ValueError(f"sequences[{i}] has items of shape {array.shape[1:]}, "
                             f"but the first non-empty sequence has {sample_shape}")
        kept = array[-maxlen:] if truncating == "pre" else array[:maxlen]
        if padding == "post":
            out[i, :len(kept)] = kept
        else:
            out[i, maxlen - len(kept):] = kept
    return out


def _check_fits(name, array, dtype):
    """ValueError unless every value of array converts to dtype exactly (no wrap-around, no truncation)."""
    if array.size == 0 or dtype.kind not in "iuf" or array.dtype.kind not in "biuf":
        return
    if dtype.kind in "iu":
        if array.dtype.kind == "f":
            bad = ~np.isfinite(array) | (array != np.trunc(array))
            if bad.any():
                raise ValueError(f"{name} holds {array[bad].flat[0].item()!r}, which is not an integer: it "
                                 f"cannot become {dtype} without being truncated")
        low, high, info = int(array.min()), int(array.max()), np.iinfo(dtype)
        if low < info.min or high > info.max:
            raise ValueError(f"{name} holds {low if low < info.min else high}, outside the range of "
                             f"dtype {dtype} [{info.min}, {info.max}]; it would wrap around")
    elif array.dtype.kind in "iuf" and array.dtype.itemsize > dtype.itemsize:
        finite = array[np.isfinite(array)] if array.dtype.kind == "f" else array
        if finite.size and float(np.abs(finite).max()) > float(np.finfo(dtype).max):
            raise ValueError(f"{name} holds values beyond the largest {dtype} ({np.finfo(dtype).max:g})")

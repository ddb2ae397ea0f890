"""Checks at the boundary: every public entry point validates here, before any kernel runs."""
import numbers
import os
import stat

import numpy as np

MAX_ID = 2**31 - 1          # ids are int32 everywhere: in the kernels, the packed batches and IMDB


class StateError(ValueError, RuntimeError):
    """A call made in the wrong state (before build or compile, or after build): a ValueError, and
    a RuntimeError as npembed raised before."""


def memory_bytes():
    """This machine's physical memory in bytes (a bound for any one allocation an argument asks for)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 40


def allocation(name, shape, dtype, copies=1):
    """Refuse, naming the argument, an array of shape and dtype (times copies) larger than this
    machine's memory: a clear ValueError instead of a MemoryError or an endless swap."""
    nbytes = float(np.prod([float(n) for n in shape])) * np.dtype(dtype).itemsize * copies
    limit = memory_bytes()
    if nbytes > limit:
        raise ValueError(f"{name} asks for {tuple(shape)} {np.dtype(dtype)}"
                         f"{f' ({copies} copies)' if copies > 1 else ''}: {nbytes / 2**30:,.1f} GiB, "
                         f"more than this machine's {limit / 2**30:,.1f} GiB of memory")


def positive_int(name, value, minimum=1, maximum=None):
    """An int in [minimum, maximum] (bools refused), or a ValueError/TypeError naming the argument."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value!r}")
    return int(value)


def paired_vectors(vectors, words):
    """(vectors as finite float64 (n, dim), words as a list of n), or ValueError: row i names vector i."""
    vectors = float_array("vectors", vectors, np.float64, ndim=2)
    words = list(words)
    if len(words) != len(vectors):
        raise ValueError(f"{len(vectors)} vectors but {len(words)} words: they must pair up row by row")
    return vectors, words


def unit_rows(vectors):
    """Each row divided by its L2 norm (rows of zeros stay zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def regular_file(path):
    """os.stat of path when it is a regular file; OSError naming it otherwise (a device or a pipe
    would be read forever or block). FileNotFoundError when it does not exist."""
    status = os.stat(path)
    if not stat.S_ISREG(status.st_mode):
        raise OSError(f"{path} is not a regular file (a folder, device or pipe?)")
    return status


def shape(name, value):
    """A shape: a tuple of sizes, each None (unknown) or an int >= 1."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be a tuple such as (None, 500), got {value!r}")
    value = tuple(value)
    for size in value:
        if size is not None:
            positive_int(f"each size in {name} {value}", size)
    return value


def finite_float(name, value, low=None, high=None, low_open=False, high_open=False):
    """A finite real number inside the given bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value!r}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {value!r}")
    return value


def as_array(name, value):
    """np.asarray with a clear error for ragged lists and objects."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{name} must be a rectangular array; could not convert it: {error}") from None
    if array.dtype == object:
        raise TypeError(f"{name} must be numeric, got an array of Python objects "
                        "(ragged sequences? pad them with npembed.pad_sequences)")
    return array


def ids_array(name, value, input_dim, ndim=2):
    """Integer ids of shape (batch, steps) in [0, input_dim), returned C-contiguous int32."""
    ids = as_array(name, value)
    if ids.dtype == bool or not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"{name} must hold integer ids, got dtype {ids.dtype}")
    if ids.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions (batch, steps), got shape {ids.shape}")
    if ids.size == 0:
        raise ValueError(f"{name} is empty (shape {ids.shape}); need at least one sample and one step")
    low, high = ids.min(), ids.max()
    if low < 0 or high >= input_dim:
        bad = low if low < 0 else high
        where = tuple(int(i) for i in np.argwhere(ids == bad)[0])
        raise IndexError(f"{name} must lie in [0, {input_dim}) (input_dim of the Embedding), "
                         f"got {int(bad)} at index {where}")
    return np.ascontiguousarray(ids, dtype=np.int32)           # input_dim <= MAX_ID + 1


def float_array(name, value, dtype, ndim=None):
    """A finite float array of the given dtype (and ndim), C-contiguous."""
    array = as_array(name, value)
    if array.dtype == bool or not (np.issubdtype(array.dtype, np.floating)
                                   or np.issubdtype(array.dtype, np.integer)):
        raise TypeError(f"{name} must be numeric, got dtype {array.dtype}")
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape})")
    array = np.ascontiguousarray(array, dtype=dtype)
    if not np.all(np.isfinite(array)):
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise ValueError(f"{name} must be finite, got {array[where].item()} at index {where}")
    return array


def binary_labels(name, value, n, dtype):
    """Labels 0/1 of length n, returned as (n, 1) float of dtype."""
    labels = as_array(name, value)
    if labels.dtype != bool and not (np.issubdtype(labels.dtype, np.integer)
                                     or np.issubdtype(labels.dtype, np.floating)):
        raise TypeError(f"{name} must be numeric 0/1 labels, got dtype {labels.dtype}")
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise ValueError(f"{name} must have shape (n,) or (n, 1), got {labels.shape}")
    if labels.shape[0] != n:
        raise ValueError(f"x and {name} must have the same length, got {n} and {labels.shape[0]}")
    bad = ~((labels == 0) | (labels == 1))
    if np.any(bad):
        index = int(np.argmax(bad))
        raise ValueError(f"{name} must be 0 or 1 (binary labels), got {labels[index].item()!r} at index {index}")
    return np.ascontiguousarray(labels, dtype=dtype).reshape(-1, 1)

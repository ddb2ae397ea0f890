"""The switch between Numba and NumPy, and the dense kernels: each Numba kernel beside its NumPy reference.

``set_kernels("numpy")`` (or the environment variable ``NPEMBED_KERNELS=numpy`` before import) makes
the whole library run the plain NumPy references, and makes ``Sequential`` run the layers exactly as
the student declared them; "numba" (the default) runs the kernels, and the fused Embedding + mean of
npembed.fused. The tests hold the two equal.

Here: the Embedding's scatter-add and the Adam update. The packed-ids kernels of the fused
Embedding + mean live in npembed.bags. Layers and the optimizer call the dispatch functions at the
bottom of each file and never know which implementation ran.

Kernels trust their inputs: ids in range, C-contiguous arrays, matching shapes and dtypes. The public
layers and ``Sequential`` check all of that before calling anything here.
"""
import os

import numba
import numpy as np

_VALID = ("numba", "numpy")
_kernels = os.environ.get("NPEMBED_KERNELS", "numba").strip().lower() or "numba"
if _kernels not in _VALID:
    raise ImportError(f"NPEMBED_KERNELS must be 'numba' or 'numpy', got {_kernels!r}")


def set_kernels(name):
    """Choose the implementation of every hot loop: "numba" (default) or "numpy" (the references)."""
    global _kernels
    if name not in _VALID:
        raise ValueError(f"kernels must be 'numba' or 'numpy', got {name!r}")
    _kernels = name


def get_kernels():
    """The implementation in use: "numba" or "numpy"."""
    return _kernels


_MOVED_TO_BAGS = ("Bags", "pack", "pack_reference", "pooled_lookup", "pooled_lookup_reference",
                  "pooled_lookup_backward", "pooled_lookup_backward_reference", "step_gradients",
                  "mean_divisors")


def __getattr__(name):
    # the packed-ids kernels moved to npembed.bags; their old names here keep working
    if name in _MOVED_TO_BAGS:
        from . import bags
        return getattr(bags, name)
    raise AttributeError(f"module 'npembed.kernels' has no attribute {name!r}")


# --------------------------------------------------------------------------------------------
# Backward of the plain lookup (Embedding used without pooling): scatter-add of (batch, steps, dim).
# --------------------------------------------------------------------------------------------

def scatter_add_reference(ids, d_vectors, d_embeddings):
    """NumPy reference: d_embeddings[ids[i, t]] += d_vectors[i, t] for every (i, t), in place."""
    np.add.at(d_embeddings, ids, d_vectors)


@numba.njit(cache=True, nogil=True)
def _scatter_add_numba(ids, d_vectors, d_embeddings):
    batch, steps = ids.shape
    dim = d_embeddings.shape[1]
    for i in range(batch):
        for t in range(steps):
            k = ids[i, t]
            for j in range(dim):
                d_embeddings[k, j] += d_vectors[i, t, j]


# --------------------------------------------------------------------------------------------
# Adam, Keras form, dense: every entry's m and v decay at every step, fused in one pass.
#   m <- m + (g - m)(1 - beta_1);  v <- v + (g^2 - v)(1 - beta_2);  w <- w - alpha m / (sqrt(v) + eps)
# with alpha = lr sqrt(1 - beta_2^t) / (1 - beta_1^t) computed by the caller. Each returns how many
# entries of w the update left non-finite (counted in the same pass, so the check costs nothing).
# --------------------------------------------------------------------------------------------

def adam_update_reference(w, g, m, v, alpha, one_minus_beta_1, one_minus_beta_2, epsilon):
    """NumPy reference: updates w, m, v in place (all the same shape and dtype); returns the number
    of non-finite entries of the new w."""
    m += (g - m) * one_minus_beta_1
    v += (g * g - v) * one_minus_beta_2
    w -= alpha * m / (np.sqrt(v) + epsilon)
    return int(np.count_nonzero(~np.isfinite(w)))


@numba.njit(inline="always")
def _adam_entry(w, g, m, v, i, alpha, one_minus_beta_1, one_minus_beta_2, epsilon):
    gi = g[i]
    mi = m[i] + (gi - m[i]) * one_minus_beta_1
    vi = v[i] + (gi * gi - v[i]) * one_minus_beta_2
    m[i] = mi
    v[i] = vi
    wi = w[i] - alpha * mi / (np.sqrt(vi) + epsilon)
    w[i] = wi
    return 0 if np.isfinite(wi) else 1


@numba.njit(parallel=True, cache=True, nogil=True)
def _adam_update_numba(w, g, m, v, alpha, one_minus_beta_1, one_minus_beta_2, epsilon):
    non_finite = 0
    for i in numba.prange(w.size):
        non_finite += _adam_entry(w, g, m, v, i, alpha, one_minus_beta_1, one_minus_beta_2, epsilon)
    return non_finite


@numba.njit(cache=True, nogil=True)
def _adam_update_serial(w, g, m, v, alpha, one_minus_beta_1, one_minus_beta_2, epsilon):
    # the same entry update on one thread: for small weights (a Dense kernel or bias), waking the
    # other threads costs more than the update itself (10 us vs 2 us per call)
    non_finite = 0
    for i in range(w.size):
        non_finite += _adam_entry(w, g, m, v, i, alpha, one_minus_beta_1, one_minus_beta_2, epsilon)
    return non_finite


# --------------------------------------------------------------------------------------------
# Dispatch: what layers and optimizers call.
# --------------------------------------------------------------------------------------------

def scatter_add(ids, d_vectors, d_embeddings):
    """d_embeddings[ids[i, t]] += d_vectors[i, t]; repeated ids accumulate."""
    if _kernels == "numpy":
        return scatter_add_reference(ids, d_vectors, d_embeddings)
    _scatter_add_numba(ids, d_vectors, d_embeddings)


PARALLEL_ADAM_SIZE = 1 << 14      # weights with fewer entries are updated on one thread


def adam_update(w, g, m, v, alpha, beta_1, beta_2, epsilon):
    """One Keras-form Adam step on w, m, v in place; scalars are cast to w's dtype. Returns the
    number of entries of w that the step left non-finite."""
    as_dtype = w.dtype.type
    args = (as_dtype(alpha), as_dtype(1.0 - beta_1), as_dtype(1.0 - beta_2), as_dtype(epsilon))
    if _kernels == "numpy":
        return adam_update_reference(w, g, m, v, *args)
    kernel = _adam_update_numba if w.size >= PARALLEL_ADAM_SIZE else _adam_update_serial
    return kernel(w.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), *args)

"""The hot loops: each Numba kernel next to the plain NumPy reference that states the same mathematics.

Layers and the optimizer call the dispatch functions at the bottom of this file and never know which
implementation ran. ``set_kernels("numpy")`` (or the environment variable ``NPEMBED_KERNELS=numpy``
before import) makes the whole library use the references; the tests hold the two equal.

Kernels trust their inputs: ids in range, C-contiguous arrays, matching shapes and dtypes. The public
layers and ``Sequential`` check all of that before calling anything here.

Notation: ``ids`` (batch, steps) integer ids, ``embeddings`` (vocab, dim), ``pooled`` (batch, dim).
``n_real`` (batch,) counts the non-padding ids (id != 0) of each row; the mean divides by
``n_real`` when padding is masked and by ``steps`` when it is not.
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


def _divisors(n_real, steps, mask_zero):
    """How many steps each row's mean divides by: its real ids when masked, all steps when not."""
    return n_real if mask_zero else np.full_like(n_real, steps)


# --------------------------------------------------------------------------------------------
# Embedding lookup fused with the (masked) mean over steps: forward.
#   pooled[i] = sum_t w[i, t] * embeddings[ids[i, t]] / divisor[i]
# where w[i, t] = 0 for padding when masked, 1 otherwise; a row with divisor 0 pools to zeros.
# --------------------------------------------------------------------------------------------

def pooled_lookup_reference(ids, embeddings, mask_zero):
    """NumPy reference. Returns pooled (batch, dim) and n_real (batch,) int64."""
    vectors = embeddings[ids]                                   # (batch, steps, dim)
    is_real = ids != 0
    n_real = is_real.sum(axis=1)
    weights = is_real if mask_zero else np.ones_like(is_real)
    divisor = _divisors(n_real, ids.shape[1], mask_zero)
    sums = (vectors * weights[:, :, None]).sum(axis=1)
    pooled = sums / np.maximum(divisor, 1)[:, None].astype(embeddings.dtype)
    return pooled.astype(embeddings.dtype, copy=False), n_real


@numba.njit(parallel=True, cache=True, nogil=True)
def _pooled_lookup_numba(ids, embeddings, mask_zero, pooled, n_real):
    batch, steps = ids.shape
    dim = embeddings.shape[1]
    for i in numba.prange(batch):
        real = 0
        for t in range(steps):
            k = ids[i, t]
            if k != 0:                       # work proportional to real tokens
                real += 1
                for j in range(dim):
                    pooled[i, j] += embeddings[k, j]
        n_real[i] = real
        divisor = real
        if not mask_zero:
            padding = steps - real
            divisor = steps
            if padding > 0:                  # padding adds (count of padding) * embeddings[0], in O(1)
                for j in range(dim):
                    pooled[i, j] += padding * embeddings[0, j]
        if divisor > 0:
            scale = 1.0 / divisor
            for j in range(dim):
                pooled[i, j] *= scale


# --------------------------------------------------------------------------------------------
# Backward of the pooled lookup: a scatter-add; repeated ids accumulate.
#   d_embeddings[ids[i, t]] += w[i, t] * d_pooled[i] / divisor[i]
# --------------------------------------------------------------------------------------------

def pooled_lookup_backward_reference(ids, d_pooled, n_real, mask_zero, d_embeddings):
    """NumPy reference: adds into d_embeddings (vocab, dim) in place."""
    divisor = _divisors(n_real, ids.shape[1], mask_zero)
    weights = (ids != 0) if mask_zero else np.ones(ids.shape, dtype=bool)
    per_row = d_pooled / np.maximum(divisor, 1)[:, None]       # d(mean)/dx_t = 1/divisor
    per_step = weights[:, :, None] * per_row[:, None, :]        # (batch, steps, dim)
    np.add.at(d_embeddings, ids, per_step.astype(d_embeddings.dtype, copy=False))


@numba.njit(parallel=True, cache=True, nogil=True)
def _pooled_lookup_backward_numba(ids, d_pooled, n_real, mask_zero, d_embeddings, parts):
    batch, steps = ids.shape
    dim = d_embeddings.shape[1]
    # Race-free and deterministic: part p owns the blocks of 4 rows with (id // 4) % parts == p,
    # and every row sums its contributions in (sample, step) order whatever the thread count.
    for part in numba.prange(parts):
        for i in range(batch):
            divisor = n_real[i] if mask_zero else steps
            if divisor == 0:
                continue
            scale = 1.0 / divisor
            for t in range(steps):
                k = ids[i, t]
                if k != 0 and (k >> 2) % parts == part:
                    for j in range(dim):
                        d_embeddings[k, j] += d_pooled[i, j] * scale
    if not mask_zero:
        # each padding step of row i received d_pooled[i] / steps: add them all at once
        for i in range(batch):
            padding = steps - n_real[i]
            if padding > 0:
                scale = padding / steps
                for j in range(dim):
                    d_embeddings[0, j] += d_pooled[i, j] * scale


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
# with alpha = lr sqrt(1 - beta_2^t) / (1 - beta_1^t) computed by the caller.
# --------------------------------------------------------------------------------------------

def adam_update_reference(w, g, m, v, alpha, one_minus_beta_1, one_minus_beta_2, epsilon):
    """NumPy reference: updates w, m, v in place (all the same shape and dtype)."""
    m += (g - m) * one_minus_beta_1
    v += (g * g - v) * one_minus_beta_2
    w -= alpha * m / (np.sqrt(v) + epsilon)


@numba.njit(parallel=True, cache=True, nogil=True)
def _adam_update_numba(w, g, m, v, alpha, one_minus_beta_1, one_minus_beta_2, epsilon):
    for i in numba.prange(w.size):
        gi = g[i]
        mi = m[i] + (gi - m[i]) * one_minus_beta_1
        vi = v[i] + (gi * gi - v[i]) * one_minus_beta_2
        m[i] = mi
        v[i] = vi
        w[i] -= alpha * mi / (np.sqrt(vi) + epsilon)


# --------------------------------------------------------------------------------------------
# Dispatch: what layers and optimizers call.
# --------------------------------------------------------------------------------------------

def pooled_lookup(ids, embeddings, mask_zero):
    """Mean of the embedding rows of each row of ids. Returns pooled (batch, dim), n_real (batch,)."""
    if _kernels == "numpy":
        return pooled_lookup_reference(ids, embeddings, mask_zero)
    pooled = np.zeros((ids.shape[0], embeddings.shape[1]), dtype=embeddings.dtype)
    n_real = np.empty(ids.shape[0], dtype=np.int64)
    _pooled_lookup_numba(ids, embeddings, bool(mask_zero), pooled, n_real)
    return pooled, n_real


def pooled_lookup_backward(ids, d_pooled, n_real, mask_zero, d_embeddings):
    """Scatter-add d_pooled (batch, dim) into d_embeddings (vocab, dim) through the mean."""
    if _kernels == "numpy":
        return pooled_lookup_backward_reference(ids, d_pooled, n_real, mask_zero, d_embeddings)
    _pooled_lookup_backward_numba(ids, d_pooled, n_real, bool(mask_zero), d_embeddings,
                                  numba.get_num_threads())


def scatter_add(ids, d_vectors, d_embeddings):
    """d_embeddings[ids[i, t]] += d_vectors[i, t]; repeated ids accumulate."""
    if _kernels == "numpy":
        return scatter_add_reference(ids, d_vectors, d_embeddings)
    _scatter_add_numba(ids, d_vectors, d_embeddings)


def adam_update(w, g, m, v, alpha, beta_1, beta_2, epsilon):
    """One Keras-form Adam step on w, m, v in place; scalars are cast to w's dtype."""
    as_dtype = w.dtype.type
    args = (as_dtype(alpha), as_dtype(1.0 - beta_1), as_dtype(1.0 - beta_2), as_dtype(epsilon))
    if _kernels == "numpy":
        return adam_update_reference(w, g, m, v, *args)
    _adam_update_numba(w.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), *args)

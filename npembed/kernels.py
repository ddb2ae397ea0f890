"""The hot loops: each Numba kernel next to the plain NumPy reference that states the same mathematics.

Layers and the optimizer call the dispatch functions at the bottom of this file and never know which
implementation ran. ``set_kernels("numpy")`` (or the environment variable ``NPEMBED_KERNELS=numpy``
before import) makes the whole library use the references; the tests hold the two equal.

Kernels trust their inputs: ids in range, C-contiguous arrays, matching shapes and dtypes. The public
layers and ``Sequential`` check all of that before calling anything here.

Notation: ``ids`` (batch, steps) integer ids, ``embeddings`` (vocab, dim), ``pooled`` (batch, dim).
``bags`` is a batch of id rows stored without their padding (see Bags); ``n_real`` (batch,) counts
the non-padding ids (id != 0) of each row; the mean divides by ``n_real`` when padding is masked
and by ``steps`` when it is not.
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


class Bags:
    """A batch of id rows with their padding left out, like torch's EmbeddingBag(input, offsets).

    Row ``rows[b]`` of a padded (n, steps) id matrix holds the real (non-zero) ids
    ``tokens[offsets[rows[b]]:offsets[rows[b] + 1]]`` in their original order, and
    ``steps - n_real`` padding ids. Selecting a batch is then ``bags.take(rows)``: no copy of ids.
    """

    def __init__(self, tokens, offsets, steps, rows=None):
        self.tokens, self.offsets, self.steps = tokens, offsets, int(steps)
        self.rows = np.arange(len(offsets) - 1) if rows is None else rows

    @classmethod
    def from_padded(cls, ids):
        """ids (n, steps), already checked -> Bags of all n rows."""
        is_real = ids != 0
        offsets = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum(is_real.sum(axis=1), out=offsets[1:])
        return cls(np.ascontiguousarray(ids[is_real], dtype=np.int32), offsets, ids.shape[1])

    def take(self, rows):
        return Bags(self.tokens, self.offsets, self.steps, np.ascontiguousarray(self.rows[rows]))

    def __len__(self):
        return len(self.rows)

    @property
    def n_real(self):
        """Real (non-padding) ids in each selected row, int64 (batch,)."""
        return self.offsets[self.rows + 1] - self.offsets[self.rows]


def _bag_positions(bags):
    """(positions, sample): where each real token of the batch sits in bags.tokens, and its row."""
    n_real = bags.n_real
    positions = np.concatenate([np.arange(bags.offsets[r], bags.offsets[r + 1]) for r in bags.rows])
    return positions.astype(np.int64), np.repeat(np.arange(len(bags)), n_real)


def step_gradients(d_pooled, n_real, steps, mask_zero):
    """d_step (batch, dim): the gradient every averaged step of a row receives, d_pooled / divisor.

    # d(mean)/dx_t = 1/divisor, divisor = n_real (masked) or steps (unmasked); 0 rows get 0.
    """
    divisor = n_real if mask_zero else np.full_like(n_real, steps)
    scale = np.where(divisor > 0, 1.0 / np.maximum(divisor, 1), 0.0)
    return np.ascontiguousarray(d_pooled * scale[:, None].astype(d_pooled.dtype))


# --------------------------------------------------------------------------------------------
# Embedding lookup fused with the (masked) mean over steps: forward.
#   pooled[b] = (sum of embeddings[k] over the real ids k of the row
#               + (0 if masked else n_padding * embeddings[0])) / divisor
# divisor = n_real when masked, steps when not; a row with divisor 0 pools to zeros.
# Work is proportional to the real ids: padding costs O(1) per row.
# --------------------------------------------------------------------------------------------

def pooled_lookup_reference(bags, embeddings, mask_zero):
    """NumPy reference. Returns pooled (batch, dim) and n_real (batch,) int64."""
    positions, sample = _bag_positions(bags)
    n_real = bags.n_real
    sums = np.zeros((len(bags), embeddings.shape[1]), dtype=embeddings.dtype)
    np.add.at(sums, sample, embeddings[bags.tokens[positions]])
    if not mask_zero:
        sums += (bags.steps - n_real)[:, None] * embeddings[0]
    divisor = n_real if mask_zero else np.full_like(n_real, bags.steps)
    pooled = sums / np.maximum(divisor, 1)[:, None].astype(embeddings.dtype)
    return pooled, n_real


@numba.njit(parallel=True, cache=True, nogil=True)
def _pooled_lookup_numba(tokens, offsets, rows, steps, embeddings, mask_zero, pooled):
    dim = embeddings.shape[1]
    for b in numba.prange(len(rows)):
        start, end = offsets[rows[b]], offsets[rows[b] + 1]
        p = start
        # four rows at a time: one add into pooled[b] per four ids instead of per id, which
        # shortens the chain of dependent additions (2x faster; same sum up to rounding)
        while p + 4 <= end:
            k0, k1, k2, k3 = tokens[p], tokens[p + 1], tokens[p + 2], tokens[p + 3]
            for j in range(dim):
                pooled[b, j] += (embeddings[k0, j] + embeddings[k1, j]) + (embeddings[k2, j] + embeddings[k3, j])
            p += 4
        while p < end:
            k = tokens[p]
            for j in range(dim):
                pooled[b, j] += embeddings[k, j]
            p += 1
        divisor = end - start
        if not mask_zero:
            padding = steps - divisor
            divisor = steps
            for j in range(dim):
                pooled[b, j] += padding * embeddings[0, j]
        if divisor > 0:
            for j in range(dim):
                pooled[b, j] /= divisor


# --------------------------------------------------------------------------------------------
# Backward of the pooled lookup: a scatter-add; repeated ids accumulate.
#   d_embeddings[k] += d_step[b] for every real id k of row b
#   d_embeddings[0] += n_padding[b] * d_step[b]    (unmasked only)
# --------------------------------------------------------------------------------------------

def pooled_lookup_backward_reference(bags, d_step, mask_zero, d_embeddings):
    """NumPy reference: adds into d_embeddings (vocab, dim) in place."""
    positions, sample = _bag_positions(bags)
    np.add.at(d_embeddings, bags.tokens[positions], d_step[sample])
    if not mask_zero:
        d_embeddings[0] += ((bags.steps - bags.n_real)[:, None] * d_step).sum(axis=0)


@numba.njit(parallel=True, cache=True, nogil=True)
def _pooled_lookup_backward_numba(tokens, offsets, rows, steps, d_step, mask_zero, d_embeddings, scratch):
    # Race-free and deterministic: the batch is cut into parts = 1 + len(scratch) consecutive
    # slices; part 0 adds into d_embeddings, part p > 0 into its own zeroed scratch[p - 1]; then
    # the scratch tables are added in part order and zeroed again. Same thread count, same bits.
    dim = d_embeddings.shape[1]
    parts = 1 + scratch.shape[0]
    batch = len(rows)
    for part in numba.prange(parts):
        target = d_embeddings if part == 0 else scratch[part - 1]
        for b in range(part * batch // parts, (part + 1) * batch // parts):
            start, end = offsets[rows[b]], offsets[rows[b] + 1]
            for p in range(start, end):
                k = tokens[p]
                for j in range(dim):
                    target[k, j] += d_step[b, j]
            if not mask_zero:
                padding = steps - (end - start)
                for j in range(dim):
                    target[0, j] += padding * d_step[b, j]
    if parts > 1:
        for k in numba.prange(d_embeddings.shape[0]):
            for part in range(parts - 1):
                for j in range(dim):
                    d_embeddings[k, j] += scratch[part, k, j]
                    scratch[part, k, j] = 0


_scratch_tables = {}


def _scratch(d_embeddings, parts):
    """Zeroed tables, one per extra thread, reused across calls (the kernel leaves them zeroed)."""
    key = (d_embeddings.shape, d_embeddings.dtype.str, parts)
    if key not in _scratch_tables:
        _scratch_tables.clear()
        _scratch_tables[key] = np.zeros((parts - 1,) + d_embeddings.shape, dtype=d_embeddings.dtype)
    return _scratch_tables[key]


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

def pooled_lookup(bags, embeddings, mask_zero):
    """Mean embedding of each bag. Returns pooled (batch, dim), n_real (batch,) int64."""
    if _kernels == "numpy":
        return pooled_lookup_reference(bags, embeddings, mask_zero)
    pooled = np.zeros((len(bags), embeddings.shape[1]), dtype=embeddings.dtype)
    _pooled_lookup_numba(bags.tokens, bags.offsets, bags.rows, bags.steps, embeddings, bool(mask_zero),
                         pooled)
    return pooled, bags.n_real


def pooled_lookup_backward(bags, d_step, mask_zero, d_embeddings):
    """Scatter-add d_step (batch, dim), see step_gradients, into d_embeddings (vocab, dim)."""
    if _kernels == "numpy":
        return pooled_lookup_backward_reference(bags, d_step, mask_zero, d_embeddings)
    # one part per thread, but never parts of fewer than ~64 rows
    parts = max(1, min(numba.get_num_threads(), len(bags) // 64))
    _pooled_lookup_backward_numba(bags.tokens, bags.offsets, bags.rows, bags.steps, d_step,
                                  bool(mask_zero), d_embeddings, _scratch(d_embeddings, parts))


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

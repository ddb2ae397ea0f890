"""Padded id rows packed as a sparse matrix of counts (Bags), and the Numba kernels of the
Embedding + mean over them (forward and backward), each beside its NumPy reference.

This is the fast path of ``Embedding -> GlobalAveragePooling1D`` (npembed.stages.EmbeddingMean):
the same mean as the two layers, without the (batch, steps, dim) tensor, and with padding costing
O(1) per row.

Notation: ``ids`` (n, steps) integer ids; ``embeddings`` (vocab, dim); ``pooled`` (batch, dim).
A Bags packs n rows once; ``lengths`` (n,) counts the real (non-zero) ids of each PACKED row, and a
batch ``bags.take(rows)`` selects some of them: ``bags.n_real`` (batch,) is ``lengths[rows]``, the
real ids of each BATCH row. The mean divides by ``n_real`` when padding is masked and by ``steps``
(the padded length) when it is not.

Kernels trust their inputs (ids in range, C-contiguous arrays, matching shapes and dtypes);
``stages.EmbeddingMean.pack`` checks the ids before anything here runs.
"""
import numba
import numpy as np

from .packing import pack
from .prefetch import prefetch
from .switch import get_kernels

# While a kernel sums one review of a shuffled batch, it asks for the first PREFETCH_ENTRIES
# entries (8 cache lines of ids and of counts) of the review PREFETCH_AHEAD places later (see
# npembed.kernels.prefetch); 0 entries asks for nothing. Results never depend on these numbers.
PREFETCH_AHEAD = 2
PREFETCH_ENTRIES = 128


class Bags:
    """Padded id rows as a sparse matrix of counts (CSR in canonical form, as scipy calls it).

    Row r keeps its distinct real (non-zero) ids in ascending order, ``ids[offsets[r]:offsets[r+1]]``,
    with how often each occurs, ``counts[...]``; ``lengths[r]`` is its number of real ids and
    ``steps - lengths[r]`` its padding. Summing a row's embeddings is then a product with the count
    matrix C, and the gradient of that sum is the transposed product::

        sums = C @ embeddings  (+ padding * embeddings[0]),     d_embeddings += C.T @ d_step

    one multiply-add per distinct id of a row (IMDB reviews: 57% of their words) and O(1) for its
    padding. A batch is ``bags.take(rows)``: the rows are selected, no data is copied. ``ids`` are
    uint16 when every id fits (see from_padded), else int32; ``counts`` are in the weights' dtype.
    """

    def __init__(self, ids, counts, offsets, lengths, steps, rows=None, owners=None):
        """Packed arrays (see the class docstring); rows: the selected packed rows (default all)."""
        self.ids, self.counts, self.offsets, self.lengths = ids, counts, offsets, lengths
        self.steps = int(steps)
        self.rows = np.arange(len(lengths)) if rows is None else rows
        self._owners = {} if owners is None else owners      # shared by every batch taken

    @classmethod
    def from_padded(cls, ids, dtype=np.float32):
        """ids (n, steps), already checked -> Bags of all n rows; counts in dtype, ids as uint16 when
        every id fits in 16 bits (as the tutorial's 10,000 do), else int32: each kernel streams every
        entry of a batch, and 2 bytes less per entry is a quarter less to stream."""
        bag_ids, counts, offsets, lengths = pack(ids)
        if bag_ids.max(initial=0) <= np.iinfo(np.uint16).max:
            bag_ids = bag_ids.astype(np.uint16)
        return cls(bag_ids, counts.astype(dtype), offsets, lengths, ids.shape[1])

    def take(self, rows):
        """The batch of packed rows ``rows`` (indices into this selection); nothing is copied."""
        rows = np.ascontiguousarray(self.rows[rows])
        return Bags(self.ids, self.counts, self.offsets, self.lengths, self.steps, rows, self._owners)

    def __len__(self):
        """Rows in this selection (the batch size)."""
        return len(self.rows)

    @property
    def n_real(self):
        """Real (non-padding) ids in each selected row, int64 (batch,)."""
        return self.lengths[self.rows]

    def split_by_owner(self, parts):
        """(first_ids (parts + 1,) int64, cuts (n, parts + 1) int64): which part owns which ids.

        Part p owns the ids in [first_ids[p], first_ids[p + 1]) (the last part: every id from
        first_ids[parts - 1] up), part 0 the padding id 0. Entries cuts[r, p]:cuts[r, p + 1] of row r
        are part p's: rows keep their ids in ascending order, so each part's entries are one slice.
        The parts own about equal numbers of entries of the whole packing. Computed once per
        number of parts, and shared by every batch taken from this packing.
        """
        if parts not in self._owners:
            per_id = np.cumsum(np.bincount(self.ids, minlength=1))        # entries with an id <= k
            bounds = np.searchsorted(per_id, per_id[-1] * np.arange(1, parts) / parts)
            first_ids = np.concatenate([[0], np.maximum(bounds, 1), [len(per_id)]]).astype(np.int64)
            # rows keep their ids ascending, so (row, id) keys are ascending over the whole packing, and
            # the first entry of row r with an id >= k is where r * width + k would be inserted
            width = np.int64(len(per_id))
            row_starts = np.arange(len(self.lengths), dtype=np.int64) * width
            keys = np.repeat(row_starts, np.diff(self.offsets)) + self.ids
            cuts = np.stack([self.offsets[:-1]] + [np.searchsorted(keys, row_starts + k) for k in first_ids[1:-1]]
                            + [self.offsets[1:]], axis=1)
            self._owners[parts] = first_ids, cuts
        return self._owners[parts]


def _entries(bags):
    """(positions, sample): the entries of the selected rows in bags.ids, and the batch row of each."""
    starts, ends = bags.offsets[bags.rows], bags.offsets[bags.rows + 1]
    positions = np.concatenate([np.arange(s, e) for s, e in zip(starts, ends)] + [np.zeros(0, np.int64)])
    return positions.astype(np.int64), np.repeat(np.arange(len(bags)), ends - starts)


def mean_divisors(n_real, steps, mask_zero, dtype):
    """What each row's sum is divided by, (batch, 1) in dtype: n_real (masked) or steps (unmasked).

    A masked row of padding only divides 0 by 1: it pools to zeros, and has no step to receive a gradient.
    """
    divisor = np.maximum(n_real, 1) if mask_zero else np.full_like(n_real, steps)
    return divisor[:, None].astype(dtype)


def step_gradients(d_pooled, n_real, steps, mask_zero):
    """d_step (batch, dim): the gradient every averaged step of a row receives, d_pooled / divisor.

    d(mean)/dx_t = 1/divisor (see mean_divisors); unmasked, every row's divisor is steps.
    """
    if not mask_zero:
        return d_pooled / d_pooled.dtype.type(steps)
    return d_pooled / mean_divisors(n_real, steps, mask_zero, d_pooled.dtype)


# --------------------------------------------------------------------------------------------
# Embedding lookup fused with the (masked) mean over steps: forward.
#   pooled[b] = (sum of counts[k] * embeddings[k] over the distinct real ids k of the row
#               + (0 if masked else n_padding * embeddings[0])) / divisor
# divisor = n_real when masked, steps when not; a row with divisor 0 pools to zeros.
# --------------------------------------------------------------------------------------------

def pooled_lookup_reference(bags, embeddings, mask_zero):
    """NumPy reference. Returns pooled (batch, dim) and n_real (batch,) int64."""
    positions, sample = _entries(bags)
    n_real = bags.n_real
    sums = np.zeros((len(bags), embeddings.shape[1]), dtype=embeddings.dtype)
    np.add.at(sums, sample, bags.counts[positions, None] * embeddings[bags.ids[positions]])
    if not mask_zero:
        sums += (bags.steps - n_real)[:, None] * embeddings[0]
    return sums / mean_divisors(n_real, bags.steps, mask_zero, embeddings.dtype), n_real


@numba.njit(parallel=True, cache=True, nogil=True)
def _pooled_lookup_numba(ids, counts, offsets, lengths, rows, steps, embeddings, mask_zero, pooled):
    # lengths is indexed by packed row r = rows[b]; b is the batch row
    dim = embeddings.shape[1]
    for b in numba.prange(len(rows)):
        if b + PREFETCH_AHEAD < len(rows):
            later = rows[b + PREFETCH_AHEAD]
            later_start = offsets[later]
            later_stop = min(offsets[later + 1], later_start + PREFETCH_ENTRIES)
            prefetch(ids, later_start, later_stop)
            prefetch(counts, later_start, later_stop)
        start, end = offsets[rows[b]], offsets[rows[b] + 1]
        p = start
        # ids are summed in pairs, pooled[b] += (c0 E[k0] + c1 E[k1]): half as long a chain of
        # dependent additions as one id at a time
        while p + 2 <= end:
            k0, k1, c0, c1 = ids[p], ids[p + 1], counts[p], counts[p + 1]
            for j in range(dim):
                pooled[b, j] += c0 * embeddings[k0, j] + c1 * embeddings[k1, j]
            p += 2
        if p < end:
            k, c = ids[p], counts[p]
            for j in range(dim):
                pooled[b, j] += c * embeddings[k, j]
        divisor = lengths[rows[b]]
        if not mask_zero:
            padding = steps - divisor
            divisor = steps
            for j in range(dim):
                pooled[b, j] += padding * embeddings[0, j]
        if divisor > 0:
            for j in range(dim):
                pooled[b, j] /= divisor


# --------------------------------------------------------------------------------------------
# Backward of the pooled lookup: the transposed product, a scatter-add weighted by counts.
#   d_embeddings[k] += counts[k in row b] * d_step[b]   for every distinct real id k of row b
#   d_embeddings[0] += n_padding[b] * d_step[b]          (unmasked only)
# --------------------------------------------------------------------------------------------

def pooled_lookup_backward_reference(bags, d_step, mask_zero, d_embeddings):
    """NumPy reference: adds into d_embeddings (vocab, dim) in place."""
    positions, sample = _entries(bags)
    np.add.at(d_embeddings, bags.ids[positions], bags.counts[positions, None] * d_step[sample])
    if not mask_zero:
        d_embeddings[0] += ((bags.steps - bags.n_real)[:, None] * d_step).sum(axis=0)


@numba.njit(parallel=True, cache=True, nogil=True)
def _pooled_lookup_backward_numba(ids, counts, first_ids, cuts, lengths, rows, steps, d_step, mask_zero,
                                  d_embeddings):
    # Race-free and deterministic: part p updates only the ids it owns (entries cuts[r, p]:cuts[r, p+1]
    # of every row r, see Bags.split_by_owner), so each row of d_embeddings is written by one
    # thread, always in batch order: the same bits for any number of parts or threads.
    dim = d_embeddings.shape[1]
    parts = cuts.shape[1] - 1
    for part in numba.prange(parts):
        for b in range(len(rows)):
            r = rows[b]
            if b + PREFETCH_AHEAD < len(rows):
                later = rows[b + PREFETCH_AHEAD]
                later_start = cuts[later, part]
                later_stop = min(cuts[later, part + 1], later_start + PREFETCH_ENTRIES)
                prefetch(ids, later_start, later_stop)
                prefetch(counts, later_start, later_stop)
            if part == 0 and not mask_zero:              # id 0 (the padding) belongs to part 0
                padding = steps - lengths[r]
                for j in range(dim):
                    d_embeddings[0, j] += padding * d_step[b, j]
            p, end = cuts[r, part], cuts[r, part + 1]
            # two ids at a time (distinct ids of one row: never the same row of d_embeddings),
            # two independent read-modify-writes in flight
            while p + 2 <= end:
                k0, k1, c0, c1 = ids[p], ids[p + 1], counts[p], counts[p + 1]
                for j in range(dim):
                    d_embeddings[k0, j] += c0 * d_step[b, j]
                    d_embeddings[k1, j] += c1 * d_step[b, j]
                p += 2
            if p < end:
                k, c = ids[p], counts[p]
                for j in range(dim):
                    d_embeddings[k, j] += c * d_step[b, j]


# --------------------------------------------------------------------------------------------
# Dispatch: what npembed.stages.EmbeddingMean calls.
# --------------------------------------------------------------------------------------------

def pooled_lookup(bags, embeddings, mask_zero):
    """Mean embedding of each bag. Returns pooled (batch, dim), n_real (batch,) int64."""
    if get_kernels() == "numpy":
        return pooled_lookup_reference(bags, embeddings, mask_zero)
    pooled = np.zeros((len(bags), embeddings.shape[1]), dtype=embeddings.dtype)
    _pooled_lookup_numba(bags.ids, bags.counts, bags.offsets, bags.lengths, bags.rows, bags.steps,
                         embeddings, bool(mask_zero), pooled)
    return pooled, bags.n_real


def pooled_lookup_backward(bags, d_step, mask_zero, d_embeddings):
    """Scatter-add d_step (batch, dim), see step_gradients, into d_embeddings (vocab, dim), in place."""
    if get_kernels() == "numpy":
        return pooled_lookup_backward_reference(bags, d_step, mask_zero, d_embeddings)
    first_ids, cuts = bags.split_by_owner(numba.get_num_threads())
    _pooled_lookup_backward_numba(bags.ids, bags.counts, first_ids, cuts, bags.lengths, bags.rows,
                                  bags.steps, d_step, bool(mask_zero), d_embeddings)

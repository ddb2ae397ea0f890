"""Padded id rows packed as a sparse matrix of counts (Bags), and the Numba kernels of the fused
Embedding + mean over them, each beside its NumPy reference.

This is the fast path of ``Embedding -> GlobalAveragePooling1D`` (see npembed.fused): the same mean
as the two layers, without the (batch, steps, dim) tensor, and with padding costing O(1) per row.
Its backward can also apply an Adam step to the table, in the same kernel.

Notation: ``ids`` (n, steps) integer ids; ``embeddings`` (vocab, dim); ``pooled`` (batch, dim).
A Bags packs n rows once; ``lengths`` (n,) counts the real (non-zero) ids of each PACKED row, and a
batch ``bags.take(rows)`` selects some of them: ``bags.n_real`` (batch,) is ``lengths[rows]``, the
real ids of each BATCH row. The mean divides by ``n_real`` when padding is masked and by ``steps``
(the padded length) when it is not.

Kernels trust their inputs (ids in range, C-contiguous arrays, matching shapes and dtypes);
``fused.EmbeddingMean.pack`` checks the ids before anything here runs.
"""
import numba
import numpy as np

from .kernels import adam_entry, adam_update_reference, get_kernels
from .packing import pack
from .prefetch import prefetch

# Two ways the kernels wait less for memory; results do not depend on any of these numbers, and
# benchmarks/bench_kernels_in_context.py times the kernels with each turned off.
# - While a kernel sums one review of a shuffled batch, it asks for the first PREFETCH_ENTRIES
#   entries (8 cache lines of ids and of counts) of the review PREFETCH_AHEAD places later (see
#   npembed.prefetch); 0 entries asks for nothing.
# - The forward adds FORWARD_IDS_AT_ONCE ids into a review's sum per load and store of it (an even
#   number; 2 is pair by pair, see _pooled_lookup_numba).
PREFETCH_AHEAD = 2
PREFETCH_ENTRIES = 128
FORWARD_IDS_AT_ONCE = 8


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
        every id fits in 16 bits (as the tutorial's 10,000 do), else int32. Each kernel streams every
        entry of a batch, so 2 bytes less per entry took the training kernels from 14.0 to 12.6 ms."""
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

    def split_by_owner(self, parts, row_cost=0.0, table_rows=0):
        """(first_ids (parts + 1,) int64, cuts (n, parts + 1) int64): which part owns which ids.

        Part p owns the ids in [first_ids[p], first_ids[p + 1]) (the last part: every id from
        first_ids[parts - 1] up), part 0 the padding id 0. Entries cuts[r, p]:cuts[r, p + 1] of row r
        are part p's: rows keep their ids in ascending order, so each part's entries are one slice.
        The parts get about equal work in a batch of this one's size: the entries of their ids (the
        whole packing's, scaled to the batch) plus row_cost for each of the table_rows rows they own
        (work done once per row and batch, such as an optimizer step; row_cost counts it in entries).
        Computed once per (parts, row_cost, table_rows), for the batch size of the first call.
        """
        key = (parts, row_cost, table_rows)
        if key not in self._owners:
            per_id = np.bincount(self.ids, minlength=max(table_rows, 1)) * (len(self) / len(self.lengths))
            per_id = np.cumsum(per_id + np.where(np.arange(len(per_id)) < table_rows, row_cost, 0.0))
            bounds = np.searchsorted(per_id, per_id[-1] * np.arange(1, parts) / parts)   # work with id <= k
            first_ids = np.concatenate([[0], np.maximum(bounds, 1), [len(per_id)]]).astype(np.int64)
            # rows keep their ids ascending, so (row, id) keys are ascending over the whole packing, and
            # the first entry of row r with an id >= k is where r * width + k would be inserted
            width = np.int64(len(per_id))
            row_starts = np.arange(len(self.lengths), dtype=np.int64) * width
            keys = np.repeat(row_starts, np.diff(self.offsets)) + self.ids
            cuts = np.stack([self.offsets[:-1]] + [np.searchsorted(keys, row_starts + k) for k in first_ids[1:-1]]
                            + [self.offsets[1:]], axis=1)
            self._owners[key] = first_ids, cuts
        return self._owners[key]


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
        # ids are summed in pairs, pooled[b] += (c0 E[k0] + c1 E[k1]), pair after pair, which halves
        # the chain of dependent additions. FORWARD_IDS_AT_ONCE (8) ids at a time, the running sum
        # of their pairs stays in a register (total): the same additions in the same order, with
        # one load and store of pooled[b] per eight ids instead of per two, and a loop body large
        # enough that LLVM vectorizes it 16 floats wide for dim 16
        while p + FORWARD_IDS_AT_ONCE <= end:
            for j in range(dim):
                total = pooled[b, j]
                for q in range(p, p + FORWARD_IDS_AT_ONCE, 2):
                    total += counts[q] * embeddings[ids[q], j] + counts[q + 1] * embeddings[ids[q + 1], j]
                pooled[b, j] = total
            p += FORWARD_IDS_AT_ONCE
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
# With zero_first, d_embeddings is set to 0 first: the result is then this batch's gradient alone.
# With an Adam step (adam: the table, its m and v, and the step's numbers), the same kernel then
# applies it to the table: each thread updates the rows whose gradient it has just completed
# (npembed.kernels.adam_entry, the numbers of kernels.adam_update).
# --------------------------------------------------------------------------------------------

def pooled_lookup_backward_reference(bags, d_step, mask_zero, d_embeddings, zero_first=False, adam=None):
    """NumPy reference: adds into d_embeddings (vocab, dim) in place (after zeroing it, with zero_first);
    then the Adam step ``adam`` = (table, m, v, alpha, 1 - beta_1, 1 - beta_2, epsilon), if given.
    Returns how many entries of the table the step left non-finite (0 without a step)."""
    if zero_first:
        d_embeddings[...] = 0
    positions, sample = _entries(bags)
    np.add.at(d_embeddings, bags.ids[positions], bags.counts[positions, None] * d_step[sample])
    if not mask_zero:
        d_embeddings[0] += ((bags.steps - bags.n_real)[:, None] * d_step).sum(axis=0)
    if adam is None:
        return 0
    table, m, v, *numbers = adam
    return adam_update_reference(table, d_embeddings, m, v, *numbers)


# One row's Adam step costs about as much as ADAM_ROW_COST entries of the scatter-add, for splitting
# the table between threads when the step is fused (tuned on the tutorial's batches on one host: 7
# against 0, 3, 5, 10 and 14, see the README's speed section; results never depend on it).
ADAM_ROW_COST = 7.0


@numba.njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def _pooled_lookup_backward_numba(ids, counts, first_ids, cuts, lengths, rows, steps, d_step, mask_zero,
                                  zero_first, d_embeddings, table, m, v, alpha, one_minus_beta_1,
                                  one_minus_beta_2, epsilon):
    # Race-free and deterministic: part p updates only the ids it owns (entries cuts[r, p]:cuts[r, p+1]
    # of every row r, see Bags.split_by_owner), so each row of d_embeddings is written by one
    # thread, always in batch order: the same bits for any number of parts or threads.
    # An empty table means no Adam step. error_model="numpy": see kernels.SERIAL_ERRORS.
    vocab, dim = d_embeddings.shape
    parts = cuts.shape[1] - 1
    non_finite = 0
    for part in numba.prange(parts):
        first, stop = first_ids[part], (vocab if part == parts - 1 else first_ids[part + 1])
        if zero_first:
            # each part zeroes the rows it owns, in the thread that then adds into them: one pass
            # over the table instead of a separate fill, and the rows stay in this core's cache
            d_embeddings[first:stop] = 0
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
            # two independent read-modify-writes in flight: 15-25% faster than one at a time
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
        if table.size:                                   # the Adam step of the rows this part owns,
            broken = 0                                   # their gradient still in this core's cache
            for k in range(first, stop):
                for j in range(dim):
                    broken += adam_entry(table, d_embeddings, m, v, (k, j), alpha, one_minus_beta_1,
                                         one_minus_beta_2, epsilon)
            non_finite += broken
    return non_finite


# --------------------------------------------------------------------------------------------
# Dispatch: what npembed.fused calls.
# --------------------------------------------------------------------------------------------

def pooled_lookup(bags, embeddings, mask_zero):
    """Mean embedding of each bag. Returns pooled (batch, dim), n_real (batch,) int64."""
    if get_kernels() == "numpy":
        return pooled_lookup_reference(bags, embeddings, mask_zero)
    pooled = np.zeros((len(bags), embeddings.shape[1]), dtype=embeddings.dtype)
    _pooled_lookup_numba(bags.ids, bags.counts, bags.offsets, bags.lengths, bags.rows, bags.steps,
                         embeddings, bool(mask_zero), pooled)
    return pooled, bags.n_real


def no_adam_step(d_embeddings):
    """The last seven arguments of _pooled_lookup_backward_numba that ask for no Adam step: an empty
    table, m and v of d_embeddings' type, and zeros (the kernel is compiled once for both uses)."""
    empty = d_embeddings[:0]
    return (empty, empty, empty) + (d_embeddings.dtype.type(0),) * 4


def pooled_lookup_backward(bags, d_step, mask_zero, d_embeddings, zero_first=False, adam=None):
    """Scatter-add d_step (batch, dim), see step_gradients, into d_embeddings (vocab, dim); with
    zero_first, into zeros: d_embeddings becomes this batch's gradient. adam: (table, m, v, alpha,
    1 - beta_1, 1 - beta_2, epsilon) to apply that Adam step to the table (vocab, dim) with this
    gradient, in the same kernel (see kernels.adam_update). Returns how many entries of the table the
    step left non-finite (0 without a step)."""
    if get_kernels() == "numpy":
        return pooled_lookup_backward_reference(bags, d_step, mask_zero, d_embeddings, zero_first, adam)
    if adam is None:
        first_ids, cuts = bags.split_by_owner(numba.get_num_threads())
        adam = no_adam_step(d_embeddings)
    else:
        first_ids, cuts = bags.split_by_owner(numba.get_num_threads(), ADAM_ROW_COST, len(d_embeddings))
    return _pooled_lookup_backward_numba(bags.ids, bags.counts, first_ids, cuts, bags.lengths, bags.rows,
                                         bags.steps, d_step, bool(mask_zero), bool(zero_first), d_embeddings,
                                         *adam)

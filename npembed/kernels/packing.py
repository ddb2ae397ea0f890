"""Packing padded id rows into the arrays of a npembed.kernels.bags.Bags: each row's distinct real (non-zero)
ids in ascending order, and how often each occurs. The Numba kernel beside its NumPy reference.

Done once per fit, evaluate or predict (see npembed.stages.EmbeddingMean.pack); the kernels that
then run on every batch live in npembed.kernels.bags.
"""
import numba
import numpy as np

from .switch import get_kernels


def pack_reference(ids):
    """NumPy reference. ids (n, steps) -> bag_ids int32, counts int32, offsets int64 (n + 1,),
    lengths int64 (n,)."""
    row, step = np.nonzero(ids)
    width = int(ids.max(initial=0)) + 1
    keys, counts = np.unique(row * width + ids[row, step], return_counts=True)   # sorted by (row, id)
    bag_rows, bag_ids = np.divmod(keys, width)
    offsets = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum(np.bincount(bag_rows, minlength=len(ids)), out=offsets[1:])
    return bag_ids.astype(np.int32), counts.astype(np.int32), offsets, np.count_nonzero(ids, axis=1)


PACK_BLOCK_ROWS = 256        # rows _pack_numba sorts together, at least: their tokens (~225 KB for IMDB) stay in cache


@numba.njit(cache=True, nogil=True)
def _pack_numba(ids, token_offsets, vocab, block_rows):
    # Two counting sorts instead of sorting every row, block_rows rows at a time: a block's tokens
    # grouped by id (rows ascending within an id), then dealt back to their rows in that order, so
    # that each row receives its ids in ascending order; equal ids are then neighbours, and become
    # (id, count). O(tokens + vocab per block), one thread, plain loops that compile in well under
    # a second. Blocks keep the scattered writes of both sorts within a few hundred KB, where all
    # the rows at once would scatter them over megabytes; see pack for block_rows.
    # vocab: more than the largest id
    n, steps = ids.shape
    most = 0                                                 # the most tokens in one block
    for top in range(0, n, block_rows):
        most = max(most, token_offsets[min(top + block_rows, n)] - token_offsets[top])
    rows_by_id = np.empty(most, dtype=np.int32)
    tokens = np.empty(token_offsets[n], dtype=np.int32)      # each row's ids, ascending
    filled = token_offsets[:n].copy()                        # where each row's next id goes
    for top in range(0, n, block_rows):
        bottom = min(top + block_rows, n)
        first_of_id = np.zeros(vocab + 1, dtype=np.int64)    # the block's tokens of id k: first_of_id[k]:[k + 1]
        for r in range(top, bottom):
            for t in range(steps):
                k = ids[r, t]
                if k != 0:                                   # padding is not a token
                    first_of_id[k + 1] += 1
        for k in range(1, vocab + 1):
            first_of_id[k] += first_of_id[k - 1]
        for r in range(top, bottom):
            for t in range(steps):
                k = ids[r, t]
                if k != 0:
                    rows_by_id[first_of_id[k]] = r
                    first_of_id[k] += 1                      # now the first token of id k + 1
        start = 0
        for k in range(1, vocab):
            for i in range(start, first_of_id[k]):
                r = rows_by_id[i]
                tokens[filled[r]] = k
                filled[r] += 1
            start = first_of_id[k]
    # runs of equal ids -> (id, count), without branches on the data (a branch taken for 57% of the
    # tokens, at random, is mispredicted about every other time)
    offsets = np.zeros(n + 1, dtype=np.int64)
    for r in range(n):
        first, stop = token_offsets[r], token_offsets[r + 1]
        distinct = 1 if stop > first else 0
        for i in range(first + 1, stop):
            distinct += tokens[i] != tokens[i - 1]
        offsets[r + 1] = offsets[r] + distinct
    bag_ids = np.empty(offsets[n], dtype=np.int32)
    counts = np.empty(offsets[n], dtype=np.int32)            # first the position of each run's last token
    for r in range(n):
        first, stop = token_offsets[r], token_offsets[r + 1]
        p = offsets[r] - 1
        previous = 0                                         # never a token: a row's first id starts a run
        for i in range(first, stop):
            p += tokens[i] != previous
            bag_ids[p] = tokens[i]
            counts[p] = i
            previous = tokens[i]
        before = first - 1                                   # then a run's length: its last position
        for p in range(offsets[r], offsets[r + 1]):          # minus the previous run's
            last = counts[p]
            counts[p] = last - before
            before = last
    return bag_ids, counts, offsets


def pack(ids):
    """ids (n, steps) int32 (see _checks.ids_array) -> (bag_ids int32, counts int32, offsets int64,
    lengths int64: the real ids of each row), see npembed.kernels.bags.Bags."""
    if get_kernels() == "numpy":
        return pack_reference(ids)
    lengths = np.count_nonzero(ids, axis=1)
    token_offsets = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum(lengths, out=token_offsets[1:])
    vocab = int(ids.max(initial=0)) + 1
    # blocks of PACK_BLOCK_ROWS rows, or more when a block would hold fewer tokens than the
    # vocabulary: then each block's O(vocab) work stays below its O(tokens) work
    block_rows = max(PACK_BLOCK_ROWS, -(-vocab * len(ids) // max(int(token_offsets[-1]), 1)))
    return _pack_numba(np.ascontiguousarray(ids), token_offsets, vocab, block_rows) + (lengths,)

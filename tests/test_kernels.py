"""Each Numba kernel equals its NumPy reference (float64 to 1e-12 relative, float32 to 1e-5)."""
import os
import subprocess
import sys

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import npembed
from npembed import kernels
from npembed.kernels import bags as bag_kernels
from npembed.kernels import packing
from strategies import id_batches, seeds

TOLERANCE = {np.float64: dict(rtol=1e-12, atol=1e-14), np.float32: dict(rtol=1e-5, atol=1e-6)}
dtypes = st.sampled_from([np.float32, np.float64])


def run_both(function, *args):
    """Run a dispatch function under each implementation on copies of args."""
    results = {}
    for name in ("numba", "numpy"):
        copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        previous = npembed.get_kernels()
        npembed.set_kernels(name)
        try:
            out = function(*copies)
        finally:
            npembed.set_kernels(previous)
        results[name] = (out, copies)
    return results["numba"], results["numpy"]


def random_bags(batch, seed):
    """Packed ids and a batch of their rows in random order, some repeated, as fit's batches are."""
    vocab, ids = batch
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(ids), size=rng.integers(1, 2 * len(ids) + 1))
    return vocab, ids, rng, bag_kernels.Bags.from_padded(ids).take(rows)


bag_cases = dict(batch=id_batches(max_vocab=9, max_batch=6, max_steps=12), dim=st.integers(1, 20),
                 mask_zero=st.booleans(), dtype=dtypes, seed=seeds)


@given(**bag_cases)
def test_pooled_lookup_forward_agrees(batch, dim, mask_zero, dtype, seed):
    vocab, ids, rng, bags = random_bags(batch, seed)
    table = rng.uniform(-1, 1, (vocab, dim)).astype(dtype)
    (fast, _), (ref, _) = run_both(bag_kernels.pooled_lookup, bags, table, mask_zero)
    assert fast[0].dtype == ref[0].dtype == dtype
    np.testing.assert_allclose(fast[0], ref[0], **TOLERANCE[dtype])
    np.testing.assert_array_equal(fast[1], ref[1])
    # and both equal the plain mean over the padded rows
    padded = ids[bags.rows]
    weights = (padded != 0) if mask_zero else np.ones(padded.shape, bool)
    expected = (table[padded] * weights[:, :, None]).sum(1) / np.maximum(weights.sum(1), 1)[:, None]
    np.testing.assert_allclose(fast[0], expected, **TOLERANCE[dtype])


@given(**bag_cases)
def test_pooled_lookup_backward_agrees(batch, dim, mask_zero, dtype, seed):
    vocab, ids, rng, bags = random_bags(batch, seed)
    d_step = rng.normal(size=(len(bags), dim)).astype(dtype)
    # backward ADDS into grads (rows of ids no row holds, up to the last row of the table, keep theirs)
    start = rng.normal(size=(vocab + 3, dim)).astype(dtype)
    (_, fast), (_, ref) = run_both(bag_kernels.pooled_lookup_backward, bags, d_step, mask_zero, start)
    # both equal a scatter over the padded rows (repeated ids accumulate), computed in float64;
    # a sum's rounding error scales with the sum of its terms' magnitudes, not with the result
    padded = ids[bags.rows]
    base = start
    expected, magnitude = base.astype(np.float64), np.abs(base).astype(np.float64)
    for b, row in enumerate(padded):
        for k in row:
            if k != 0 or not mask_zero:
                expected[k] += d_step[b]
                magnitude[k] += np.abs(d_step[b])
    rtol = TOLERANCE[dtype]["rtol"]
    for result in (fast[3], ref[3]):
        assert np.all(np.abs(result - expected) <= rtol * magnitude + 1e-300)



@given(batch=id_batches(max_vocab=30, max_batch=8, max_steps=40))
def test_pack_agrees_and_is_the_count_matrix(batch):
    vocab, ids = batch
    (fast, _), (ref, _) = run_both(packing.pack, ids)
    for a, b in zip(fast, ref):
        np.testing.assert_array_equal(a, b)
    bag_ids, counts, offsets, _ = fast
    assert bag_ids.dtype == counts.dtype == np.int32 and offsets.dtype == np.int64
    for r, row in enumerate(ids):                   # each row: distinct real ids ascending, counts
        present, how_often = np.unique(row[row != 0], return_counts=True)
        np.testing.assert_array_equal(bag_ids[offsets[r]:offsets[r + 1]], present)
        np.testing.assert_array_equal(counts[offsets[r]:offsets[r + 1]], how_often)


def test_pack_sorts_block_by_block_as_one(rng):
    """The kernel sorts packing.PACK_BLOCK_ROWS rows at a time: many blocks, a last partial one, blocks
    of padding only, padding anywhere in a row and ids repeated across blocks give the reference."""
    rows = 3 * packing.PACK_BLOCK_ROWS + 17
    ids = rng.integers(1, 40, (rows, 25)) * (rng.random((rows, 25)) < 0.6)
    ids[packing.PACK_BLOCK_ROWS:2 * packing.PACK_BLOCK_ROWS] = 0          # a whole block of padding
    ids[5] = 39                                                          # one id, 25 times
    (fast, _), (ref, _) = run_both(packing.pack, ids.astype(np.int32))
    for a, b in zip(fast, ref):
        np.testing.assert_array_equal(a, b)


@given(batch=id_batches(max_vocab=30, max_batch=8, max_steps=20), parts=st.integers(1, 5))
def test_split_by_owner_gives_each_part_a_range_of_ids(batch, parts):
    vocab, ids = batch
    bags = bag_kernels.Bags.from_padded(ids)
    first_ids, cuts = bags.split_by_owner(parts)
    assert cuts.shape == (len(ids), parts + 1) and first_ids.shape == (parts + 1,)
    assert first_ids[0] == 0 and np.all(np.diff(first_ids) >= 0) and first_ids[-1] == bags.ids.max(initial=0) + 1
    np.testing.assert_array_equal(cuts[:, 0], bags.offsets[:-1])
    np.testing.assert_array_equal(cuts[:, -1], bags.offsets[1:])
    assert np.all(np.diff(cuts, axis=1) >= 0)
    owned = [set() for _ in range(parts)]
    for r in range(len(ids)):
        for p in range(parts):
            owned[p].update(bags.ids[cuts[r, p]:cuts[r, p + 1]].tolist())
    for p in range(parts):                          # ranges of ids, in order: no id has two owners
        assert all(first_ids[p] <= k < first_ids[p + 1] for k in owned[p])
    assert bags.split_by_owner(parts)[1] is cuts    # computed once per packing
    # balanced: no part holds more than its share plus the entries of the one id at its boundary
    per_part = np.diff(cuts, axis=1).sum(axis=0)
    largest_id = np.bincount(bags.ids).max(initial=0)
    assert per_part.max() <= len(bags.ids) / parts + largest_id


@given(batch=id_batches(max_vocab=9, max_batch=5, max_steps=8), dim=st.integers(1, 6), dtype=dtypes,
       seed=seeds)
def test_scatter_add_agrees(batch, dim, dtype, seed):
    vocab, ids = batch
    ids = ids.astype(np.int32)
    rng = np.random.default_rng(seed)
    d_vectors = rng.normal(size=ids.shape + (dim,)).astype(dtype)
    (_, fast), (_, ref) = run_both(kernels.scatter_add, ids, d_vectors, np.zeros((vocab, dim), dtype))
    np.testing.assert_allclose(fast[2], ref[2], **TOLERANCE[dtype])
    counts = np.bincount(ids.ravel(), minlength=vocab)        # repeated ids accumulate
    np.testing.assert_allclose(fast[2].sum(axis=1), [d_vectors[ids == k].sum() for k in range(vocab)],
                               **TOLERANCE[dtype])
    assert counts.sum() == ids.size


@given(size=st.integers(1, 300), steps=st.integers(1, 5), dtype=dtypes, seed=seeds, parallel=st.booleans())
def test_adam_update_agrees(size, steps, dtype, seed, parallel, monkeypatch):
    # both Numba kernels: the parallel one (big weights) and the one-thread one (small weights)
    monkeypatch.setattr(kernels, "PARALLEL_ADAM_SIZE", 1 if parallel else 10**9)
    rng = np.random.default_rng(seed)
    w, m, v = (rng.normal(size=size).astype(dtype) for _ in range(3))
    v = np.abs(v)
    for t in range(1, steps + 1):
        g = rng.normal(size=size).astype(dtype)
        g[rng.random(size) < 0.3] = 0                            # rows the batch did not touch
        alpha = 0.01 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
        (_, fast), (_, ref) = run_both(kernels.adam_update, w, g, m, v, alpha, 0.9, 0.999, 1e-7)
        for a, b in zip(fast[:4], ref[:4]):
            np.testing.assert_allclose(a, b, **TOLERANCE[dtype])
        w, m, v = fast[0], fast[2], fast[3]


@given(size=st.integers(1, 300), dtype=dtypes, seed=seeds, epsilon=st.sampled_from([1e-7, 0.0]))
def test_one_thread_and_parallel_optimizer_kernels_agree_bit_for_bit(size, dtype, seed, epsilon):
    # the one-thread kernels use NumPy's float error model (no check before each division): the same
    # bits as the parallel kernels, a zero division included (epsilon 0 with v 0 gives inf or nan)
    rng = np.random.default_rng(seed)
    w, g, m, v = (rng.normal(size=size).astype(dtype) for _ in range(4))
    v = np.abs(v)
    v[rng.random(size) < 0.2] = 0
    g[rng.random(size) < 0.2] = 0
    args = tuple(dtype(x) for x in (0.01, 0.1, 0.001, epsilon))
    results = []
    for kernel in (kernels.updates._adam_update_serial, kernels.updates._adam_update_numba):
        arrays = [x.copy() for x in (w, g, m, v)]
        with np.errstate(all="ignore"):
            count = kernel(*arrays, *args)
        results.append((count, arrays))
    (count_a, a), (count_b, b) = results
    assert count_a == count_b
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.view(np.uint8), y.view(np.uint8))


def test_switch_is_documented_and_validated():
    with pytest.raises(ValueError, match="numba' or 'numpy"):
        npembed.set_kernels("cuda")
    env = dict(os.environ, NPEMBED_KERNELS="numpy")
    out = subprocess.run([sys.executable, "-c", "import npembed; print(npembed.get_kernels())"],
                         env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "numpy"


def test_bit_identical_for_any_thread_count(rng):
    """Forward rows are independent; in the backward each id has one owner that adds in batch order."""
    ids = rng.integers(0, 50, (256, 40))
    bags = bag_kernels.Bags.from_padded(ids).take(rng.permutation(256))
    table = rng.normal(size=(50, 8)).astype(np.float32)
    d_step = rng.normal(size=(256, 8)).astype(np.float32)
    previous = numba.get_num_threads()
    runs = []
    try:
        for threads in sorted({1, 2, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            for _ in range(3):
                grads = np.zeros((50, 8), np.float32)
                bag_kernels.pooled_lookup_backward(bags, d_step, False, grads)
                runs.append((bag_kernels.pooled_lookup(bags, table, False)[0], grads))
    finally:
        numba.set_num_threads(previous)
    for pooled, grads in runs[1:]:
        np.testing.assert_array_equal(pooled, runs[0][0])
        np.testing.assert_array_equal(grads, runs[0][1])


def test_backward_bit_identical_for_any_number_of_parts(rng):
    """More parts than threads (or than ids) give the same bits: ownership, not scheduling."""
    ids = rng.integers(0, 30, (64, 25))
    bags = bag_kernels.Bags.from_padded(ids).take(rng.integers(0, 64, 100))
    d_step = rng.normal(size=(100, 5))
    results = []
    for parts in (1, 2, 3, 7, 64):
        grads = np.zeros((33, 5))
        bag_kernels._pooled_lookup_backward_numba(bags.ids, bags.counts, *bags.split_by_owner(parts),
                                                  bags.lengths, bags.rows, bags.steps, d_step, False, grads)
        results.append(grads)
    for grads in results[1:]:
        np.testing.assert_array_equal(grads, results[0])


def test_forward_adds_each_row_pair_by_pair_in_id_order(rng):
    """The kernel's promise, exactly: pooled[b] += c0 E[k0] + c1 E[k1] pair after pair, a last odd id
    alone, then the padding, then the division; in any dtype and dim (eight ids at a time is only a
    faster way to make the same additions)."""
    lengths = np.arange(0, 41)                        # 0 to 40 real ids: every mix of 8s, pairs, a single
    ids = np.zeros((len(lengths), 60), np.int64)
    for row, length in enumerate(lengths):
        ids[row, :length] = rng.integers(1, 200, length)
    bags = bag_kernels.Bags.from_padded(ids.astype(np.int32))
    for dtype, dim, mask_zero in ((np.float32, 16, False), (np.float32, 7, True), (np.float64, 33, False)):
        table = rng.normal(size=(200, dim)).astype(dtype)
        batch = bags.take(rng.permutation(len(lengths)))
        pooled = bag_kernels.pooled_lookup(batch, table, mask_zero)[0]
        for b, r in enumerate(batch.rows):
            k = batch.ids[batch.offsets[r]:batch.offsets[r + 1]]
            c = batch.counts[batch.offsets[r]:batch.offsets[r + 1]].astype(dtype)
            total = np.zeros(dim, dtype)
            for p in range(0, len(k) - 1, 2):
                total += c[p] * table[k[p]] + c[p + 1] * table[k[p + 1]]
            if len(k) % 2:
                total += c[-1] * table[k[-1]]
            divisor = batch.lengths[r]
            if not mask_zero:                         # integer times float: the kernel works in float64
                total = (total + (batch.steps - divisor) * table[0].astype(np.float64)).astype(dtype)
                divisor = batch.steps
            np.testing.assert_array_equal(pooled[b], (total / np.float64(max(divisor, 1))).astype(dtype))


def test_prefetch_is_emitted_and_changes_no_result():
    # the hint reaches LLVM (so the kernels really ask for their next reviews), reads never fault
    # and never change what the loop computes, for any dtype, index type, and empty or partial ranges
    from npembed.kernels.prefetch import prefetch

    @numba.njit
    def prefetched_sum(values, start, stop):
        prefetch(values, start, stop)
        prefetch(values, np.int32(start), np.uint16(stop))
        return values[start:stop].sum()

    @numba.njit
    def prefetched_outside(values):
        prefetch(values, -64, 0)
        prefetch(values, values.size, values.size + 64)
        return 0.0

    for dtype in (np.int32, np.float32, np.float64):
        values = np.arange(1000).astype(dtype)
        for start, stop in ((0, 1000), (17, 18), (5, 5), (999, 1000), (40, 3)):
            assert prefetched_sum(values, start, stop) == values[start:stop].sum()
        assert prefetched_outside(values) == 0.0        # addresses outside the array: still no fault
    assert "llvm.prefetch" in prefetched_sum.inspect_llvm(prefetched_sum.signatures[0])


def test_prefetch_refuses_what_is_not_a_1d_array_and_integers():
    from npembed.kernels.prefetch import prefetch

    @numba.njit
    def prefetch_by_float(values):
        prefetch(values, 1.5, 3)

    @numba.njit
    def prefetch_a_table(values):
        prefetch(values, 0, 1)

    with pytest.raises(numba.core.errors.TypingError, match="prefetch"):
        prefetch_by_float(np.zeros(3))
    with pytest.raises(numba.core.errors.TypingError, match="prefetch"):
        prefetch_a_table(np.zeros((3, 3)))


def test_ids_are_packed_in_16_bits_when_they_fit_and_the_kernels_give_the_same_bits(rng):
    """Bags keep ids as uint16 up to 65,535 and int32 above; both kinds give the same bits."""
    ids = rng.integers(0, 60000, (50, 30)).astype(np.int32)
    narrow = bag_kernels.Bags.from_padded(ids)
    assert narrow.ids.dtype == np.uint16
    ids[3, 4] = 65536
    assert bag_kernels.Bags.from_padded(ids).ids.dtype == np.int32
    ids[3, 4] = 65535
    narrow = bag_kernels.Bags.from_padded(ids)
    assert narrow.ids.dtype == np.uint16 and narrow.ids.max() == 65535
    wide = bag_kernels.Bags(narrow.ids.astype(np.int32), narrow.counts, narrow.offsets, narrow.lengths, narrow.steps)
    order = rng.permutation(50)
    table = rng.normal(size=(65536, 4)).astype(np.float32)
    d_step = rng.normal(size=(50, 4)).astype(np.float32)
    results = []
    for bags in (narrow.take(order), wide.take(order)):
        grads = np.zeros_like(table)
        bag_kernels.pooled_lookup_backward(bags, d_step, False, grads)
        results.append((bag_kernels.pooled_lookup(bags, table, False)[0], grads))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))

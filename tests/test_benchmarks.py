"""The benchmark scripts still run and print what issue 6 asks for (tiny settings: nothing is timed here)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def test_bench_epoch_prints_the_json_keys():
    out = subprocess.run([sys.executable, "bench_epoch.py", "--reviews", "600", "--epochs", "1", "--runs", "1",
                          "--reference-epochs", "1", "--no-torch", "--no-jax", "--json"],
                         cwd=BENCHMARKS, capture_output=True, text=True, check=True, timeout=600)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ("epoch_s_median", "fit_30_s", "numpy_reference_epoch_s", "torch_epoch_s", "jax_epoch_s", "threads",
                "tokens_per_s", "peak_rss_mb", "first_epoch_s", "epoch_s_median_mask_zero"):
        assert key in result
    assert result["torch_epoch_s"] is None                  # --no-torch
    assert result["epoch_s_median"] > 0 and result["numpy_reference_epoch_s"] > 0
    assert "npembed numpy reference" in out.stdout
    parts = result["breakdown_ms_per_epoch"]            # kernels and the rest, per epoch
    assert len(parts) == 5 and all(ms > 0 for ms in parts.values())
    probe_keys = {"compute_ns", "memory_ns", "region_us", "region_after_sleep_us"}
    assert len(result["runs"]) == 1 and set(result["runs"][0]["probe"]) == probe_keys


def benchmark_modules():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import bench_epoch
        import bench_kernels_in_context
        import epoch_peers
    finally:
        sys.path.remove(str(BENCHMARKS))
    return bench_epoch, epoch_peers, bench_kernels_in_context


def test_the_jax_peer_learns(monkeypatch):
    """bench_epoch's JAX peer (whole epoch in one jit): on a task its first words decide, the
    validation loss starts near that of a constant guess and falls every epoch."""
    pytest.importorskip("jax")
    bench_epoch, epoch_peers, _ = benchmark_modules()
    x, _ = bench_epoch.synthetic_reviews(3000)
    y = (x[:, 1:4] < 60).any(axis=1).astype(int)
    report = {}
    assert epoch_peers.jax_epoch_seconds(x, y, 10000, 4, False, 4, batch_size=64, report=report) > 0
    losses = report["val_loss"]
    assert len(losses) == 5 and 0.6 < losses[0] < 0.7
    assert all(later < earlier for earlier, later in zip(losses, losses[1:]))


def test_the_strongest_torch_form_pools_the_same_mean():
    """bench_epoch's PyTorch peer: distinct ids weighted by count / divisor are the (masked) mean."""
    bench_epoch, epoch_peers, _ = benchmark_modules()
    import numpy as np
    x = np.array([[5, 7, 5, 0, 0], [1, 2, 3, 4, 4]])
    table = np.random.default_rng(0).normal(size=(10, 3))
    for mask_zero in (False, True):
        for review, (ids, weights) in zip(x, epoch_peers.distinct_ids(x, mask_zero)):
            kept = review[review != 0] if mask_zero else review
            np.testing.assert_allclose(weights @ table[ids], table[kept].mean(axis=0), rtol=1e-6)
            if mask_zero:
                assert 0 not in ids
    try:
        import torch  # noqa: F401
    except ImportError:
        return                                           # the peer itself needs PyTorch
    x, y = bench_epoch.synthetic_reviews(200)
    assert epoch_peers.torch_bag_epoch_seconds(x, y, 10000, 4, False, 1, threads=1) > 0


def test_bench_cold_start_reports_every_kernel(tmp_path):
    """bench_cold_start.py on a tiny archive: cold and warm wall times, and the compile time of each
    of npembed's kernels the example compiled (nothing is timed here)."""
    import tarfile
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            folder = tmp_path / "tree" / "aclImdb" / split / label
            folder.mkdir(parents=True)
            for i in range(30):
                (folder / f"{i}_{7 if label == 'pos' else 2}.txt").write_text(
                    ("a fine good film " if label == "pos" else "a bad dull film ") * (i % 5 + 1))
    archive = tmp_path / "small.tar.gz"
    with tarfile.open(archive, "w:gz") as handle:
        handle.add(tmp_path / "tree" / "aclImdb", arcname="aclImdb")
    out = subprocess.run([sys.executable, "bench_cold_start.py", "--data", str(archive), "--json"],
                         cwd=BENCHMARKS, capture_output=True, text=True, check=True, timeout=600)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(result["cold_s"]) == len(result["warm_s"]) == 1
    compiled = result["compile_s"][0]
    for kernel in ("npembed.kernels.packing._pack_numba", "npembed.kernels.bags._pooled_lookup_numba",
                   "npembed.kernels.bags._pooled_lookup_backward_numba", "npembed.kernels.head._dense_head_numba"):
        assert compiled[kernel] > 0


def test_bench_kernels_in_context_times_each_kernel_both_ways():
    out = subprocess.run([sys.executable, "bench_kernels_in_context.py", "--rounds", "1", "--json"],
                         cwd=BENCHMARKS, capture_output=True, text=True, check=True, timeout=600)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    sequence = {"zero", "forward", "backward", "adam"}
    assert set(result["training sequence"]) == set(result["no prefetch"]) == set(result["32-bit ids"]) == sequence
    for name, key in (("forward", "forward"), ("backward", "backward"), ("adam", "adam"), ("zeroing", "zero")):
        assert result[f"{name} alone"][key] > 0
    assert set(result["other kernels alone"]) == {"validation forward", "head", "Dense Adam"}
    alone = result.pop("every kernel alone")
    total = alone.pop("in all")
    assert set(alone) == {"zeroing", "forward", "backward", "adam"} | set(result["other kernels alone"])
    assert alone["forward"] == result["forward alone"]["forward"]
    assert total == pytest.approx(sum(alone.values()))
    assert all(value > 0 for times in result.values() for value in times.values())


def test_bench_drift_times_one_and_two_threads_each_round():
    out = subprocess.run([sys.executable, "bench_drift.py", "--rounds", "2", "--pause", "0", "--json"],
                         cwd=BENCHMARKS, capture_output=True, text=True, check=True, timeout=600)
    rounds = json.loads(out.stdout.strip().splitlines()[-1])["rounds"]
    assert len(rounds) == 2
    for round_ in rounds:
        assert round_["threads_1_ms"] > 0
        assert set(round_) <= {"time", "threads_1_ms", "threads_2_ms"}


def test_the_kernels_the_benchmark_turns_off_give_the_same_bits():
    """npembed.kernels.bags says its results do not depend on PREFETCH_ENTRIES: the variant
    bench_kernels_in_context.py times (compiled with 0) gives the same bits, and so do 32-bit ids."""
    from npembed.kernels import bags
    compiled_with = benchmark_modules()[2].compiled_with
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 300, (200, 90)) * (rng.random((200, 90)) < 0.7)
    packed = bags.Bags.from_padded(ids.astype(np.int32))
    wide = bags.Bags(packed.ids.astype(np.int32), packed.counts, packed.offsets, packed.lengths, packed.steps)
    order = rng.permutation(200)
    table = rng.normal(size=(300, 16)).astype(np.float32)
    d_step = rng.normal(size=(200, 16)).astype(np.float32)
    results = []
    for source, constants in ((packed, {}), (packed, {"PREFETCH_ENTRIES": 0}), (wide, {})):
        batch = source.take(order)
        first_ids, cuts = source.split_by_owner(2)
        forward = compiled_with(bags._pooled_lookup_numba, **constants)
        backward = compiled_with(bags._pooled_lookup_backward_numba, **constants)
        pooled, grads = np.zeros((200, 16), np.float32), np.zeros((300, 16), np.float32)
        forward(batch.ids, batch.counts, batch.offsets, batch.lengths, batch.rows, batch.steps, table, False, pooled)
        backward(batch.ids, batch.counts, first_ids, cuts, batch.lengths, batch.rows, batch.steps, d_step, False, grads)
        results.append((pooled, grads))
    assert packed.ids.dtype == np.uint16
    for arrays in results[1:]:
        for a, b in zip(arrays, results[0]):
            np.testing.assert_array_equal(a, b)
    assert results[0][1].any()


def test_bench_pack_times_the_kernel_and_its_reference():
    out = subprocess.run([sys.executable, "bench_pack.py", "--repeats", "1", "--json"],
                         cwd=BENCHMARKS, capture_output=True, text=True, check=True, timeout=600)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(result) == 3
    for times in result.values():
        assert times["numba_ms"] > 0 and times["numpy_ms"] > 0

"""The benchmark scripts still run and print what issue 6 asks for (tiny settings: nothing is timed here)."""
import json
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def test_bench_epoch_prints_the_json_keys():
    out = subprocess.run([sys.executable, "bench_epoch.py", "--reviews", "600", "--epochs", "1", "--runs", "1",
                          "--reference-epochs", "1", "--no-torch", "--json"],
                         cwd=BENCHMARKS, capture_output=True, text=True, check=True, timeout=600)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ("epoch_s_median", "fit_30_s", "numpy_reference_epoch_s", "torch_epoch_s", "threads",
                "tokens_per_s", "peak_rss_mb", "first_epoch_s", "epoch_s_median_mask_zero"):
        assert key in result
    assert result["torch_epoch_s"] is None                  # --no-torch
    assert result["epoch_s_median"] > 0 and result["numpy_reference_epoch_s"] > 0
    assert "npembed numpy reference" in out.stdout
    parts = result["breakdown_ms_per_epoch"]            # kernels and the rest, per epoch
    assert len(parts) == 4 and all(ms > 0 for ms in parts.values())


def test_the_strongest_torch_form_pools_the_same_mean():
    """bench_epoch's PyTorch peer: distinct ids weighted by count / divisor are the (masked) mean."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import bench_epoch
    finally:
        sys.path.remove(str(BENCHMARKS))
    import numpy as np
    x = np.array([[5, 7, 5, 0, 0], [1, 2, 3, 4, 4]])
    table = np.random.default_rng(0).normal(size=(10, 3))
    for mask_zero in (False, True):
        for review, (ids, weights) in zip(x, bench_epoch.distinct_ids(x, mask_zero)):
            kept = review[review != 0] if mask_zero else review
            np.testing.assert_allclose(weights @ table[ids], table[kept].mean(axis=0), rtol=1e-6)
            if mask_zero:
                assert 0 not in ids
    try:
        import torch  # noqa: F401
    except ImportError:
        return                                           # the peer itself needs PyTorch
    x, y = bench_epoch.synthetic_reviews(200)
    assert bench_epoch.torch_bag_epoch_seconds(x, y, 10000, 4, False, 1, threads=1) > 0

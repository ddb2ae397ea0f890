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

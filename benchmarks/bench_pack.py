"""Packing padded reviews into Bags (each review's distinct ids and counts), as every fit, evaluate and
predict of the fused path does once: the Numba kernel beside its NumPy reference.

    python benchmarks/bench_pack.py --data ../shared/data/aclImdb_v1_labeled.tar.gz [--repeats 5] [--json]

Cases: the tutorial's training and validation reviews (20,000 and 5,000, maxlen 500, 10,000 words),
and 25,000 synthetic reviews with a vocabulary of 1,000,000 (where the per-id counters are largest).
Prints the median of the repeats, in ms, and one JSON line with --json.
"""
import json
import statistics
import time

import numpy as np

from bench_epoch import benchmark_parser, real_reviews, synthetic_reviews
from npembed.kernels import packing


def median_ms(function, argument, repeats):
    """Median wall time of function(argument) over repeats calls, in ms."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function(argument)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main(argv=None):
    parser = benchmark_parser(__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    x, _ = real_reviews(args.data) if args.data else synthetic_reviews()
    large_vocabulary, _ = synthetic_reviews(25000, 500, 1_000_000)
    cases = {"training reviews (20,000)": x[:20000], "validation reviews (5,000)": x[20000:],
             "25,000 synthetic, 1M words": large_vocabulary}
    result = {}
    print(f"{'case':<30}{'Numba kernel ms':>17}{'NumPy reference ms':>20}")
    for name, ids in cases.items():
        ids = np.ascontiguousarray(ids, dtype=np.int32)
        packing.pack(ids)                                   # compile or load the kernel
        result[name] = {"numba_ms": median_ms(packing.pack, ids, args.repeats),
                        "numpy_ms": median_ms(packing.pack_reference, ids, args.repeats)}
        print(f"{name:<30}{result[name]['numba_ms']:>17.1f}{result[name]['numpy_ms']:>20.1f}", flush=True)
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()

"""Time building IMDB from the raw archive (cold: read + tokenize + index) and loading it from the cache (warm).

    python benchmarks/bench_data.py --data ../shared/data/aclImdb_v1_labeled.tar.gz --json

Each measurement runs in a fresh process with a fresh cache folder, so it includes nothing left
over from an earlier run; the times exclude Python's and npembed's import.
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile

STEP = """
import os, sys, time, warnings
warnings.simplefilter("ignore")
from npembed.datasets import imdb
started = time.perf_counter()
(x_train, y_train), (x_test, y_test) = imdb.load_data(sys.argv[1], num_words=10000)
print(time.perf_counter() - started, len(x_train) + len(x_test))
"""


def timed_load(data, cache):
    out = subprocess.run([sys.executable, "-c", STEP, data], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "NPEMBED_CACHE": cache})
    seconds, reviews = out.stdout.split()
    return float(seconds), int(reviews)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="aclImdb .tar.gz or folder")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cold, warm = [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as cache:
            seconds, reviews = timed_load(args.data, cache)
            cold.append(seconds)
            warm.append(timed_load(args.data, cache)[0])
    result = {"reviews": reviews, "cold_s_median": statistics.median(cold), "warm_s_median": statistics.median(warm),
              "cold_s": cold, "warm_s": warm}
    print(f"{reviews:,} reviews from {args.data}")
    print(f"cold (read archive, tokenize, index, write cache): {result['cold_s_median']:.2f} s median of {cold}")
    print(f"warm (load_data from the cache):                  {result['warm_s_median']:.3f} s median of {warm}")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()

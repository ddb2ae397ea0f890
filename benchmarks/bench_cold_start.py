"""The README's main command on a first run: the IMDB cache and Numba's cache both empty.

    python benchmarks/bench_cold_start.py --data ../shared/data/aclImdb_v1_labeled.tar.gz [--runs 3] [--json]

Each run starts examples/imdb_sentiment.py (--quiet) in a fresh process with an empty NPEMBED_CACHE
and NUMBA_CACHE_DIR (what a fresh clone has), then once more with both caches filled (warm). It
prints the wall time of each, and how long Numba spent compiling each of npembed's kernels in the
cold run (from Numba's compile events; nested compilations are included in their caller's time).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Run inside the child: record Numba's compile events around the example, then print them as JSON.
RECORDER = """
import json, runpy, sys, time
from numba.core import event
started, spent = {}, {}
class Compiles(event.Listener):
    def on_start(self, ev):
        started[id(ev.data["dispatcher"]), str(ev.data["args"])] = time.perf_counter()
    def on_end(self, ev):
        function = ev.data["dispatcher"].py_func
        name = f"{function.__module__}.{function.__qualname__}"
        seconds = time.perf_counter() - started.pop((id(ev.data["dispatcher"]), str(ev.data["args"])))
        spent[name] = spent.get(name, 0.0) + seconds
event.register("numba:compile", Compiles())
sys.argv = sys.argv[1:]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
finally:
    print("COMPILES " + json.dumps({k: v for k, v in spent.items() if k.startswith("npembed.")}))
"""


def run_example(data, caches, out):
    """Wall seconds of one run of the example, and {kernel: compile seconds} in it."""
    env = dict(os.environ, NPEMBED_CACHE=str(caches / "imdb"), NUMBA_CACHE_DIR=str(caches / "numba"))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", RECORDER, str(ROOT / "examples" / "imdb_sentiment.py"),
                           "--data", data, "--quiet", "--out", str(out)],
                          capture_output=True, text=True, check=True, cwd=ROOT, env=env)
    seconds = time.perf_counter() - started
    line = next(line for line in done.stdout.splitlines() if line.startswith("COMPILES "))
    return seconds, json.loads(line[len("COMPILES "):])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="aclImdb archive or folder")
    parser.add_argument("--runs", type=int, default=1, help="cold runs, each with fresh caches")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args(argv)
    data = str(Path(args.data).resolve())
    cold, warm, compiles = [], [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            caches = Path(folder)
            seconds, kernels = run_example(data, caches, caches / "out")
            cold.append(seconds)
            compiles.append(kernels)
            warm.append(run_example(data, caches, caches / "out")[0])
    print(f"{'run':>4}{'cold s':>9}{'warm s':>9}   compiling npembed's kernels in the cold run")
    for number, (c, w, kernels) in enumerate(zip(cold, warm, compiles), start=1):
        print(f"{number:>4}{c:>9.2f}{w:>9.2f}   {sum(kernels.values()):.2f} s in all")
    print("\ncompile seconds per kernel (cold runs):")
    for name in sorted(compiles[0], key=lambda name: -compiles[0][name]):
        print(f"  {name:<48}" + " ".join(f"{kernels.get(name, 0.0):6.2f}" for kernels in compiles))
    result = {"cold_s": cold, "warm_s": warm, "cold_s_median": statistics.median(cold),
              "warm_s_median": statistics.median(warm), "compile_s": compiles}
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()

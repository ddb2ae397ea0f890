"""Time a training epoch of the tutorial's model: Numba kernels, NumPy references, and PyTorch if installed.

    python benchmarks/bench_epoch.py --data ../shared/data/aclImdb_v1_labeled.tar.gz --json
    python benchmarks/bench_epoch.py            # synthetic reviews with IMDB's length distribution

The epoch is the tutorial's: 20,000 reviews x 500 ids, batch 512, Adam, validation on 5,000 reviews
at its end. Each of --runs runs times --epochs epochs of both configurations (after one warm-up
epoch) and a whole 30-epoch fit; the reported figures are the medians over the runs of each run's
median. Prints a table; with --json, one JSON object as the last line.
"""
import argparse
import contextlib
import json
import resource
import statistics
import sys
import time

import numba
import numpy as np

import machine_probe
import npembed
from epoch_peers import jax_epoch_seconds, torch_bag_epoch_seconds, torch_epoch_seconds
from npembed import Sequential, layers, pad_sequences


def synthetic_reviews(n=25000, maxlen=500, vocab=10000, seed=0):
    """Padded ids (padding="post") whose lengths follow IMDB's (log-normal, median ~175 words,
    start id 1 first) and whose word ids follow a Zipf law over the vocabulary."""
    rng = np.random.default_rng(seed)
    lengths = np.minimum(np.clip(rng.lognormal(5.17, 0.72, n).astype(np.int64) + 2, 5, 2500), maxlen)
    ranks = np.arange(1, vocab - 3)
    p = 1.0 / (ranks + 2.7)
    x = np.zeros((n, maxlen), dtype=np.int32)
    is_word = np.arange(maxlen) < lengths[:, None]
    x[is_word] = rng.choice(ranks, size=int(lengths.sum()), p=p / p.sum()) + 3
    x[:, 0] = 1
    return x, rng.integers(0, 2, n)


def benchmark_parser(doc):
    """A benchmark script's ArgumentParser: the first line of its docstring ``doc``, --data and --json."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--data", help="aclImdb archive or folder (default: synthetic reviews)")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    return parser


def real_reviews(path, maxlen=500, vocab=10000):
    from npembed.datasets import imdb
    (x, y), _ = imdb.load_data(path, num_words=vocab)
    return pad_sequences(x, maxlen=maxlen, padding="post"), y


def tutorial_model(vocab, dim, mask_zero, seed=0):
    model = Sequential([layers.Embedding(vocab, dim, mask_zero=mask_zero), layers.GlobalAveragePooling1D(),
                        layers.Dense(16, activation="relu"), layers.Dense(1, activation="sigmoid")], seed=seed)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def time_epochs(x, y, vocab, dim, mask_zero, epochs, batch_size=512, around=contextlib.nullcontext):
    """Seconds per epoch (the first epoch, which may compile, excluded) and the model.
    ``around()`` is entered for the timed epochs only."""
    model = tutorial_model(vocab, dim, mask_zero)
    started = time.perf_counter()
    model.fit(x, y, epochs=1, batch_size=batch_size, validation_split=0.2, verbose=0)   # warm-up
    model.first_epoch_seconds = time.perf_counter() - started
    with around():
        history = model.fit(x, y, epochs=epochs, batch_size=batch_size, validation_split=0.2, verbose=0)
    return history.epoch_seconds, model


def epoch_breakdown(x, y, vocab, dim, epochs):
    """Milliseconds per epoch in each Numba kernel, and the rest (batching, checks, the Python around
    the kernels and the optimizer, small NumPy calls), over `epochs` epochs after a warm-up one. Each kernel's dispatch function
    is wrapped in a timer for the timed epochs and restored afterwards."""
    from npembed import kernels
    from npembed.kernels import bags, head
    names = {"pooled_lookup": "forward: embedding lookup + mean (Numba)",
             "pooled_lookup_backward": "backward: scatter-add into the table's gradient (Numba)",
             "dense_head": "head: Dense layers, loss, their backward (Numba)",
             "adam_update": "Adam update of every weight (Numba)"}
    modules = {"pooled_lookup": bags, "pooled_lookup_backward": bags, "dense_head": head, "adam_update": kernels}
    spent = dict.fromkeys(names, 0.0)
    originals = {name: getattr(modules[name], name) for name in names}

    def timed(name):
        def call(*args, **kwargs):
            started = time.perf_counter()
            try:
                return originals[name](*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - started
        return call

    @contextlib.contextmanager
    def kernels_timed():
        try:
            for name in names:
                setattr(modules[name], name, timed(name))
            yield
        finally:
            for name, function in originals.items():
                setattr(modules[name], name, function)
    seconds, _ = time_epochs(x, y, vocab, dim, False, epochs, around=kernels_timed)
    parts = {names[name]: kernel_seconds / epochs * 1000 for name, kernel_seconds in spent.items()}
    rest = sum(seconds) - sum(spent.values())
    parts["the rest: batching, checks, the optimizer's Python and NumPy"] = rest / epochs * 1000
    return parts


def main(argv=None):
    parser = benchmark_parser(__doc__)
    parser.add_argument("--epochs", type=int, default=10, help="timed epochs per configuration and run")
    parser.add_argument("--runs", type=int, default=3, help="repeated runs; the medians of their medians "
                        "are reported")
    parser.add_argument("--reference-epochs", type=int, default=2, help="timed epochs of the NumPy path")
    parser.add_argument("--reviews", type=int, default=25000, help="synthetic reviews (without --data)")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even when installed")
    parser.add_argument("--no-jax", action="store_true", help="skip JAX even when installed")
    args = parser.parse_args(argv)

    vocab, dim = 10000, 16
    started = time.perf_counter()
    x, y = real_reviews(args.data) if args.data else synthetic_reviews(args.reviews)
    data_source = args.data or "synthetic (IMDB lengths, Zipf ids)"
    tokens_per_epoch = int((x != 0).sum() * 0.8)
    print(f"data: {data_source}, {len(x):,} reviews x {x.shape[1]} ids "
          f"({time.perf_counter() - started:.1f}s to load)", flush=True)

    rows, result = [], {}
    runs = {False: [], True: []}
    fits, probes, breakdowns = [], [], []
    for run in range(args.runs):               # repeated runs: the host's noise drifts over minutes
        probes.append(machine_probe.probe())   # how fast the host is right now (see machine_probe.py)
        for mask_zero in (False, True):
            seconds, model = time_epochs(x, y, vocab, dim, mask_zero, args.epochs)
            runs[mask_zero].append(statistics.median(seconds))
            if run == 0 and not mask_zero:
                # the very first epoch of the process: includes loading (or compiling) the kernels
                result["first_epoch_s"] = model.first_epoch_seconds
        fit_started = time.perf_counter()
        tutorial_model(vocab, dim, False).fit(x, y, epochs=30, batch_size=512, validation_split=0.2,
                                              verbose=0)
        fits.append(time.perf_counter() - fit_started)
        breakdowns.append(epoch_breakdown(x, y, vocab, dim, args.epochs))
    result["epoch_s_median"] = statistics.median(runs[False])
    result["epoch_s_median_mask_zero"] = statistics.median(runs[True])
    result["epoch_s_run_medians"] = runs[False]
    result["epoch_s_run_medians_mask_zero"] = runs[True]
    result["fit_30_s"] = statistics.median(fits)
    result["fit_30_s_runs"] = fits
    rows.append(("npembed numba, mask_zero=False", result["epoch_s_median"]))
    rows.append(("npembed numba, mask_zero=True", result["epoch_s_median_mask_zero"]))
    result["breakdown_ms_per_epoch"] = {part: statistics.median(b[part] for b in breakdowns) for part in breakdowns[0]}
    result["runs"] = [{"epoch_ms": seconds * 1000, "epoch_ms_mask_zero": masked * 1000, "fit_30_s": fit,
                       "probe": probe, "breakdown_ms_per_epoch": breakdown}
                      for seconds, masked, fit, probe, breakdown in zip(runs[False], runs[True], fits, probes,
                                                                        breakdowns)]
    npembed.set_kernels("numpy")
    try:
        seconds, _ = time_epochs(x, y, vocab, dim, False, args.reference_epochs)
    finally:
        npembed.set_kernels("numba")
    result["numpy_reference_epoch_s"] = statistics.median(seconds)
    rows.append(("npembed numpy reference, mask_zero=False", result["numpy_reference_epoch_s"]))
    torch_seconds = None if args.no_torch else torch_epoch_seconds(x, y, vocab, dim, False, args.epochs)
    result["torch_epoch_s"] = torch_seconds
    if torch_seconds is not None:
        import torch
        rows.append((f"PyTorch {torch.__version__} nn.EmbeddingBag (mean), padded", torch_seconds))
        # the strongest form, on 1 and 2 threads (the faster is the peer)
        for threads in (1, 2):
            seconds = torch_bag_epoch_seconds(x, y, vocab, dim, False, args.epochs, threads)
            result[f"torch_bag_epoch_s_{threads}_threads"] = seconds
            rows.append((f"PyTorch distinct ids, embedding_bag sum, {threads} thread(s)", seconds))
        result["torch_strongest_epoch_s"] = min(result["torch_bag_epoch_s_1_threads"],
                                                result["torch_bag_epoch_s_2_threads"])
        result["npembed_vs_strongest_torch"] = result["torch_strongest_epoch_s"] / result["epoch_s_median"]
    jax_seconds = None if args.no_jax else jax_epoch_seconds(x, y, vocab, dim, False, args.epochs)
    result["jax_epoch_s"] = jax_seconds
    if jax_seconds is not None:
        import jax
        rows.append((f"JAX {jax.__version__} whole epoch in one jit, distinct ids, segment_sum", jax_seconds))
    peers = [seconds for seconds in (result.get("torch_strongest_epoch_s"), jax_seconds) if seconds is not None]
    result["strongest_peer_epoch_s"] = min(peers) if peers else None
    result["npembed_vs_strongest_peer"] = min(peers) / result["epoch_s_median"] if peers else None

    result.update({
        "threads": numba.get_num_threads(),
        "tokens_per_s": tokens_per_epoch / result["epoch_s_median"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "data": data_source,
    })
    fastest = result["epoch_s_median"]
    print(f"\n{'implementation':<62}{'epoch (median)':>16}{'vs npembed':>12}")
    for name, seconds in rows:
        print(f"{name:<62}{seconds * 1000:>13.1f} ms{seconds / fastest:>11.1f}x")
    print(f"\n{'where an epoch goes (mask_zero=False, median of the runs)':<72}{'ms per epoch':>14}")
    for name, ms in result["breakdown_ms_per_epoch"].items():
        print(f"{name:<72}{ms:>14.1f}")
    print("\nrun by run: the host's speed (machine_probe.py) beside npembed's epoch and where it went")
    print(f"{'run':>4}{'chain ns':>10}{'memory ns':>11}{'region us':>11}{'woken us':>10}{'epoch ms':>10}"
          f"{'masked':>8}{'fit s':>7}{'fwd':>7}{'bwd':>7}{'head':>7}{'Adam':>7}{'rest':>7}")
    for number, run in enumerate(result["runs"], start=1):
        probe, parts = run["probe"], list(run["breakdown_ms_per_epoch"].values())
        print(f"{number:>4}{probe['compute_ns']:>10.2f}{probe['memory_ns']:>11.1f}{probe['region_us']:>11.1f}"
              f"{probe['region_after_sleep_us']:>10.1f}"
              f"{run['epoch_ms']:>10.1f}{run['epoch_ms_mask_zero']:>8.1f}{run['fit_30_s']:>7.2f}"
              + "".join(f"{ms:>7.1f}" for ms in parts))
    print(f"\nfirst epoch of the process (loads, or on a fresh checkout compiles, the kernels): "
          f"{result['first_epoch_s']:.2f} s")
    print("epoch medians of the runs: " + ", ".join(f"{s * 1000:.1f}" for s in runs[False]) + " ms (mask_zero "
          + ", ".join(f"{s * 1000:.1f}" for s in runs[True]) + " ms)")
    print(f"30-epoch fit: {result['fit_30_s']:.2f} s (median of " + ", ".join(f"{s:.2f}" for s in fits)
          + f" s); {result['tokens_per_s'] / 1e6:.0f} M real tokens/s; "
          f"{result['threads']} threads; peak RSS {result['peak_rss_mb']:.0f} MB")
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
    sys.exit(0)

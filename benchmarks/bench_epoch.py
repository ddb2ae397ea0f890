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

import npembed
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
    """Milliseconds per epoch in each Numba kernel, and the rest (the NumPy Dense layers, loss and
    batching, in Python), over `epochs` epochs after a warm-up one. Each kernel's dispatch function
    is wrapped in a timer for the timed epochs and restored afterwards."""
    from npembed import bags, kernels
    names = {"pooled_lookup": "forward: embedding lookup + mean (Numba)",
             "pooled_lookup_backward": "backward: scatter-add into the gradient (Numba)",
             "adam_update": "Adam update of every weight (Numba)"}
    modules = {"pooled_lookup": bags, "pooled_lookup_backward": bags, "adam_update": kernels}
    spent = dict.fromkeys(names, 0.0)
    originals = {name: getattr(modules[name], name) for name in names}

    def timed(name):
        def call(*args):
            started = time.perf_counter()
            try:
                return originals[name](*args)
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
    parts["the rest: Dense layers, loss, batching (NumPy and Python)"] = rest / epochs * 1000
    return parts


def torch_epoch_seconds(x, y, vocab, dim, mask_zero, epochs, batch_size=512):
    """The same model in PyTorch (nn.EmbeddingBag, mean), same epoch; None without PyTorch."""
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    split = int(len(x) * 0.8)
    if mask_zero:
        bag = torch.nn.EmbeddingBag(vocab, dim, mode="mean", padding_idx=0)
    else:
        bag = torch.nn.EmbeddingBag(vocab, dim, mode="mean")
    head = torch.nn.Sequential(torch.nn.Linear(dim, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    params = list(bag.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(params, lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    xt, yt = torch.from_numpy(x.astype(np.int64)), torch.from_numpy(y.astype(np.float32))

    def train_step(rows):
        optimizer.zero_grad()
        loss = loss_fn(head(bag(xt[rows]))[:, 0], yt[rows])
        loss.backward()
        optimizer.step()

    def validate(rows):
        loss_fn(head(bag(xt[rows]))[:, 0], yt[rows])

    return torch_epochs_median(len(x), split, epochs, batch_size, train_step, validate)


def torch_epochs_median(n, split, epochs, batch_size, train_step, validate):
    """Median seconds of `epochs` epochs (after one warm-up): train_step(rows) over shuffled batches
    of the first `split` reviews, then validate(rows) over the rest without gradients."""
    import torch
    times, rng = [], np.random.default_rng(0)
    for _ in range(epochs + 1):
        started = time.perf_counter()
        order = torch.from_numpy(rng.permutation(split))
        for start in range(0, split, batch_size):
            train_step(order[start:start + batch_size])
        with torch.no_grad():
            for start in range(split, n, batch_size):
                validate(torch.arange(start, min(start + batch_size, n)))
        times.append(time.perf_counter() - started)
    return statistics.median(times[1:])


def distinct_ids(x, mask_zero):
    """Each review as its distinct ids and their weights (count / the mean's divisor): (ids, weights)
    per review, so that a weighted sum over distinct ids is the masked (or unmasked) mean."""
    bags = []
    for review in x:
        ids, counts = np.unique(review, return_counts=True)
        if mask_zero:
            counts, ids = counts[ids != 0], ids[ids != 0]
        bags.append((ids.astype(np.int64), (counts / max(counts.sum(), 1)).astype(np.float32)))
    return bags


def torch_bag_epoch_seconds(x, y, vocab, dim, mask_zero, epochs, threads, batch_size=512):
    """The strongest PyTorch form we know for this model: each review's distinct ids with weights,
    F.embedding_bag(mode="sum", per_sample_weights) forward, an index_add_ backward written out
    (PyTorch's own is slower), fused Adam; None without PyTorch. threads: torch.set_num_threads."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None
    torch.set_num_threads(threads)
    torch.manual_seed(0)

    class WeightedBag(torch.autograd.Function):
        @staticmethod
        def forward(ctx, table, ids, offsets, weights, owner):
            ctx.save_for_backward(ids, weights, owner)
            ctx.rows = table.shape[0]
            return F.embedding_bag(ids, table, offsets, mode="sum", per_sample_weights=weights)

        @staticmethod
        def backward(ctx, d_pooled):
            ids, weights, owner = ctx.saved_tensors
            d_table = torch.zeros(ctx.rows, d_pooled.shape[1]).index_add_(0, ids, d_pooled[owner] * weights[:, None])
            return d_table, None, None, None, None

    split = int(len(x) * 0.8)
    bags = distinct_ids(x, mask_zero)
    table = torch.nn.Parameter(torch.empty(vocab, dim).uniform_(-0.05, 0.05))
    head = torch.nn.Sequential(torch.nn.Linear(dim, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    optimizer = torch.optim.Adam([table, *head.parameters()], lr=1e-3, eps=1e-7, fused=True)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    yt = torch.from_numpy(y.astype(np.float32))

    def batch(rows):
        chosen = [bags[i] for i in rows]
        lengths = np.array([len(ids) for ids, _ in chosen])
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        return (torch.from_numpy(np.concatenate([ids for ids, _ in chosen])), torch.from_numpy(offsets),
                torch.from_numpy(np.concatenate([w for _, w in chosen])),
                torch.from_numpy(np.repeat(np.arange(len(rows)), lengths)))

    def train_step(rows):
        optimizer.zero_grad()
        loss = loss_fn(head(WeightedBag.apply(table, *batch(rows.numpy())))[:, 0], yt[rows])
        loss.backward()
        optimizer.step()

    def validate(rows):
        ids, offsets, weights, _ = batch(rows.numpy())
        pooled = F.embedding_bag(ids, table, offsets, mode="sum", per_sample_weights=weights)
        loss_fn(head(pooled)[:, 0], yt[rows])

    return torch_epochs_median(len(x), split, epochs, batch_size, train_step, validate)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="aclImdb archive or folder (default: synthetic reviews)")
    parser.add_argument("--epochs", type=int, default=10, help="timed epochs per configuration and run")
    parser.add_argument("--runs", type=int, default=3, help="repeated runs; the medians of their medians "
                        "are reported")
    parser.add_argument("--reference-epochs", type=int, default=2, help="timed epochs of the NumPy path")
    parser.add_argument("--reviews", type=int, default=25000, help="synthetic reviews (without --data)")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even when installed")
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
    fits = []
    for run in range(args.runs):               # repeated runs: the host's noise drifts over minutes
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
    result["epoch_s_median"] = statistics.median(runs[False])
    result["epoch_s_median_mask_zero"] = statistics.median(runs[True])
    result["epoch_s_run_medians"] = runs[False]
    result["epoch_s_run_medians_mask_zero"] = runs[True]
    result["fit_30_s"] = statistics.median(fits)
    result["fit_30_s_runs"] = fits
    rows.append(("npembed numba, mask_zero=False", result["epoch_s_median"]))
    rows.append(("npembed numba, mask_zero=True", result["epoch_s_median_mask_zero"]))
    result["breakdown_ms_per_epoch"] = epoch_breakdown(x, y, vocab, dim, args.epochs)
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

    result.update({
        "threads": numba.get_num_threads(),
        "tokens_per_s": tokens_per_epoch / result["epoch_s_median"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "data": data_source,
    })
    fastest = result["epoch_s_median"]
    print(f"\n{'implementation':<48}{'epoch (median)':>16}{'vs npembed':>12}")
    for name, seconds in rows:
        print(f"{name:<48}{seconds * 1000:>13.1f} ms{seconds / fastest:>11.1f}x")
    print(f"\n{'where an epoch goes (mask_zero=False, one more run)':<64}{'ms per epoch':>14}")
    for name, ms in result["breakdown_ms_per_epoch"].items():
        print(f"{name:<64}{ms:>14.1f}")
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

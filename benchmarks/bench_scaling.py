"""How the epoch time grows with reviews, maxlen, vocabulary and embedding dim (one axis at a time).

    python benchmarks/bench_scaling.py [--runs 2] [--json]

Synthetic reviews with IMDB's length distribution (see bench_epoch.synthetic_reviews); the
tutorial's model and epoch (batch 512, validation_split 0.2, Keras-form dense Adam). Baseline:
25,000 reviews, maxlen 500, vocabulary 10,000, dim 16. Prints a markdown table. With --runs N each
row is measured N times (the whole table over, so that runs fall in different minutes of a noisy
host) and the fastest run's median is reported.
"""
import argparse
import json
import statistics


from bench_epoch import synthetic_reviews, time_epochs

BASE = {"reviews": 25000, "maxlen": 500, "vocab": 10000, "dim": 16}
AXES = {
    "reviews": [5000, 25000, 100000, 200000],
    "maxlen": [100, 500, 1000, 2000],
    "vocab": [10000, 100000, 1000000],
    "dim": [8, 16, 64, 256],
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--runs", type=int, default=1, help="measure every row this many times")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = {}
    for run in range(args.runs):
        for axis, values in AXES.items():
            for value in values:
                setting = dict(BASE, **{axis: value})
                x, y = synthetic_reviews(setting["reviews"], setting["maxlen"], setting["vocab"])
                seconds, _ = time_epochs(x, y, setting["vocab"], setting["dim"], False, args.epochs)
                tokens = int((x[: int(len(x) * 0.8)] != 0).sum())
                row = rows.setdefault((axis, value), dict(setting, axis=axis, tokens=tokens, runs=[]))
                row["runs"].append(statistics.median(seconds))
                del x, y
    print("| varied | reviews | maxlen | vocab | dim | real ids / epoch | epoch (fastest run) | ns per real id |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows.values():
        row["epoch_s"] = min(row["runs"])
        print(f"| {row['axis']} | {row['reviews']:,} | {row['maxlen']:,} | {row['vocab']:,} | {row['dim']} | "
              f"{row['tokens'] / 1e6:.1f} M | {row['epoch_s'] * 1000:.0f} ms | "
              f"{row['epoch_s'] / row['tokens'] * 1e9:.1f} |", flush=True)
    if args.json:
        print(json.dumps(list(rows.values())))


if __name__ == "__main__":
    main()

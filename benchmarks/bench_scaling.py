"""How the epoch time grows with reviews, maxlen, vocabulary and embedding dim (one axis at a time).

    python benchmarks/bench_scaling.py [--json]

Synthetic reviews with IMDB's length distribution (see bench_epoch.synthetic_reviews); the
tutorial's model and epoch (batch 512, validation_split 0.2, Keras-form dense Adam). Baseline:
25,000 reviews, maxlen 500, vocabulary 10,000, dim 16. Prints a markdown table.
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
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    print("| varied | reviews | maxlen | vocab | dim | real ids / epoch | epoch (median) | ns per real id |")
    print("|---|---|---|---|---|---|---|---|")
    for axis, values in AXES.items():
        for value in values:
            setting = dict(BASE, **{axis: value})
            x, y = synthetic_reviews(setting["reviews"], setting["maxlen"], setting["vocab"])
            seconds, _ = time_epochs(x, y, setting["vocab"], setting["dim"], False, args.epochs)
            epoch = statistics.median(seconds)
            tokens = int((x[: int(len(x) * 0.8)] != 0).sum())
            rows.append(dict(setting, axis=axis, epoch_s=epoch, tokens=tokens))
            print(f"| {axis} | {setting['reviews']:,} | {setting['maxlen']:,} | {setting['vocab']:,} | "
                  f"{setting['dim']} | {tokens / 1e6:.1f} M | {epoch * 1000:.0f} ms | {epoch / tokens * 1e9:.1f} |",
                  flush=True)
            del x, y
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()

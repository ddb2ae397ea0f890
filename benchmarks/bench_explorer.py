"""What the explorer costs the tutorial run: 30 epochs with and without EmbeddingSnapshots of the
500 most frequent words, and the time to write explorer.html, side by side in one run.

    python benchmarks/bench_explorer.py --data ../shared/data/aclImdb_v1_labeled.tar.gz --json

Prints a table, then (with --json) one JSON line.
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from npembed import Sequential, layers, pad_sequences
from npembed.study import explorer
from npembed.callbacks import EmbeddingSnapshots
from npembed.datasets import imdb


def fit(x, y, callbacks):
    """The tutorial's model and fit; returns (model, seconds)."""
    model = Sequential([layers.Embedding(10000, 16), layers.GlobalAveragePooling1D(),
                        layers.Dense(16, activation="relu"), layers.Dense(1, activation="sigmoid")], seed=0)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    started = time.perf_counter()
    model.fit(x, y, epochs=30, batch_size=512, validation_split=0.2, verbose=0, callbacks=callbacks)
    return model, time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    (x, y), _ = imdb.load_data(args.data, num_words=10000)
    x = pad_sequences(x, maxlen=500, padding="post")
    counts = imdb.counts_by_id(10000, path=args.data)
    shown = explorer.top_rows(counts, first=imdb.INDEX_FROM + 1)
    words = imdb.words_by_id(10000, imdb.get_word_index(args.data))
    fit(x, y, [])                                                   # compile and warm up
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "explorer.html"
        for _ in range(args.repeats):
            _, plain = fit(x, y, [])
            snapshots = EmbeddingSnapshots(rows=shown)
            model, watched = fit(x, y, [snapshots])
            started = time.perf_counter()
            explorer.write_sentiment_html(model, np.stack(snapshots.snapshots), [words[i] for i in shown], page,
                                          counts=counts[shown], epochs=snapshots.epochs)
            runs.append({"fit_s": plain, "fit_with_snapshots_s": watched,
                         "write_page_s": time.perf_counter() - started, "page_mb": page.stat().st_size / 2**20})
    print(f"{'fit (s)':>9}{'with snapshots (s)':>20}{'write page (s)':>16}{'page (MB)':>11}")
    for run in runs:
        print(f"{run['fit_s']:>9.3f}{run['fit_with_snapshots_s']:>20.3f}{run['write_page_s']:>16.3f}{run['page_mb']:>11.2f}")
    if args.json:
        print(json.dumps({"words_shown": int(len(shown)), "snapshots": 31, "runs": runs}))


if __name__ == "__main__":
    sys.exit(main())

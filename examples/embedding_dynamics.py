"""Watch the tutorial's embeddings learn: snapshots every epoch, then maps, trajectories and neighbours.

    python examples/embedding_dynamics.py --data ../shared/data/aclImdb_v1_labeled.tar.gz

Writes to --out (default out/embedding_dynamics/): word_map.png (the 500 most frequent words by PCA,
coloured by their score along the learned sentiment direction), trajectories.png (chosen words'
scores epoch by epoch), movement.png (how far each word moved against how often it occurs),
neighbors.md ("beautiful"'s nearest neighbours at chosen epochs) and snapshots.npz.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

from npembed import Sequential, layers, pad_sequences
from npembed.study import analysis
from npembed.study import explorer
from npembed.study import plotting
from npembed.atomic import atomic_write
from npembed.callbacks import EmbeddingSnapshots
from npembed.datasets import imdb

TRACKED = ("great", "awful", "beautiful", "boring", "the", "and")
FIRST_WORD = imdb.INDEX_FROM + 1      # ids below it are reserved (<PAD>, <START>, <UNK>, <UNUSED>)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="aclImdb .tar.gz or folder (default: NPEMBED_IMDB, cache, download)")
    parser.add_argument("--out", default="out/embedding_dynamics")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--vocab-size", type=int, default=10000)
    parser.add_argument("--maxlen", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--map-words", type=int, default=500, help="how many frequent words the map shows")
    parser.add_argument("--query", default="beautiful", help="word whose neighbours are tabulated")
    args = parser.parse_args(argv)
    for name in ("epochs", "maxlen", "map_words"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.vocab_size <= FIRST_WORD:
        parser.error(f"--vocab-size must be > {FIRST_WORD}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        parser.error(f"--out {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)

    (train_data, train_labels), _ = imdb.load_data(args.data, num_words=args.vocab_size)
    word_index = imdb.get_word_index(args.data)
    x = pad_sequences(train_data, maxlen=args.maxlen, padding="post")
    del train_data
    words = imdb.words_by_id(args.vocab_size, word_index)
    counts = imdb.counts_by_id(args.vocab_size, path=args.data)

    model = Sequential([layers.Embedding(args.vocab_size, 16), layers.GlobalAveragePooling1D(),
                        layers.Dense(16, activation="relu"), layers.Dense(1, activation="sigmoid")],
                       seed=args.seed)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    snapshots = EmbeddingSnapshots(every="epoch", path=out / "snapshots.npz")
    model.fit(x, train_labels, epochs=args.epochs, batch_size=512, validation_split=0.2, verbose=1,
              callbacks=[snapshots])

    direction = analysis.sentiment_direction(model)
    final = snapshots.snapshots[-1]
    scores = final @ direction
    frequent = np.arange(FIRST_WORD, min(args.vocab_size, FIRST_WORD + args.map_words))
    points, _, explained = analysis.pca(final[frequent], 2)
    plotting.plot_word_map(points, [words[i] for i in frequent], scores[frequent], out / "word_map.png",
                           labelled=TRACKED + ("excellent", "worst", "wonderful", "terrible", "movie",
                                               "film", "waste", "perfect", "bad", "good"),
                           title=f"{len(frequent)} most frequent words, PCA "
                                 f"({explained.sum():.0%} of variance), epoch {args.epochs}")
    tracked = [w for w in TRACKED if w in words]
    tracked_ids = [words.index(w) for w in tracked]
    trajectory = np.stack([table[tracked_ids] @ direction for table in snapshots.snapshots])
    plotting.plot_trajectories(snapshots.epochs, trajectory, tracked, out / "trajectories.png")
    real = np.arange(FIRST_WORD, args.vocab_size)
    plotting.plot_movement_vs_frequency(counts[real], analysis.movement(snapshots.snapshots)[real],
                                        out / "movement.png")

    shown = explorer.top_rows(counts, first=FIRST_WORD)                  # the 500 most frequent words
    explorer.write_sentiment_html(model, np.stack(snapshots.snapshots)[:, shown], [words[i] for i in shown],
                                  out / "explorer.html", counts=counts[shown], epochs=snapshots.epochs)

    chosen = [e for e in (1, 5, 10, 30, args.epochs) if e <= args.epochs]
    chosen = sorted(set(chosen))
    lines = [f"| epoch | nearest neighbours of \"{args.query}\" (cosine) |", "|---|---|"]
    if args.query in words:
        tables = [snapshots.snapshots[snapshots.epochs.index(e)] for e in chosen]
        for epoch, neighbours in zip(chosen, analysis.neighbors_over_time(tables, words, args.query)):
            lines.append(f"| {epoch} | {', '.join(neighbours)} |")
    else:
        lines.append(f"| - | {args.query!r} is not in the vocabulary |")
    table = "\n".join(lines) + "\n"
    with atomic_write(out / "neighbors.md", "w", encoding="utf-8") as handle:
        handle.write(table)
    print("\n" + table)
    print(f"Wrote word_map.png, trajectories.png, movement.png, explorer.html, neighbors.md and snapshots.npz "
          f"to {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())

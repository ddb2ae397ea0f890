"""TensorFlow's "Word embeddings" tutorial with npembed alone: raw IMDB reviews to explorable vectors.

    python examples/imdb_sentiment.py --data ../shared/data/aclImdb_v1_labeled.tar.gz

Loads IMDB (10,000 words), pads to 500 ids, trains Embedding(10000, 16) -> GlobalAveragePooling1D
-> Dense(16, relu) -> Dense(1, sigmoid) for 30 epochs, evaluates on the test reviews, and writes to
--out: history.png, vecs.tsv + meta.tsv + projector_config.pbtxt (Embedding Projector / TensorBoard),
model.npz and metrics.json. Then prints nearest neighbours and the most positive / negative words.
"""
import argparse
import contextlib
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

import npembed
from npembed import Sequential, interrupts, layers, pad_sequences, scripts, warmup
from npembed.study import analysis, explorer
from npembed.wordvectors import projector
from npembed.callbacks import EmbeddingSnapshots
from npembed.atomic import atomic_write
from npembed.datasets import imdb, reading

QUERY_WORDS = ("beautiful", "wonderful", "awful", "boring", "funny")
FIRST_WORD = imdb.INDEX_FROM + 1      # ids below it are reserved (<PAD>, <START>, <UNK>, <UNUSED>)


class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are one line on stderr (exit code 2), without the usage text."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def positive_int(minimum, maximum=None):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            bounds = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {value}")
        return value
    return parse


def parse_args(argv=None):
    """The flags, each checked; then the output folder and the data, before any work is done."""
    parser = OneLineParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="aclImdb .tar.gz or folder (default: $NPEMBED_IMDB, the cache, "
                                       "or download the official archive)")
    parser.add_argument("--out", default="out/imdb_sentiment", help="output folder")
    parser.add_argument("--epochs", type=positive_int(1, 100_000), default=30)
    parser.add_argument("--batch-size", type=positive_int(1, 2**31 - 1), default=512)
    parser.add_argument("--maxlen", type=positive_int(1, 1_000_000), default=500)
    parser.add_argument("--vocab-size", type=positive_int(FIRST_WORD + 1, 2**31 - 1), default=10000,
                        help=f"num_words of load_data (ids below it are kept); must exceed {FIRST_WORD}")
    parser.add_argument("--embedding-dim", type=positive_int(1, 100_000), default=16)
    parser.add_argument("--mask-zero", action="store_true", help="average only real words, not padding")
    parser.add_argument("--seed", type=positive_int(0, 2**63 - 1), default=0)
    parser.add_argument("--kernels", choices=("numba", "numpy"), default="numba")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    args = parser.parse_args(argv)
    if args.data is not None:
        try:
            reading.check_readable(args.data)
        except (OSError, ValueError) as error:
            parser.error(f"argument --data: {error}")
    try:
        args.created_out = prepare_output(Path(args.out))
    except OSError as error:
        parser.error(f"argument --out: {error}")
    return args


def prepare_output(out):
    """Make sure files can be written into out (creating it if needed); returns the folders created."""
    existing = out
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise NotADirectoryError(f"{existing} is not a folder, so {out} cannot be one")
    created = [parent for parent in [out, *out.parents] if not parent.exists()]
    out.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        remove_if_empty(created)
        raise OSError(f"cannot write into {out}: {error.strerror}") from None
    return created


def remove_if_empty(folders):
    for folder in folders:                       # deepest first
        with contextlib.suppress(OSError):
            folder.rmdir()


def write_explorer(model, snapshots, words, shown, counts, out):
    """explorer.html (the shown words moving epoch by epoch, coloured by their score along the final
    model's sentiment direction) and snapshots.npz (what `python -m npembed explore` reads)."""
    tables = np.stack(snapshots.snapshots)                                # (epochs + 1, words shown, dim)
    scores = explorer.sentiment_scores(model, tables)                     # computed once, for both files
    explorer.write_html(tables, [words[i] for i in shown], out / "explorer.html", scores=scores,
                        counts=counts[shown], epochs=snapshots.epochs, score_label="sentiment")
    with atomic_write(out / "snapshots.npz") as handle:
        np.savez(handle, snapshots=tables, epochs=np.array(snapshots.epochs), rows=shown, scores=scores)


def main(argv=None):
    args = parse_args(argv)
    try:
        return run(args)
    except BaseException:
        remove_if_empty(args.created_out)        # a failed first run leaves no empty --out behind
        raise


def run(args):
    npembed.set_kernels(args.kernels)
    started = time.perf_counter()
    out = Path(args.out)
    model = Sequential([                     # built first: an impossible size fails before any work
        layers.Embedding(args.vocab_size, args.embedding_dim, mask_zero=args.mask_zero),
        layers.GlobalAveragePooling1D(),
        layers.Dense(16, activation="relu"),
        layers.Dense(1, activation="sigmoid"),
    ], seed=args.seed)
    model.build((None, args.maxlen))

    # 1. data; on a first run, the reviews are tokenized in another process while the kernels compile
    t = time.perf_counter()
    tokenizing = imdb.build_in_background(args.data)
    warmup.warm_up(model)
    # matplotlib takes ~0.25 s to import: imported here rather than at the top, the tokenizing process
    # starts that much sooner, and the import fills time that is spent waiting for that process anyway
    from npembed.study import plotting
    if tokenizing is not None:
        tokenizing.join()
    (train_data, train_labels), (test_data, test_labels) = imdb.load_data(args.data, num_words=args.vocab_size)
    word_index = imdb.get_word_index(args.data)
    print("First review, decoded:", imdb.decode_review(train_data[0], word_index)[:300], "...")
    train_x = pad_sequences(train_data, maxlen=args.maxlen, padding="post")
    del train_data                            # the padded array is all that training needs
    data_seconds = time.perf_counter() - t
    print(f"Loaded {len(train_x):,} training and {len(test_data):,} test reviews in {data_seconds:.2f}s")

    # 2. model
    model.summary()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])

    # 3. train (keeping the 500 most frequent words' vectors after every epoch, for explorer.html),
    # 4. evaluate
    counts = imdb.counts_by_id(args.vocab_size, path=args.data)
    shown = explorer.top_rows(counts, first=FIRST_WORD)
    snapshots = EmbeddingSnapshots(rows=shown)
    t = time.perf_counter()
    history = model.fit(train_x, train_labels, epochs=args.epochs, batch_size=args.batch_size,
                        validation_split=0.2, verbose=0 if args.quiet else 1, callbacks=[snapshots])
    fit_seconds = time.perf_counter() - t
    del train_x                               # padded test reviews next: never both at once (memory)
    test_x = pad_sequences(test_data, maxlen=args.maxlen, padding="post")
    del test_data
    test_loss, test_accuracy = model.evaluate(test_x, test_labels, batch_size=args.batch_size)
    print(f"Trained {args.epochs} epochs in {fit_seconds:.2f}s; "
          f"test loss {test_loss:.4f}, test accuracy {test_accuracy:.4f}")

    # 5. what the model learned: neighbours, and the words it reads as most positive / negative
    vectors = model.get_weights()[0]
    words = imdb.words_by_id(args.vocab_size, word_index)      # meta.tsv row i names id i
    print("\nNearest neighbours (cosine):")
    neighbours = {}
    for word in QUERY_WORDS:
        if word in words:
            neighbours[word] = projector.nearest_neighbors(vectors, words, word, topn=8)
            print(f"  {word:>10}: " + ", ".join(w for w, _ in neighbours[word]))
    scores = analysis.word_sentiment(model)
    real_ids = np.arange(FIRST_WORD, args.vocab_size)
    ranked = real_ids[np.argsort(scores[real_ids], kind="stable")]
    most_negative = [words[i] for i in ranked[:15]]
    most_positive = [words[i] for i in ranked[::-1][:15]]
    print("Most positive words:", ", ".join(most_positive))
    print("Most negative words:", ", ".join(most_negative))

    logs = history.history
    metrics = {
        "final_val_accuracy": logs["val_accuracy"][-1],
        "best_val_accuracy": max(logs["val_accuracy"]),
        "test_accuracy": test_accuracy, "test_loss": test_loss,
        "history": logs, "epoch_seconds": history.epoch_seconds,
        "data_seconds": data_seconds, "fit_seconds": fit_seconds,
        "total_seconds": time.perf_counter() - started,
        "seed": args.seed, "settings": {key: value for key, value in vars(args).items() if key != "created_out"},
        "neighbors": {word: [[w, round(s, 4)] for w, s in pairs] for word, pairs in neighbours.items()},
        "most_positive_words": most_positive, "most_negative_words": most_negative,
        "versions": {"npembed": npembed.__version__, "numpy": np.__version__,
                     "python": platform.python_version(), "kernels": npembed.get_kernels(),
                     "threads": int(os.environ.get("NUMBA_NUM_THREADS", 0)) or None},
    }
    # 6. files, all written or none: Ctrl-C waits until the last one is in place
    with interrupts.holding():
        plotting.plot_history(history, out / "history.png")
        projector.export_projector(vectors, words, out)
        write_explorer(model, snapshots, words, shown, counts, out)
        model.save(out / "model.npz")
        with atomic_write(out / "metrics.json", "w", encoding="utf-8") as handle:
            json.dump(metrics, handle, indent=2)
    print(f"\nWrote history.png, vecs.tsv, meta.tsv, projector_config.pbtxt, explorer.html, snapshots.npz, "
          f"model.npz and metrics.json "
          f"to {out}/ in {metrics['total_seconds']:.1f}s in all.")
    print(f"Explore: upload vecs.tsv and meta.tsv at https://projector.tensorflow.org, "
          f"or run: tensorboard --logdir {out}")
    return metrics


if __name__ == "__main__":
    scripts.run(main, (OSError, ValueError, TypeError, KeyError, IndexError))   # the user's to fix

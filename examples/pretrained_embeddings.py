"""Pre-trained or learned from scratch? The tutorial's classifier with few labels, three ways.

    python examples/pretrained_embeddings.py --data ../shared/data/aclImdb_v1_labeled.tar.gz --docs docs

For each number of labeled training reviews (--sizes) and each seed (--seeds), the tutorial's
classifier, Embedding -> masked GlobalAveragePooling1D -> Dense(16, relu) -> Dense(1, sigmoid)
(--flatten: Chollet's Embedding(input_length=100) -> Flatten -> Dense(32, relu) -> Dense(1, sigmoid)),
is trained with three embeddings of the same size:
  scratch     learned from scratch, as in the tutorial;
  frozen      initialised from npembed's skip-gram vectors and not trained;
  fine-tuned  initialised from them and trained with the rest, at the same learning rate (npembed's
              optimizers, like Keras's, have one rate for every weight).
The skip-gram vectors are learned from text the test set does not contain (the training reviews,
plus the 50,000 unlabeled ones when the archive has them) and cached (npembed.wordvectors.pretrained); the
classifier's word ids are mapped onto them by word.

Protocol, the same for every run: 5,000 training reviews are held out for validation (no subset
touches them); each subset is drawn from the other 20,000 by the run's seed, which also seeds the
model; Adam (1e-3); batch size n/10 within [16, 512]; at most --max-epochs epochs, early stopping on
validation loss (patience --patience), keeping the best epoch's weights (a run still improving at
the limit is flagged as capped); test accuracy on all
25,000 test reviews. Writes results.md, accuracy_vs_labels.png and metrics.json to --out, and with
--docs DIR the document DIR/pretrained-vs-learned.md with its picture in DIR/img/.
"""
import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from npembed import scripts
from npembed.study import analysis
from npembed.study import plotting
from npembed.wordvectors import pretrained
from npembed.wordvectors import projector
from npembed.atomic import atomic_write
from npembed.callbacks import EarlyStopping
from npembed.datasets import imdb, reading
from npembed.layers import Dense, Embedding, Flatten, GlobalAveragePooling1D
from npembed.models import Sequential
from npembed.optimizers import Adam
from npembed.datasets.sequences import pad_sequences
from npembed.wordvectors.files import embedding_matrix

KINDS = ("scratch", "frozen", "fine-tuned")
QUERY_WORDS = ("beautiful", "awful", "boring", "funny")
TOPN = 8
LEVEL = 0.005                  # gaps of accuracy within half a point are called level


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="aclImdb .tar.gz or folder")
    parser.add_argument("--out", default="out/pretrained_embeddings")
    parser.add_argument("--docs", help="also write pretrained-vs-learned.md and img/ to this folder")
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 1000, 5000, 20000],
                        help="numbers of labeled training reviews")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--validation", type=int, default=5000, help="held-out training reviews")
    parser.add_argument("--num-words", type=int, default=10000)
    parser.add_argument("--maxlen", type=int, help="ids per review (default 500; 100 with --flatten)")
    parser.add_argument("--flatten", action="store_true", help="Chollet's Flatten model instead of pooling")
    parser.add_argument("--max-epochs", type=int, default=500)
    parser.add_argument("--patience", type=int, default=4)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--vector-size", type=int, default=100, help="skip-gram (and every embedding) size")
    parser.add_argument("--w2v-epochs", type=int, default=5)
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1, help="skip-gram threads (1: bit-reproducible)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    args.maxlen = args.maxlen or (100 if args.flatten else 500)
    for name in ("num_words", "maxlen", "max_epochs", "vector_size", "w2v_epochs", "min_count", "workers",
                 "validation"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if min(args.sizes) < 2 or min(args.seeds) < 0 or args.patience < 0:
        parser.error(f"--sizes must be >= 2, --seeds and --patience >= 0; got sizes {args.sizes}, "
                     f"seeds {args.seeds}, patience {args.patience}")
    if not np.isfinite(args.learning_rate) or args.learning_rate <= 0:
        parser.error(f"--learning-rate must be a positive number, got {args.learning_rate}")
    try:
        reading.check_readable(args.data)
    except (OSError, ValueError) as error:
        parser.error(f"argument --data: {error}")
    args.sizes, args.seeds = sorted(set(args.sizes)), list(dict.fromkeys(args.seeds))
    return args


# ---- data -----------------------------------------------------------------------------------------

def load_reviews(args):
    """Padded ids and labels: (x_train (25000, maxlen), y_train, x_test, y_test), and the word of each id."""
    (x_train, y_train), (x_test, y_test) = imdb.load_data(args.data, num_words=args.num_words)
    padding = "pre" if args.flatten else "post"             # Chollet pads in front; the tutorial after
    x_train, x_test = (pad_sequences(x, maxlen=args.maxlen, padding=padding) for x in (x_train, x_test))
    return (x_train, y_train, x_test, y_test), imdb.words_by_id(args.num_words, imdb.get_word_index(args.data))


def split(n, validation, size, seed):
    """(validation rows, subset rows) of n training reviews: the same validation rows for every
    run (a fixed permutation's first `validation`), the subset drawn by seed from the others."""
    order = np.random.default_rng(0).permutation(n)
    held, rest = order[:validation], order[validation:]
    if size > len(rest):
        raise ValueError(f"--sizes {size} is more than the {len(rest)} training reviews left after "
                         f"holding out --validation {validation}")
    return held, np.random.default_rng(seed).choice(rest, size, replace=False)


def skipgram_matrix(args, words_by_id):
    """The (num_words, vector_size) starting matrix: row i is the skip-gram vector of word i (zero
    for reserved ids and words without a vector). Returns (matrix, information for the report)."""
    splits = ("train", "unsup")                        # never the test reviews' text
    found_vectors = pretrained.skipgram_vectors(
        args.data, splits, verbose=0 if args.quiet else 1, vector_size=args.vector_size,
        epochs=args.w2v_epochs, min_count=args.min_count, workers=args.workers, seed=1)
    words, vectors = found_vectors.words, found_vectors.vectors
    by_word = {word: i for i, word in enumerate(words_by_id) if imdb.reserved_name(i) is None}
    matrix, found = embedding_matrix(by_word, words, vectors, num_words=args.num_words)
    info = {"splits": list(splits), "vocabulary": len(words), "ids_with_a_vector": found,
            "ids_of_words": len(by_word), "train_seconds": found_vectors.train_seconds,
            "from_cache": found_vectors.from_cache}
    print(f"skip-gram vectors: {len(words):,} words; {found:,} of the classifier's {len(by_word):,} words "
          f"have one (trained in {found_vectors.train_seconds:.1f}s"
          f"{', read from the cache' if found_vectors.from_cache else ''})")
    return matrix, info


# ---- one run --------------------------------------------------------------------------------------

def classifier(kind, matrix, args, seed):
    """The classifier with an Embedding of matrix's shape: learned from scratch, or started from
    matrix, frozen or fine-tuned; compiled with Adam."""
    num_words, dim = matrix.shape
    start = {} if kind == "scratch" else {"weights": [matrix], "trainable": kind == "fine-tuned"}
    if args.flatten:
        layers = [Embedding(num_words, dim, input_length=args.maxlen, **start), Flatten(),
                  Dense(32, activation="relu"), Dense(1, activation="sigmoid")]
    else:
        layers = [Embedding(num_words, dim, mask_zero=True, **start), GlobalAveragePooling1D(),
                  Dense(16, activation="relu"), Dense(1, activation="sigmoid")]
    model = Sequential(layers, seed=seed)
    model.compile(optimizer=Adam(args.learning_rate), loss="binary_crossentropy", metrics=["accuracy"])
    return model


def batch_size(size):
    """About ten steps an epoch for small subsets, the tutorial's 512 for large ones."""
    return int(np.clip(size // 10, 16, 512))


def train_one(kind, matrix, data, size, seed, args):
    """Train one classifier on `size` labeled reviews; (model, its row of the results)."""
    x, y, x_test, y_test = data
    held, subset = split(len(x), args.validation, size, seed)
    model = classifier(kind, matrix, args, seed)
    stop = EarlyStopping(monitor="val_loss", patience=args.patience, restore_best_weights=True)
    started = time.perf_counter()
    history = model.fit(x[subset], y[subset], epochs=args.max_epochs, batch_size=batch_size(size),
                        validation_data=(x[held], y[held]), callbacks=[stop], verbose=0).history
    model.set_weights(stop.best_weights)            # the best epoch's, also when no early stop came
    test_loss, test_accuracy = model.evaluate(x_test, y_test, batch_size=2048)
    row = {"kind": kind, "size": size, "seed": seed, "test_accuracy": test_accuracy, "test_loss": test_loss,
           "best_epoch": stop.best_epoch + 1, "epochs_run": len(history["loss"]),
           "val_accuracy": history["val_accuracy"][stop.best_epoch], "seconds": time.perf_counter() - started,
           "capped": stop.stopped_epoch is None}          # still improving when --max-epochs ran out
    return model, row


# ---- what fine-tuning did to the vectors ----------------------------------------------------------

def word_log_odds(x, y, num_words):
    """Each id's log-odds of appearing in a positive rather than a negative review (add-one
    smoothing, document counts): a sentiment lexicon from labels alone, no model involved."""
    counts = np.zeros((2, num_words))
    for label in (0, 1):
        for review in x[y == label]:
            counts[label, np.unique(review)] += 1
    rates = (counts + 1) / (counts.sum(axis=1, keepdims=True) + num_words)
    return np.log(rates[1]) - np.log(rates[0])


def drift_report(start, end, words_by_id, seen, log_odds):
    """How the fine-tuned vectors moved from their skip-gram start; rows without a vector left out.

    seen: (num_words,) bool, the ids that occur in the training subset.
    """
    has_vector = np.abs(start).sum(axis=1) > 0
    moved = analysis.drift(start, end)
    rows, unseen = np.flatnonzero(has_vector & seen), np.flatnonzero(has_vector & ~seen)
    order = rows[np.argsort(-moved[rows], kind="stable")]
    words = [words_by_id[i] for i in np.flatnonzero(has_vector)]
    report = {"median_drift_seen": float(np.median(moved[rows])) if len(rows) else None,
              "median_drift_unseen": float(np.median(moved[unseen])) if len(unseen) else None,
              "words_seen": int(len(rows)),
              "most_moved": [(words_by_id[i], float(moved[i]), float(log_odds[i])) for i in order[:12]],
              "top2_pca_variance": {}, "neighbors": {}}
    for name, table in (("before", start), ("after", end)):
        report["top2_pca_variance"][name] = float(analysis.pca(table[rows], 2)[2].sum()) if len(rows) > 2 else None
    ids = {word: i for i, word in enumerate(words_by_id)}
    for query in QUERY_WORDS:
        if query not in ids or not has_vector[ids[query]]:
            continue
        sign = np.sign(log_odds[ids[query]])
        entry = {}
        for name, table in (("before", start), ("after", end)):
            near = [w for w, _ in projector.nearest_neighbors(table[has_vector], words, query, TOPN)]
            agree = float(np.mean([np.sign(log_odds[ids[w]]) == sign for w in near]))
            entry[name] = {"neighbors": near, "same_sentiment_share": agree}
        report["neighbors"][query] = entry
    return report


# ---- the study ------------------------------------------------------------------------------------

def run_study(args):
    """Every (size, kind, seed) run; returns the metrics (also written to --out)."""
    started = time.perf_counter()
    data, words_by_id = load_reviews(args)
    for size in args.sizes:
        split(len(data[0]), args.validation, size, 0)             # an impossible size fails before any work
    matrix, vectors_info = skipgram_matrix(args, words_by_id)
    runs, drift = [], None
    for size in args.sizes:
        for kind in KINDS:
            for seed in args.seeds:
                model, row = train_one(kind, matrix, data, size, seed, args)
                runs.append(row)
                print(f"{size:>7,} labeled  {kind:<10}  seed {seed}  test accuracy {row['test_accuracy']:.4f}  "
                      f"(best epoch {row['best_epoch']} of {row['epochs_run']}, {row['seconds']:.1f}s)", flush=True)
                if kind == "fine-tuned" and size == args.sizes[-1] and seed == args.seeds[0]:
                    x, y = data[0], data[1]
                    _, subset = split(len(x), args.validation, size, seed)
                    seen = np.zeros(args.num_words, bool)
                    seen[np.unique(x[subset])] = True
                    drift = drift_report(matrix, model.layers[0].get_weights()[0], words_by_id, seen,
                                         word_log_odds(x, y, args.num_words))
                    drift.update(size=size, seed=seed)
    return {"settings": {k: v for k, v in vars(args).items()}, "skipgram": vectors_info, "runs": runs,
            "summary": summarize(runs, args), "drift": drift, "seconds": time.perf_counter() - started}


def summarize(runs, args):
    """{size: {kind: {mean, min, max}}} of test accuracy over seeds."""
    summary = {}
    for size in args.sizes:
        summary[size] = {}
        for kind in KINDS:
            scores = [r["test_accuracy"] for r in runs if r["size"] == size and r["kind"] == kind]
            summary[size][kind] = {"mean": float(np.mean(scores)), "min": float(np.min(scores)),
                                   "max": float(np.max(scores))}
    return summary


# ---- writing it up --------------------------------------------------------------------------------

def accuracy_table(summary, seeds):
    lines = [f"Test accuracy on the 25,000 test reviews: mean over seeds {', '.join(map(str, seeds))} "
             "(lowest - highest).", "", "| labeled reviews | " + " | ".join(KINDS) + " |",
             "|---:|" + "---|" * len(KINDS)]
    for size, kinds in summary.items():
        best = max(kinds, key=lambda kind: kinds[kind]["mean"])
        cells = []
        for kind in KINDS:
            s = kinds[kind]
            cell = f"{s['mean']:.3f} ({s['min']:.3f} - {s['max']:.3f})"
            cells.append(f"**{cell}**" if kind == best else cell)
        lines.append(f"| {size:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def findings(summary, runs):
    """Plain sentences that compare the kinds, each computed from the table."""
    lines = []
    capped = [r for r in runs if r["capped"]]
    if capped:
        groups = sorted({(r["size"], r["kind"]) for r in capped})
        lines.append(f"- {len(capped)} of {len(runs)} runs were still improving when the epoch limit came (" +
                     ", ".join(f"{kind} at {size:,}" for size, kind in groups) + "): their accuracy is a floor.")
    for size, kinds in summary.items():
        best = max(kinds, key=lambda kind: kinds[kind]["mean"])
        gain = {kind: kinds[kind]["mean"] - kinds["scratch"]["mean"] for kind in ("frozen", "fine-tuned")}
        lines.append(f"- With {size:,} labeled reviews the best is **{best}**; against learning from scratch, "
                     f"frozen skip-gram vectors change test accuracy by {gain['frozen'] * 100:+.1f} points and "
                     f"fine-tuned ones by {gain['fine-tuned'] * 100:+.1f}.")
    return "\n".join(lines)


def plain_words(summary, drift):
    """What the table and the drift say, in sentences whose every claim is computed here."""
    mean = {size: {kind: kinds[kind]["mean"] for kind in KINDS} for size, kinds in summary.items()}
    gap = {size: mean[size]["frozen"] - mean[size]["scratch"] for size in mean}
    ahead = [size for size in mean if gap[size] > LEVEL]
    level = [size for size in mean if abs(gap[size]) <= LEVEL]
    behind = [size for size in mean if gap[size] < -LEVEL]
    sentences = []
    if ahead:
        sentences.append(f"Frozen skip-gram vectors beat learning from scratch at {_sizes(ahead)} labeled "
                         "reviews: with few labels, knowing which words are used alike is worth more than "
                         "what so few reviews can teach a fresh embedding.")
    if level:
        sentences.append(f"At {_sizes(level)} the two are level (within {LEVEL * 100:.1f} points).")
    if behind:
        sentences.append(f"At {_sizes(behind)} frozen vectors fall behind: vectors learned to predict context "
                         "do not put sentiment where a classifier that may not move them needs it, and enough "
                         "labels teach a scratch embedding exactly that.")
    never_worse = all(mean[size]["fine-tuned"] >= mean[size]["scratch"] for size in mean)
    sentences.append("Fine-tuned vectors " + ("were never worse than learning from scratch" if never_worse else
                                              "were not always better than learning from scratch") +
                     " in these runs (compare the gaps with the seeds' spread before reading more into them).")
    if drift is not None:
        pca = drift["top2_pca_variance"]
        moved = drift["median_drift_seen"]
        sentences.append(f"Fine-tuning moved the vectors little (median cosine distance {moved:.3f} "
                         f"from the start) but in one shared direction: the first two principal components "
                         f"explain {pca['before']:.0%} of the variance before and {pca['after']:.0%} after: the "
                         "classifier gathers the words along the few directions it reads.")
    return " ".join(sentences)


def _sizes(sizes):
    names = [f"{size:,}" for size in sizes]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def drift_text(drift):
    if drift is None:
        return ""
    lines = [f"Fine-tuned model trained on {drift['size']:,} labeled reviews (seed {drift['seed']}), measured "
             "against its skip-gram start. Drift is the cosine distance 1 - cos(start, end).", "",
             f"- Median drift of the {drift['words_seen']:,} words seen in training: "
             f"{drift['median_drift_seen']:.3f}" + (f"; of words never seen: {drift['median_drift_unseen']:.3f}"
                                                     if drift["median_drift_unseen"] is not None else "") + ".",
             f"- Share of variance in the first two principal components of those words' vectors: "
             f"{drift['top2_pca_variance']['before']:.1%} before, {drift['top2_pca_variance']['after']:.1%} after.",
             "- Moved most (drift, word's log-odds of a positive review): " +
             ", ".join(f"{w} ({d:.2f}, {o:+.1f})" for w, d, o in drift["most_moved"]) + ".", "",
             f"Nearest {TOPN} neighbours before and after fine-tuning; *same sentiment* is the share of "
             "neighbours whose log-odds (from the training labels) has the sign of the word's own.", "",
             "| word | before (skip-gram) | same sentiment | after fine-tuning | same sentiment |",
             "|---|---|---:|---|---:|"]
    for query, entry in drift["neighbors"].items():
        b, a = entry["before"], entry["after"]
        lines.append(f"| {query} | {', '.join(b['neighbors'])} | {b['same_sentiment_share']:.0%} | "
                     f"{', '.join(a['neighbors'])} | {a['same_sentiment_share']:.0%} |")
    return "\n".join(lines)


def write_outputs(metrics, args, command):
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    curves = {kind: [[r["test_accuracy"] for r in metrics["runs"] if r["size"] == size and r["kind"] == kind]
                     for size in args.sizes] for kind in KINDS}
    pictures = [out / "accuracy_vs_labels.png"]
    if args.docs:
        (Path(args.docs) / "img").mkdir(parents=True, exist_ok=True)
        pictures.append(Path(args.docs) / "img" / "pretrained_vs_learned.png")
    for picture in pictures:
        plotting.plot_curves_with_spread(args.sizes, curves, picture, "labeled training reviews (log scale)",
                                         "test accuracy", "Pre-trained vs learned embeddings (shaded: seeds' range)")
    summary, runs = metrics["summary"], metrics["runs"]
    info = metrics["skipgram"]
    timing = (f"Measured by `{command}` in {metrics['seconds'] / 60:.1f} min on {os.cpu_count()} cores"
              + (f", the skip-gram vectors read from the cache (training them took {info['train_seconds']:.0f} s "
                 "the first time)." if info["from_cache"] else
                 f", training the skip-gram vectors included ({info['train_seconds']:.0f} s)."))
    results = "\n\n".join([timing, "**In plain words.** " + plain_words(summary, metrics["drift"]),
                           accuracy_table(summary, args.seeds), findings(summary, runs),
                           drift_text(metrics["drift"])]) + "\n"
    with atomic_write(out / "results.md", "w", encoding="utf-8") as handle:
        handle.write(results)
    with atomic_write(out / "metrics.json", "w", encoding="utf-8") as handle:
        json.dump(metrics, handle, indent=2, default=str)
    if args.docs:
        with atomic_write(Path(args.docs) / "pretrained-vs-learned.md", "w", encoding="utf-8") as handle:
            handle.write(document(results, metrics))
    return results


def document(results, metrics):
    """docs/pretrained-vs-learned.md: how the study runs, then its measured results."""
    info = metrics["skipgram"]
    return f"""# Pre-trained or learned from scratch?

*Written by `examples/pretrained_embeddings.py`; every figure below was measured by the command
shown. Rerun it to check them.*

The question: when do embeddings learned from context (skip-gram, `npembed.wordvectors.word2vec`) help the
tutorial's sentiment classifier, and what happens to them when the classifier fine-tunes them?

## How it is measured

- **Three embeddings, same size.** *scratch*: the tutorial's Embedding, learned with the task.
  *frozen*: started from the skip-gram vectors and never trained. *fine-tuned*: started from them
  and trained with the rest at the same learning rate (npembed's optimizers, like Keras's, have one
  rate for every weight).
- **The skip-gram vectors never saw the test reviews.** They were trained on the text of the
  archive's training reviews, plus its 50,000 unlabeled ones when it has them ({info['vocabulary']:,}
  words kept), with the classifier's tokenizer; {info['ids_with_a_vector']:,} of the classifier's
  {info['ids_of_words']:,} words have a vector, the rest start at zero. Every embedding has the
  vectors' {metrics['settings']['vector_size']} dimensions (the tutorial's has 16), so that only where
  the numbers start differs.
- **Same protocol for every run.** 5,000 training reviews are held out for validation and no subset
  touches them; each subset is drawn from the other 20,000 by the run's seed, which also seeds the
  model. Adam (1e-3), batch size n/10 within [16, 512], early stopping on validation loss, keeping
  the best epoch's weights. Test accuracy is over all 25,000 test reviews.

![test accuracy by labeled reviews](img/pretrained_vs_learned.png)

## Results

{results}"""


def main(argv=None):
    args = parse_args(argv)
    given = sys.argv[1:] if argv is None else argv
    command = "python examples/pretrained_embeddings.py " + " ".join(map(shlex.quote, given))
    metrics = run_study(args)
    print(write_outputs(metrics, args, command))
    print(f"wrote results.md, accuracy_vs_labels.png and metrics.json to {args.out}/"
          + (f"; pretrained-vs-learned.md to {args.docs}/" if args.docs else ""))
    return metrics


if __name__ == "__main__":
    scripts.run(main)

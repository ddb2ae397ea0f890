"""Embeddings learned from context: skip-gram with negative sampling on the IMDB reviews' text.

    python examples/word2vec_imdb.py --data ../shared/data/aclImdb_v1_labeled.tar.gz

Trains npembed.wordvectors.word2vec.Word2Vec (gensim's settings: 100 dimensions, window 5, 5 negatives,
sample 1e-3, min_count 5, 5 epochs) on the reviews' text, labels unused; prints the neighbours of
a few words, king - man + woman, and the analogy and WordSim-353 scores; then trains the
sentiment tutorial's classifier and writes, side by side, the same words' neighbours in both
embeddings. Writes to --out: word2vec.txt (word2vec text format), the projector files,
neighbors.md and neighbors.png (the same words' neighbours in both), neighbors_over_time.md and
neighbors_formation.png (how the neighbours formed, epoch by epoch, from EmbeddingSnapshots of the
10,000 most frequent words), explorer.html (the 500 most frequent moving) and metrics.json.
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np

from npembed import Sequential, layers, pad_sequences, scripts
from npembed.study import analysis
from npembed.wordvectors import evaluation
from npembed.study import explorer
from npembed.study import plotting
from npembed.wordvectors import projector
from npembed.atomic import atomic_write
from npembed.callbacks import EmbeddingSnapshots
from npembed.datasets import imdb, reading
from npembed.wordvectors.word2vec import Word2Vec

WATCHED = 10_000                        # words whose vectors are kept after every epoch
QUERY_WORDS = ("beautiful", "awful", "funny", "boring", "great", "plot")
EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "eval"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="aclImdb .tar.gz or folder")
    parser.add_argument("--out", default="out/word2vec_imdb")
    parser.add_argument("--corpus", choices=("all", "train"), default="all",
                        help="all: every review's text (train, test, unsup if present); train: no test text")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--vector-size", type=int, default=100)
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2, help="1: bit-reproducible; more: Hogwild")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--analogies", default=str(EVAL / "questions-words.txt"))
    parser.add_argument("--similarities", default=str(EVAL / "wordsim353.tsv"))
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    for name in ("epochs", "vector_size", "min_count", "workers"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    try:
        reading.check_readable(args.data)
    except (OSError, ValueError) as error:
        parser.error(f"argument --data: {error}")
    return args


def sentiment_embedding(data, seed):
    """The tutorial's classifier trained on the labeled training reviews: (vectors, words by id)."""
    (x, y), _ = imdb.load_data(data, num_words=10000)
    model = Sequential([layers.Embedding(10000, 16), layers.GlobalAveragePooling1D(),
                        layers.Dense(16, activation="relu"), layers.Dense(1, activation="sigmoid")], seed=seed)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(pad_sequences(x, maxlen=500, padding="post"), y, epochs=30, batch_size=512, verbose=0)
    return model.get_weights()[0], imdb.words_by_id(10000, imdb.get_word_index(data))


def neighbors_formation(snapshots, watched, out, topn=6):
    """How the query words' neighbours formed, epoch by epoch: neighbors_over_time.md and
    neighbors_formation.png (cosine to each final neighbour after every epoch)."""
    lines, formation = [], {}
    for word in (w for w in QUERY_WORDS if w in watched):
        by_epoch = analysis.neighbors_over_time(snapshots.snapshots, watched, word, topn)
        lines += [f"| {word} | {epoch} | {', '.join(neighbours)} |" for epoch, neighbours in
                  zip(snapshots.epochs, by_epoch)]
        formation[word] = (by_epoch[-1], analysis.similarity_over_time(snapshots.snapshots, watched, word,
                                                                        by_epoch[-1]))
    if not formation:
        return {}
    table = "| word | epoch | nearest neighbours |\n|---|---:|---|\n" + "\n".join(lines) + "\n"
    print("neighbours epoch by epoch (epoch 0: the random start)\n" + table)
    with atomic_write(out / "neighbors_over_time.md", "w", encoding="utf-8") as handle:
        handle.write(table)
    plotting.plot_neighbor_formation(snapshots.epochs, dict(list(formation.items())[:4]),
                                     out / "neighbors_formation.png", title="word2vec: how the neighbours formed")
    return {word: {"neighbors": neighbours, "similarity_by_epoch": similarities.tolist()}
            for word, (neighbours, similarities) in formation.items()}


def write_explorer(model, snapshots, watched, out, top=500):
    """explorer.html: the `top` most frequent words moving epoch by epoch, coloured by how much closer
    each is to "good" than to "bad" (cosine) at each epoch, a sentiment axis of the context space."""
    tables = np.stack(snapshots.snapshots)[:, :top]
    words = watched[:top]
    if "good" in words and "bad" in words:
        unit = tables / np.maximum(np.linalg.norm(tables, axis=2, keepdims=True), 1e-12)
        good, bad = unit[:, words.index("good")], unit[:, words.index("bad")]
        scores, label = np.einsum("swd,sd->sw", unit, good - bad), "cos(good) - cos(bad)"
    else:
        scores, label = np.broadcast_to(np.log10(model.counts[:top]), tables.shape[:2]), "log10 count"
    explorer.write_html(tables, words, out / "explorer.html", scores=scores, counts=model.counts[:top],
                        epochs=snapshots.epochs, score_label=label)


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    splits = ("train", "test", "unsup") if args.corpus == "all" else ("train", "unsup")
    started = time.perf_counter()
    sentences = imdb.load_texts(args.data, splits)
    read_seconds = time.perf_counter() - started
    print(f"{len(sentences):,} reviews, {sum(map(len, sentences)):,} words ({', '.join(splits)}) "
          f"read and tokenized in {read_seconds:.1f}s")

    model = Word2Vec(vector_size=args.vector_size, min_count=args.min_count, epochs=args.epochs,
                     workers=args.workers, seed=args.seed, verbose=0 if args.quiet else 1, compute_loss=True)
    model.build_vocab(sentences)
    watched = model.words[:WATCHED]                    # snapshots of the most frequent words only
    snapshots = EmbeddingSnapshots(rows=np.arange(len(watched)))
    model.fit(sentences, callbacks=[snapshots])
    reviews = len(sentences)
    del sentences                                      # the token lists are not needed again (memory)
    print(f"vocabulary {len(model.words):,} words; trained in {model.train_seconds:.1f}s, "
          f"{model.corpus_words * args.epochs / model.train_seconds:,.0f} words/s; loss by epoch "
          + ", ".join(f"{loss:.3f}" for loss in model.history["loss"]))

    metrics = {"settings": vars(args), "reviews": reviews, "corpus_words": model.corpus_words,
               "vocabulary": len(model.words), "train_seconds": model.train_seconds,
               "words_per_s": model.corpus_words * args.epochs / model.train_seconds, "history": model.history}
    neighbours = {word: model.most_similar(word, topn=8) for word in QUERY_WORDS if word in model.index}
    for word, pairs in neighbours.items():
        print(f"  {word:>10}: " + ", ".join(w for w, _ in pairs))
    if all(word in model.index for word in ("king", "man", "woman")):
        king = model.most_similar(positive=["king", "woman"], negative=["man"], topn=5)
        print("  king - man + woman: " + ", ".join(w for w, _ in king))
        metrics["king_man_woman"] = king
    if Path(args.analogies).is_file():
        accuracy, sections, kept = evaluation.evaluate_word_analogies(model.vectors, model.words, args.analogies)
        metrics["analogies"] = {"accuracy": accuracy, "kept": kept, "sections": sections}
        print(f"analogies (3CosAdd, 30,000 most frequent words): {accuracy:.1%} of {kept:,} questions kept")
    if Path(args.similarities).is_file():
        rho, pairs = evaluation.evaluate_word_pairs(model.vectors, model.words, args.similarities)
        metrics["wordsim353"] = {"spearman": rho, "pairs": pairs}
        print(f"WordSim-353: Spearman {rho:.3f} over {pairs} pairs")

    metrics["formation"] = neighbors_formation(snapshots, watched, out)
    write_explorer(model, snapshots, watched, out)

    sentiment_vectors, sentiment_words = sentiment_embedding(args.data, args.seed)
    rows = ["| word | learned from context (word2vec) | learned for sentiment (the tutorial) |", "|---|---|---|"]
    both = {}
    for word, pairs in neighbours.items():
        if word in sentiment_words:
            sentiment_pairs = projector.nearest_neighbors(sentiment_vectors, sentiment_words, word, 8)
            both[word] = (pairs, sentiment_pairs)
            sentiment = ", ".join(w for w, _ in sentiment_pairs)
        else:
            sentiment = "(not among its 10,000 words)"
        rows.append(f"| {word} | {', '.join(w for w, _ in pairs)} | {sentiment} |")
    if both:
        plotting.plot_neighbor_comparison({word: both[word] for word in list(both)[:4]}, out / "neighbors.png",
                                          titles=("learned from context (word2vec)", "learned for sentiment"))
    table = "\n".join(rows) + "\n"
    print(table)
    metrics["neighbors"] = neighbours
    with atomic_write(out / "neighbors.md", "w", encoding="utf-8") as handle:
        handle.write(table)
    model.save_word2vec_format(out / "word2vec.txt")
    model.export_projector(out)
    with atomic_write(out / "metrics.json", "w", encoding="utf-8") as handle:
        json.dump(metrics, handle, indent=2, default=str)
    print(f"wrote word2vec.txt, vecs.tsv, meta.tsv, neighbors.md, neighbors.png, neighbors_over_time.md, "
          f"neighbors_formation.png, explorer.html and metrics.json to {out}/")
    return metrics


if __name__ == "__main__":
    scripts.run(main)

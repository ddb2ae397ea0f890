"""npembed's Word2Vec against gensim's on the same token lists, in the same run.

    python benchmarks/bench_word2vec.py --data ../shared/data/aclImdb_v1_labeled.tar.gz --json

The corpus is the text of every labeled review (npembed's tokenizer); both libraries get the same
token lists and the settings of gensim's reference run (skip-gram, 100 dimensions, window 5,
5 negatives, sample 1e-3, min_count 5, alpha 0.025 -> 0.0001, 5 epochs). Throughput is counted as
that run counted it: corpus words before subsampling x epochs / wall time of building the
vocabulary plus training (reading and tokenizing excluded). gensim runs only when installed.
Prints a table, then (with --json) one JSON line.
"""
import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numba

from npembed.wordvectors import evaluation
from npembed.datasets import imdb
from npembed.wordvectors.word2vec import Word2Vec

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "eval"
SETTINGS = dict(vector_size=100, window=5, negative=5, sample=1e-3, min_count=5, alpha=0.025,
                min_alpha=0.0001, epochs=5)


def scores(vectors, words, analogies, similarities):
    accuracy, _, kept = evaluation.evaluate_word_analogies(vectors, words, analogies)
    rho, pairs = evaluation.evaluate_word_pairs(vectors, words, similarities)
    return {"analogy_accuracy": accuracy, "analogy_questions": kept, "wordsim353_spearman": rho,
            "wordsim353_pairs": pairs}


def run_npembed(sentences, workers, seed, epochs):
    model = Word2Vec(**{**SETTINGS, "epochs": epochs}, workers=workers, seed=seed, verbose=0)
    started = time.perf_counter()
    model.fit(sentences)
    seconds = time.perf_counter() - started
    return model.vectors, model.words, seconds, model.corpus_words


def run_gensim(sentences, workers, seed, epochs):
    try:
        from gensim.models import Word2Vec as GensimWord2Vec
    except ImportError:
        return None
    started = time.perf_counter()
    model = GensimWord2Vec(sentences, sg=1, hs=0, **{k: v for k, v in SETTINGS.items() if k != "epochs"},
                           epochs=epochs, workers=workers, seed=seed)
    seconds = time.perf_counter() - started
    return model.wv.vectors, list(model.wv.index_to_key), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 1], help="worker counts to run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1], help="npembed seeds (quality spread)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--no-gensim", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    analogies, similarities = EVAL / "questions-words.txt", EVAL / "wordsim353.tsv"
    sentences = imdb.load_texts(args.data, ("train", "test"))
    words_total = sum(map(len, sentences))
    result = {"corpus_words": words_total, "reviews": len(sentences), "epochs": args.epochs,
              "cores": numba.config.NUMBA_NUM_THREADS, "runs": []}
    for workers in args.workers:
        for seed in args.seeds:
            vectors, words, seconds, _ = run_npembed(sentences, workers, seed, args.epochs)
            run = {"library": "npembed", "workers": workers, "seed": seed, "seconds": seconds,
                   "words_per_s": words_total * args.epochs / seconds, "vocabulary": len(words),
                   **scores(vectors, words, analogies, similarities)}
            result["runs"].append(run)
            if "peak_rss_mb_before_gensim" not in result:
                # the process so far: the token lists and npembed's run, before any gensim model exists
                result["peak_rss_mb_before_gensim"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        gensim = None if args.no_gensim else run_gensim(sentences, workers, args.seeds[0], args.epochs)
        if gensim is not None:
            vectors, words, seconds = gensim
            result["runs"].append({"library": "gensim", "workers": workers, "seed": args.seeds[0],
                                   "seconds": seconds, "words_per_s": words_total * args.epochs / seconds,
                                   "vocabulary": len(words), **scores(vectors, words, analogies, similarities)})
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for workers in args.workers:
        ours = [r for r in result["runs"] if r["library"] == "npembed" and r["workers"] == workers]
        theirs = [r for r in result["runs"] if r["library"] == "gensim" and r["workers"] == workers]
        if ours and theirs:
            result[f"ratio_workers_{workers}"] = ours[0]["words_per_s"] / theirs[0]["words_per_s"]
    print(f"{words_total:,} words in {len(sentences):,} reviews, {args.epochs} epochs")
    print(f"{'library':<9}{'workers':>8}{'seed':>6}{'seconds':>9}{'words/s':>11}{'vocab':>8}{'analogies':>11}"
          f"{'kept':>7}{'WS353':>7}")
    for r in result["runs"]:
        print(f"{r['library']:<9}{r['workers']:>8}{r['seed']:>6}{r['seconds']:>9.1f}{r['words_per_s']:>11,.0f}"
              f"{r['vocabulary']:>8,}{r['analogy_accuracy']:>11.1%}{r['analogy_questions']:>7,}"
              f"{r['wordsim353_spearman']:>7.3f}")
    print(f"peak RSS {result['peak_rss_mb']:.0f} MB; before gensim ran (token lists and npembed's first run) "
          f"{result['peak_rss_mb_before_gensim']:.0f} MB")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())

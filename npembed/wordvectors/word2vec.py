"""Word2Vec: embeddings learned from context (skip-gram with negative sampling), gensim's way.

    model = Word2Vec(vector_size=100, window=5, negative=5, sample=1e-3, min_count=5, epochs=5)
    model.fit(sentences)                      # sentences: lists of tokens
    model.most_similar("beautiful")

The pieces, each as word2vec and gensim define them:
- the vocabulary: words seen at least min_count times, most frequent first (ties by code point);
- frequent-word subsampling: a word of count c is kept with probability
  min(1, (sqrt(c / (sample * total)) + 1) * sample * total / c);
- dynamic windows: for each position, a window drawn uniformly from 1..window;
- negatives drawn from the unigram distribution raised to 0.75;
- plain SGD whose learning rate decays linearly from alpha to min_alpha over all epochs.
The loss, its gradient and the training loop are in npembed.kernels.skipgram (a Numba kernel beside its
NumPy reference). workers=1 gives bit-identical vectors for a seed; more workers train in
parallel without locks (Hogwild, as gensim), which is faster but not bit-reproducible.
"""
import collections
import itertools
import time

import numpy as np

from .. import _checks, trainer
from ..kernels import skipgram
from . import files as vector_files, projector
from ..layers import Embedding

CUM_TABLE_DOMAIN = 2**31 - 1          # word2vec's resolution for drawing negatives
JOB_WORDS = 10_000                    # sentences are trained in jobs of about this many words


class Word2Vec:
    """Skip-gram with negative sampling: vectors (vocab, vector_size) float32 after fit.

    Arguments as gensim's Word2Vec(sg=1). seed: the starting vectors and every random draw.
    verbose: 1 shows a progress bar (words/s, learning rate, and the loss with compute_loss=True,
    which costs about a tenth more time, as in gensim), 0 nothing.
    """

    def __init__(self, vector_size=100, window=5, negative=5, sample=1e-3, min_count=5, alpha=0.025,
                 min_alpha=0.0001, epochs=5, workers=1, seed=1, verbose=1, compute_loss=False):
        self.vector_size = _checks.positive_int("vector_size", vector_size)
        self.window = _checks.positive_int("window", window)
        self.negative = _checks.positive_int("negative", negative)
        self.sample = _checks.finite_float("sample", sample, low=0)
        self.min_count = _checks.positive_int("min_count", min_count)
        self.alpha = _checks.finite_float("alpha", alpha, low=0, low_open=True)
        self.min_alpha = _checks.finite_float("min_alpha", min_alpha, low=0, high=self.alpha)
        self.epochs = _checks.positive_int("epochs", epochs)
        self.workers = _checks.positive_int("workers", workers)
        self.seed = _checks.positive_int("seed", seed, minimum=0)
        if verbose not in (0, 1, True, False):
            raise ValueError(f"verbose must be 0 or 1, got {verbose!r}")
        self.verbose = verbose
        self.compute_loss = bool(compute_loss)
        self.words, self.counts, self.index = [], np.zeros(0, np.int64), {}
        self.vectors = self.context = None
        self.history = {"loss": [], "words_per_s": [], "seconds": []}

    # ---- vocabulary ---------------------------------------------------------------------------
    def build_vocab(self, sentences):
        """Count the words of sentences (lists of tokens); keep those seen min_count times or more."""
        sentences = _check_sentences(sentences)
        counts = collections.Counter(itertools.chain.from_iterable(sentences))
        kept = sorted((word for word, count in counts.items() if count >= self.min_count),
                      key=lambda word: (-counts[word], word))
        if len(kept) < 2:
            raise ValueError(f"min_count={self.min_count} leaves {len(kept)} word(s) of the {len(counts)} "
                             "distinct ones; need at least 2 (lower min_count or give more text)")
        self.words = kept
        self.counts = np.array([counts[word] for word in kept], dtype=np.int64)
        self.index = {word: i for i, word in enumerate(kept)}
        self.corpus_words = sum(counts.values())
        return self

    def keep_probabilities(self):
        """Per word, the probability that subsampling keeps one occurrence (word2vec's formula)."""
        if self.sample == 0:
            return np.ones(len(self.counts))
        threshold = self.sample * self.counts.sum()
        return np.minimum(1.0, (np.sqrt(self.counts / threshold) + 1) * threshold / self.counts)

    def negative_table(self):
        """Cumulative counts^0.75 scaled to [0, 2^31 - 1]: draw r uniformly, take the first row above r."""
        weights = self.counts.astype(np.float64) ** 0.75
        return np.round(np.cumsum(weights) / weights.sum() * CUM_TABLE_DOMAIN).astype(np.int64)

    def encode(self, sentences):
        """Sentences as one flat int32 array of word ids (words outside the vocabulary dropped, as
        gensim does) and int64 offsets: sentence s is corpus[offsets[s]:offsets[s + 1]]."""
        get, missing = self.index.get, itertools.repeat(-1)
        # one small array per sentence (no Python int per word is kept: memory stays O(corpus))
        ids = [np.fromiter(map(get, sentence, missing), dtype=np.int32, count=len(sentence)) for sentence in sentences]
        ids = [sentence[sentence >= 0] for sentence in ids]
        offsets = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum([len(sentence) for sentence in ids], out=offsets[1:])
        return (np.concatenate(ids) if ids else np.zeros(0, np.int32)), offsets

    # ---- training -------------------------------------------------------------------------------
    def fit(self, sentences, callbacks=()):
        """Build the vocabulary (if not built) and train for epochs; returns self.

        callbacks: Keras-style callbacks (npembed.callbacks), told of the start and end of training and
        of every epoch (not of batches) with logs
        {"loss", "words_per_s"}; ``layers`` holds the two tables as Embedding layers ("target", the
        word vectors, first), so that e.g. EmbeddingSnapshots keeps the word vectors epoch by epoch.
        """
        started = time.perf_counter()
        sentences = _check_sentences(sentences)
        if not self.words:
            self.build_vocab(sentences)
        corpus, offsets = self.encode(sentences)
        if len(corpus) == 0:
            raise ValueError("no word of the sentences is in the vocabulary")
        rng = np.random.default_rng(self.seed)
        limit = 0.5 / self.vector_size                     # word2vec: uniform(-0.5, 0.5) / dim
        start = rng.uniform(-limit, limit, (len(self.words), self.vector_size))
        self.layers = []
        for name, matrix in (("target", start), ("context", np.zeros_like(start))):
            table = Embedding(len(self.words), self.vector_size, weights=[matrix], name=name)
            table.build((None, None), rng, "float32")
            self.layers.append(table)
        self.vectors, self.context = (layer.params["embeddings"] for layer in self.layers)
        callbacks = list(callbacks)
        self.stop_training = False
        for callback in callbacks:
            if hasattr(callback, "set_model"):
                callback.set_model(self)
        trainer.call(callbacks, "on_train_begin", {})
        keep = np.round(self.keep_probabilities() * (2**32 - 1)).astype(np.int64)
        cum_table = self.negative_table()
        random = int(rng.integers(0, 2**48))
        jobs = _jobs(offsets, JOB_WORDS * self.workers)           # each thread gets about JOB_WORDS
        total = len(corpus) * self.epochs
        work = skipgram.workspace(offsets, cum_table, self.vector_size)
        bar = _progress(self.corpus_words * self.epochs, self.verbose)
        done = 0
        for epoch in range(self.epochs):
            trainer.call(callbacks, "on_epoch_begin", epoch, {})
            epoch_started, loss_sum, pairs = time.perf_counter(), 0.0, 0
            for first, last in jobs:
                alpha = self.alpha - (self.alpha - self.min_alpha) * done / total
                random, job_pairs, job_loss, _ = skipgram.train(
                    corpus, offsets, first, last, self.vectors, self.context, keep, cum_table, self.window,
                    self.negative, alpha, random, self.workers, work, self.compute_loss)
                words = int(offsets[last] - offsets[first])
                done += words
                loss_sum, pairs = loss_sum + job_loss, pairs + job_pairs
                # the bar counts corpus words (before the vocabulary's cut), as gensim's words/s
                bar.update(round(done * self.corpus_words / len(corpus)) - bar.n)
                shown = {"loss": f"{job_loss / max(job_pairs, 1):.4f}"} if self.compute_loss else {}
                bar.set_postfix(epoch=epoch + 1, lr=f"{alpha:.5f}", **shown, refresh=False)
            seconds = time.perf_counter() - epoch_started
            self.history["loss"].append(loss_sum / max(pairs, 1))
            self.history["seconds"].append(seconds)
            self.history["words_per_s"].append(self.corpus_words / seconds)
            trainer.call(callbacks, "on_epoch_end", epoch,
                         {"loss": self.history["loss"][-1], "words_per_s": self.history["words_per_s"][-1]})
            if self.stop_training:
                break
        bar.close()
        trainer.call(callbacks, "on_train_end", {})
        self.train_seconds = time.perf_counter() - started
        return self

    # ---- using the vectors ----------------------------------------------------------------------
    def _require_trained(self):
        if self.vectors is None:
            raise _checks.StateError("the model is not trained yet: call fit(sentences)")

    def __getitem__(self, word):
        """The vector of word (vector_size,); KeyError with close spellings for an unknown word."""
        self._require_trained()
        return self.vectors[projector.row_of(self.words, word, self.index)]

    def most_similar(self, positive=(), negative=(), topn=10):
        """gensim's most_similar: [(word, cosine)] nearest to mean(positive) - mean(negative), unit rows."""
        self._require_trained()
        return projector.most_similar(self.vectors, self.words, positive, negative, topn)

    def similarity(self, first, second):
        """Cosine similarity of two words' vectors."""
        a, b = self[first].astype(np.float64), self[second].astype(np.float64)
        return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) or 1.0))

    def save_word2vec_format(self, path):
        """Write the vectors in word2vec's text format (gensim's load_word2vec_format reads it)."""
        self._require_trained()
        vector_files.save_word_vectors(path, self.words, self.vectors)

    def export_projector(self, out_dir):
        """vecs.tsv, meta.tsv and projector_config.pbtxt for the Embedding Projector."""
        self._require_trained()
        return projector.export_projector(self.vectors, self.words, out_dir, tensor_name="word2vec")


def _check_sentences(sentences):
    if isinstance(sentences, (str, bytes)) or not hasattr(sentences, "__iter__"):
        raise TypeError(f"sentences must be a list of token lists, got {type(sentences).__name__}")
    sentences = sentences if isinstance(sentences, list) else list(sentences)
    if not sentences or not any(len(sentence) for sentence in sentences):
        raise ValueError("the corpus is empty: give a list of sentences, each a list of tokens")
    for i, sentence in enumerate(sentences[:1000]):
        if isinstance(sentence, str) or not all(isinstance(token, str) for token in sentence):
            raise TypeError(f"sentences[{i}] must be a list of string tokens, got {sentence!r:.80}")
    return sentences


def _jobs(offsets, words_per_job):
    """Consecutive sentence ranges [(first, last)] of about words_per_job words each."""
    cuts = np.searchsorted(offsets, np.arange(0, offsets[-1], words_per_job), side="right") - 1
    bounds = np.unique(np.concatenate([cuts, [len(offsets) - 1]]))
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def _progress(total, verbose):
    from tqdm import tqdm
    return tqdm(total=total, unit="word", unit_scale=True, desc="word2vec", disable=not verbose,
                mininterval=0.5)

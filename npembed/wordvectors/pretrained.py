"""Skip-gram vectors of the IMDB reviews' text, trained once and cached as one .npz (no pickle).

    words, vectors = skipgram_vectors(path, splits=("train", "unsup"), vector_size=100)

The cache key is the source's fingerprint (its SHA-256, as the tokenized-review cache), the
tokenizer's version, the splits read and every Word2Vec setting that changes the vectors (seed and
workers included: workers > 1 is not bit-reproducible, so a cached run is the reproducible copy).
Any change trains afresh; a cache that does not read back whole and consistent is retrained,
never trusted.
"""
import hashlib
import json
import time
import typing
import warnings
import zipfile

import numpy as np

from .. import _checks
from ..datasets import text
from ..atomic import atomic_write
from ..datasets import cache, imdb
from ..datasets.source import cache_dir, locate
from .word2vec import Word2Vec

CACHE_FORMAT = 2                      # 2: train_seconds stored
SETTINGS = ("vector_size", "window", "negative", "sample", "min_count", "alpha", "min_alpha", "epochs",
            "workers", "seed")


class SkipgramVectors(typing.NamedTuple):
    """What skipgram_vectors gives: the words, their vectors (vocab, dim) float32, and how long training took."""
    words: list
    vectors: np.ndarray
    train_seconds: float        # measured when they were trained (also when read back from the cache)
    from_cache: bool


def cache_key(source, splits, model):
    """The text that names one corpus and one set of Word2Vec settings (a JSON string)."""
    settings = {name: getattr(model, name) for name in SETTINGS}
    return json.dumps({"source": cache.source_fingerprint(source), "splits": list(splits),
                       "tokenizer": text.TOKENIZER_VERSION, "format": CACHE_FORMAT, "settings": settings},
                      sort_keys=True)


def skipgram_vectors(path=None, splits=("train", "unsup"), verbose=1, **settings):
    """Word2Vec vectors of the reviews of `splits` (imdb.load_texts): SkipgramVectors(words (vocab,),
    vectors (vocab, dim), train_seconds, from_cache).

    settings: Word2Vec's arguments (its defaults otherwise). Trained on the first call, read from
    the cache folder afterwards; a read-only cache folder only costs the training again.
    """
    splits = (splits,) if isinstance(splits, str) else tuple(splits)
    model = Word2Vec(verbose=verbose, **settings)             # checks the settings before any work
    source = locate(path)
    key = cache_key(source, splits, model)
    cache_file = cache_dir() / f"skipgram-{hashlib.sha256(key.encode()).hexdigest()[:24]}.npz"
    found = read_cached(cache_file, key)
    if found is not None:
        return found
    started = time.perf_counter()
    model.fit(imdb.load_texts(source, splits))
    seconds = time.perf_counter() - started                    # reading and tokenizing included
    try:
        with atomic_write(cache_file) as handle:
            np.savez(handle, key=np.array(key), vectors=model.vectors, train_seconds=np.array(seconds),
                     words=np.frombuffer("\n".join(model.words).encode("utf-8"), dtype=np.uint8))
    except OSError as error:
        warnings.warn(f"could not write the skip-gram cache {cache_file}: {error}", stacklevel=2)
    return SkipgramVectors(list(model.words), model.vectors, seconds, False)


def read_cached(cache_file, key):
    """SkipgramVectors from cache_file if it holds exactly `key` and reads back consistent, else None."""
    if not cache_file.is_file():
        return None
    try:
        with np.load(cache_file, allow_pickle=False) as saved:
            if str(saved["key"]) != key:
                return None
            vectors, seconds = saved["vectors"], float(saved["train_seconds"])
            words = bytes(saved["words"]).decode("utf-8").split("\n")
        _checks.paired_vectors(vectors, words)                 # 2-D, finite, one word per row
        if vectors.dtype != np.float32 or len(set(words)) != len(words):
            raise ValueError("not float32 vectors of distinct words")
    except (OSError, ValueError, KeyError, UnicodeDecodeError, EOFError, zipfile.BadZipFile) as error:
        warnings.warn(f"ignoring an unreadable skip-gram cache {cache_file}: {error}", stacklevel=3)
        return None
    return SkipgramVectors(words, vectors, seconds, True)

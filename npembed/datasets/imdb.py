"""The IMDB movie-review dataset with Keras's API and id conventions, built from the raw aclImdb archive.

``load_data`` gives what ``keras.datasets.imdb.load_data`` gives, but rebuilt from the review texts
(npembed.text tokenizes them), so every step can be read and changed. The other jobs live beside
this module: where the reviews come from (``source``), reading the archive (``reading``) and the
tokenized cache (``cache``).
"""
import sys

import numpy as np

from .. import _checks
from . import text
from . import reading
from .reading import LABELS, MAX_REVIEW_BYTES, MAX_TOTAL_BYTES, SPLITS, read_reviews  # noqa: F401
from .cache import build_in_background, processed, source_fingerprint  # noqa: F401
from .source import ARCHIVE_NAME, SHA256, URL, cache_dir, download, locate  # noqa: F401

MAX_ID = _checks.MAX_ID
INDEX_FROM = 3          # load_data's default: ids 0-3 are reserved, words start at 4


def _optional_id(name, value):
    return None if value is None else _checks.positive_int(name, value, minimum=0, maximum=MAX_ID)


def load_data(path=None, num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1, oov_char=2,
              index_from=INDEX_FROM):
    """IMDB reviews as id sequences and 0/1 labels: ``(x_train, y_train), (x_test, y_test)``.

    Keras's conventions: each review is ``[start_char] + [rank + index_from for each word]``
    (rank 1 = most frequent training word); ids 0 (padding), 1 (start) and 2 (out of vocabulary)
    are reserved and 3 is never used. An id outside ``skip_top <= id < num_words`` becomes
    ``oov_char`` (or is dropped when oov_char is None); like Keras, this applies to start_char too.
    Both splits are shuffled by one ``numpy.random.RandomState(seed)``: first the training set,
    then the test set.

    Differences from keras.datasets.imdb, on purpose:
    - the vocabulary comes from the training reviews only, so a word seen only in the test
      reviews becomes ``oov_char`` (Keras's file silently deletes such words);
    - num_words=None keeps every id (Keras makes the single largest id out-of-vocabulary).

    maxlen follows Keras: reviews whose sequence (start_char included) is not shorter than maxlen
    are DROPPED, not truncated; use pad_sequences(maxlen=...) to truncate.

    x_* are object arrays holding one int32 array per review (Keras holds lists); y_* are int64.
    """
    num_words = None if num_words is None else _checks.positive_int("num_words", num_words, 1, MAX_ID)
    skip_top = _checks.positive_int("skip_top", skip_top, 0, MAX_ID)
    maxlen = None if maxlen is None else _checks.positive_int("maxlen", maxlen)
    seed = _checks.positive_int("seed", seed, 0, 2**32 - 1)           # numpy.random.RandomState's range
    start_char, oov_char = _optional_id("start_char", start_char), _optional_id("oov_char", oov_char)
    index_from = _checks.positive_int("index_from", index_from, 0, MAX_ID // 2)
    if num_words is not None and num_words <= index_from:
        raise ValueError(f"num_words={num_words} keeps no word: word ids start at "
                         f"index_from + 1 = {index_from + 1}")
    data = processed(path)
    rng = np.random.RandomState(seed)
    out = []
    for split in reading.SPLITS:
        # popped: the ranks are turned into ids in place and freed, split after split
        ranks, lengths = data.pop(f"{split}_ranks"), data[f"{split}_lengths"]
        labels = data[f"{split}_labels"]
        order = np.arange(len(lengths))
        rng.shuffle(order)
        ids, lengths = _keras_ids(ranks, lengths, num_words, skip_top, start_char, oov_char, index_from)
        sequences = _split(ids, lengths)[order]
        labels, lengths = labels[order], lengths[order]
        if maxlen is not None:
            keep = lengths < maxlen
            sequences, labels = sequences[keep], labels[keep]
            if not keep.any():
                raise ValueError(f"maxlen={maxlen} drops every {split} review; the shortest has "
                                 f"{lengths.min()} ids")
        out.append((sequences, labels))
    return tuple(out)


def _keras_ids(ranks, lengths, num_words, skip_top, start_char, oov_char, index_from):
    """Flat ranks -> flat Keras ids and new lengths (start_char prepended, out-of-range ids replaced).

    Works in place on ranks when they are int32 (the caller gives them up): load_data's peak memory
    stays near the size of its output.
    """
    dtype = np.int32 if len(ranks) == 0 or int(ranks.max()) + index_from < MAX_ID else np.int64
    body = ranks.astype(dtype, copy=False)
    outside = body == 0                                   # not in the training vocabulary
    body += index_from
    body[outside] = -1
    del outside
    if start_char is not None:
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) + np.arange(len(lengths))
        ids = np.empty(len(body) + len(lengths), dtype=dtype)
        is_body = np.ones(len(ids), dtype=bool)
        is_body[starts] = False
        ids[starts] = start_char
        ids[is_body] = body
        del body, is_body
        lengths = lengths + 1
    else:
        ids = body
    drop = (ids < skip_top) | (ids < 0)
    if num_words is not None:
        drop |= ids >= num_words
    if oov_char is not None:
        ids[drop] = oov_char
    else:
        review = np.repeat(np.arange(len(lengths)), lengths)
        lengths = lengths - np.bincount(review[drop], minlength=len(lengths))
        ids = ids[~drop]
    return ids.astype(np.int32, copy=False), lengths


def _split(flat, lengths):
    """One object array of views into flat, one per review."""
    parts = np.split(flat, np.cumsum(lengths)[:-1])
    out = np.empty(len(parts), dtype=object)
    for i, part in enumerate(parts):
        out[i] = part
    return out


def load_texts(path=None, splits=("train", "unsup")):
    """Token lists (npembed.text.tokenize) of the reviews of the given splits, labels unused.

    splits: any of "train", "test" (the labeled reviews) and "unsup" (the official archive's 50,000
    unlabeled ones; absent from the labeled-only archive, then it gives nothing). E.g. word2vec's
    corpus: ("train", "test", "unsup") for every review, ("train", "unsup") to leave the test out.
    """
    if isinstance(splits, str):
        splits = (splits,)
    groups = []
    for split in splits:
        if split == "unsup":
            groups.append(("train", "unsup"))
        elif split in reading.SPLITS:
            groups += [(split, label) for label in reading.LABELS]
        else:
            raise ValueError(f"unknown split {split!r}; choose from 'train', 'test', 'unsup'")
    # interned: one string object per distinct word, not one per occurrence (11.5 M words of IMDB
    # would otherwise hold ~600 MB of duplicate strings)
    return [list(map(sys.intern, text.tokenize(review))) for review in reading.read_texts(locate(path), groups)]


def get_word_index(path=None):
    """{word: rank}, rank 1 = most frequent word of the training reviews (no index_from shift)."""
    return {word: rank for rank, word in enumerate(processed(path, words_only=True)["words"], start=1)}


def get_word_counts(path=None):
    """Training-review counts by rank: counts[rank - 1] is how often word rank occurs (int64)."""
    return processed(path, words_only=True)["counts"]


def counts_by_id(num_words, counts=None, path=None, index_from=INDEX_FROM):
    """Training count of the word of every id in [0, num_words), int64 (num_words,); 0 for reserved ids
    and ids of no word. counts: get_word_counts(path) when None."""
    num_words = _checks.positive_int("num_words", num_words, 0, MAX_ID)
    counts = get_word_counts(path) if counts is None else np.asarray(counts)
    by_id = np.zeros(num_words, dtype=np.int64)
    known = counts[:max(num_words - index_from - 1, 0)]       # ranks 1.. land on ids index_from + 1..
    by_id[index_from + 1:index_from + 1 + len(known)] = known
    return by_id


PAD, START, UNK, UNUSED = "<PAD>", "<START>", "<UNK>", "<UNUSED>"


def reserved_name(i, start_char=1, oov_char=2, index_from=INDEX_FROM):
    """The name of a reserved id, or None for an id that may name a word.

    0 -> "<PAD>", start_char -> "<START>", oov_char -> "<UNK>", any other id up to index_from ->
    "<UNUSED>" (load_data's defaults: ids 0-3; words start at index_from + 1 = 4).
    """
    if i == 0:
        return PAD
    if start_char is not None and i == start_char:
        return START
    if oov_char is not None and i == oov_char:
        return UNK
    return UNUSED if i <= index_from else None


def words_by_id(num_words, word_index, start_char=1, oov_char=2, index_from=INDEX_FROM):
    """The word for every id in [0, num_words): row i names embedding row i (e.g. meta.tsv).

    Reserved ids are named by reserved_name; ids of no word are "<UNUSED>".
    """
    num_words = _checks.positive_int("num_words", num_words, 0, MAX_ID)
    words = [UNUSED] * num_words
    for word, rank in word_index.items():
        if rank + index_from < num_words:
            words[rank + index_from] = word
    reserved = set(range(min(num_words, index_from + 1)))
    reserved.update(i for i in (start_char, oov_char) if i is not None and i < num_words)
    for i in reserved:
        words[i] = reserved_name(i, start_char, oov_char, index_from)
    return words


def decode_review(ids, word_index=None, path=None, start_char=1, oov_char=2, index_from=INDEX_FROM,
                  skip_padding=False):
    """Ids back to text, shifting by index_from as load_data does (so it never reads as gibberish).

    The same names as words_by_id: reserved ids by reserved_name, ids of no word "<UNUSED>".
    ids: any non-negative integers. word_index defaults to get_word_index(path).
    """
    ids = np.asarray(ids)
    if ids.size and (ids.dtype == bool or not np.issubdtype(ids.dtype, np.integer)):
        raise TypeError(f"ids must be integers, got dtype {ids.dtype}")
    if ids.size and ids.min() < 0:
        raise ValueError(f"ids must be >= 0, got {int(ids.min())}")
    if word_index is None:
        word_index = get_word_index(path)
    word_of = {rank + index_from: word for word, rank in word_index.items()}
    names = []
    for i in ids.ravel().tolist():
        if i == 0 and skip_padding:
            continue
        names.append(reserved_name(i, start_char, oov_char, index_from) or word_of.get(i, UNUSED))
    return " ".join(names)

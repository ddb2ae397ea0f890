"""Pre-trained word vectors in the GloVe / word2vec text format, and the Embedding matrix they give.

The format: one word per line followed by its numbers, separated by spaces,
``word v1 v2 ... v_dim``; word2vec (and gensim's ``save_word2vec_format``) adds a first line
``count dim``. ``load_word_vectors`` reads either; ``save_word_vectors`` writes the word2vec form,
which gensim's ``KeyedVectors.load_word2vec_format(path)`` reads back.

>>> words, vectors = load_word_vectors("glove.6B.100d.txt")
>>> matrix = embedding_matrix(tokenizer.word_index, words, vectors, num_words=10000)
>>> layer = Embedding(10000, 100, input_length=100, weights=[matrix], trainable=False)
"""
import warnings

import numpy as np

from .. import _checks
from ..atomic import atomic_write


def load_word_vectors(path, limit=None, dtype="float32"):
    """(words list of n strings, vectors (n, dim)) from a GloVe or word2vec text file.

    limit: read at most this many vectors (the first ones: the most frequent in GloVe and word2vec).
    A repeated word keeps its first vector (a warning counts the repeats). ValueError with the line
    number for a ragged row, a value that is not a finite number, or a header that the rows
    contradict; nothing is allocated from what the header declares.
    """
    limit = None if limit is None else _checks.positive_int("limit", limit)
    _checks.regular_file(path)
    words, rows, seen, repeats, header, dim = [], [], set(), 0, None, None
    with open(path, encoding="utf-8", errors="strict") as handle:
        try:
            for number, line in enumerate(handle, start=1):
                parts = line.rstrip("\r\n").split(" ")
                if parts and parts[-1] == "":
                    parts.pop()                         # a trailing space, as some writers leave
                if not parts or parts == [""]:
                    continue
                if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                    header = (int(parts[0]), int(parts[1]))     # word2vec's "count dim"
                    continue
                if dim is None:
                    dim = len(parts) - 1
                    if dim < 1:
                        raise ValueError(f"{path}, line {number}: a word with no numbers")
                if len(parts) - 1 != dim:
                    raise ValueError(f"{path}, line {number}: {len(parts) - 1} numbers, but the first "
                                     f"vector has {dim}")
                try:
                    row = np.array(parts[1:], dtype=np.float64)
                except ValueError:
                    raise ValueError(f"{path}, line {number}: not all of its values are numbers") from None
                if not np.isfinite(row).all():
                    raise ValueError(f"{path}, line {number}: a value is not finite")
                if parts[0] in seen:
                    repeats += 1
                    continue
                seen.add(parts[0])
                words.append(parts[0])
                rows.append(row)
                if limit is not None and len(words) >= limit:
                    break
        except UnicodeDecodeError as error:
            raise ValueError(f"{path} is not UTF-8 text ({error.reason} at byte {error.start} of a line)") from None
    if not words:
        raise ValueError(f"{path} holds no word vectors")
    if header is not None and (header[1] != dim or (limit is None and header[0] != len(words) + repeats)):
        raise ValueError(f"{path}: its header says {header[0]} vectors of {header[1]} numbers, but it "
                         f"holds {len(words) + repeats} of {dim}")
    if repeats:
        warnings.warn(f"{path}: {repeats} repeated words kept their first vector", stacklevel=2)
    return words, np.array(rows, dtype=dtype)


def save_word_vectors(path, words, vectors):
    """Write words and vectors (n, dim) in word2vec's text format (header "n dim"), atomically.

    Words must be non-empty and hold no white space, so that every line splits back into one word
    and dim numbers."""
    vectors, words = _checks.paired_vectors(vectors, words)
    for i, word in enumerate(words):
        if not isinstance(word, str) or not word or word.split() != [word]:
            raise ValueError(f"words[{i}] = {word!r} cannot be written: a word must be non-empty, "
                             "without white space")
    with atomic_write(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(f"{len(words)} {vectors.shape[1]}\n")
        for word, row in zip(words, vectors):
            handle.write(word + " " + " ".join(f"{value:.9g}" for value in row) + "\n")


def embedding_matrix(word_index, words, vectors, num_words=None, dtype="float32"):
    """The (num_words, dim) starting matrix of an Embedding: row i is the vector of the word whose
    index is i; rows of words without a vector, and row 0 (padding), stay zero.

    word_index: {word: index} (e.g. Tokenizer.word_index); num_words: rows, default max index + 1.
    Returns (matrix, found): found counts the rows that got a vector.
    """
    vectors, words = _checks.paired_vectors(vectors, words)
    if num_words is None:
        num_words = max(word_index.values(), default=0) + 1
    num_words = _checks.positive_int("num_words", num_words)
    _checks.allocation("embedding_matrix (num_words, dim)", (num_words, vectors.shape[1]), dtype)
    row_of = {word: row for row, word in enumerate(words)}
    matrix = np.zeros((num_words, vectors.shape[1]), dtype=dtype)
    found = 0
    for word, index in word_index.items():
        if 0 < index < num_words and word in row_of:
            matrix[index] = vectors[row_of[word]]
            found += 1
    return matrix, found

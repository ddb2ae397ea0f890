"""Keras's Tokenizer: texts -> word indices by frequency, as in Chollet's "Using word embeddings".

Keras's semantics, kept exactly (they differ from npembed.text, the IMDB tokenizer): lowercase,
every character of ``filters`` becomes ``split``, split on it, drop empty strings. ``fit_on_texts``
counts words; ``word_index`` numbers them from 1 by count, most frequent first, ties in order of
first appearance; with ``oov_token`` that token is 1. ``texts_to_sequences`` keeps only indices
below ``num_words`` (others become the oov index, or are dropped without oov_token).

>>> tokenizer = Tokenizer(num_words=10000)
>>> tokenizer.fit_on_texts(texts)
>>> sequences = tokenizer.texts_to_sequences(texts)
"""
import collections

from .. import _checks

FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'


def text_to_word_sequence(text, filters=FILTERS, lower=True, split=" "):
    """The words of one text, Keras's way: e.g. text_to_word_sequence("Great, GREAT film!") ==
    ["great", "great", "film"]."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    if lower:
        text = text.lower()
    text = text.translate(str.maketrans({char: split for char in filters}))
    return [word for word in text.split(split) if word]


class Tokenizer:
    """Keras's word-index Tokenizer (fit_on_texts, texts_to_sequences, sequences_to_texts).

    num_words: keep the num_words - 1 most frequent words (indices below num_words) when turning
    texts into sequences; None keeps all. oov_token: a token that stands for every other word
    (index 1). char_level: characters instead of words. A text given as a list is taken as its
    tokens already.
    """

    def __init__(self, num_words=None, filters=FILTERS, lower=True, split=" ", char_level=False, oov_token=None):
        self.num_words = None if num_words is None else _checks.positive_int("num_words", num_words)
        if not isinstance(filters, str) or not isinstance(split, str) or not split:
            raise TypeError(f"filters and split must be strings (split not empty), got {filters!r} and {split!r}")
        if oov_token is not None and not isinstance(oov_token, str):
            raise TypeError(f"oov_token must be a string or None, got {oov_token!r}")
        self.filters, self.lower, self.split = filters, bool(lower), split
        self.char_level, self.oov_token = bool(char_level), oov_token
        self.word_counts = collections.OrderedDict()     # word -> occurrences, in order of first appearance
        self.word_docs = collections.defaultdict(int)    # word -> number of texts it appears in
        self.document_count = 0
        self.word_index, self.index_word = {}, {}

    def _words(self, text):
        if self.char_level or isinstance(text, list):
            if self.lower:
                text = [token.lower() for token in text] if isinstance(text, list) else text.lower()
            return list(text)
        return text_to_word_sequence(text, self.filters, self.lower, self.split)

    def fit_on_texts(self, texts):
        """Count the words of texts (an iterable of strings, or of token lists) and rebuild word_index."""
        if isinstance(texts, str):
            raise TypeError("texts must be a list of strings, not one string")
        for text in texts:
            self.document_count += 1
            words = self._words(text)
            for word in words:
                self.word_counts[word] = self.word_counts.get(word, 0) + 1
            for word in set(words):
                self.word_docs[word] += 1
        # most frequent first; sorted() is stable, so ties keep their order of first appearance
        ranked = [word for word, _ in sorted(self.word_counts.items(), key=lambda item: item[1], reverse=True)]
        vocabulary = ([] if self.oov_token is None else [self.oov_token]) + ranked
        self.word_index = dict(zip(vocabulary, range(1, len(vocabulary) + 1)))   # 0 stays reserved
        self.index_word = {index: word for word, index in self.word_index.items()}

    def texts_to_sequences(self, texts):
        """Each text as a list of word indices: words not in word_index, or of index >= num_words,
        become the oov index (or are dropped without oov_token)."""
        if isinstance(texts, str):
            raise TypeError("texts must be a list of strings, not one string")
        oov = self.word_index.get(self.oov_token)
        sequences = []
        for text in texts:
            sequence = []
            for word in self._words(text):
                index = self.word_index.get(word)
                if index is not None and not (self.num_words and index >= self.num_words):
                    sequence.append(index)
                elif oov is not None:
                    sequence.append(oov)
            sequences.append(sequence)
        return sequences

    def sequences_to_texts(self, sequences):
        """Each sequence of indices back to a text of words joined by split (the same filtering)."""
        oov = self.word_index.get(self.oov_token)
        texts = []
        for sequence in sequences:
            words = []
            for index in sequence:
                word = self.index_word.get(int(index))
                if word is not None and not (self.num_words and index >= self.num_words):
                    words.append(word)
                elif oov is not None:
                    words.append(self.index_word[oov])
            texts.append(self.split.join(words))
        return texts

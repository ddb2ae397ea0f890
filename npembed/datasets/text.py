"""Raw review text -> tokens -> a frequency-ranked vocabulary.

Standardization, in order:
1. lowercase (Unicode ``str.lower``);
2. HTML tags such as ``<br />`` become spaces (so no "br" token appears);
3. every character that is not a letter or digit of any script, nor an apostrophe, becomes a space;
   the typographic apostrophe (U+2019) counts as an apostrophe;
4. apostrophes are kept only inside words: "everyone's" and "don't" stay one token, while quotes
   such as 'word' lose them and a run of two or more apostrophes separates words.

A token is then a maximal run of letters and digits, possibly joined by single apostrophes.

The vocabulary ranks words by their count in the training texts, most frequent first (rank 1),
and breaks ties by the word itself in Unicode code-point order, so it never depends on file order.
"""
import array
import collections
import re

import numpy as np

TOKENIZER_VERSION = 2       # part of every cache key: bump it whenever tokens could change

# A tag holds no "<": then a "<" that is never closed costs one step, not a scan to the end of the
# text ("<[^>]*>" took quadratic time on "<<<<...": 0.9 s for 40 KB). Version 2 of the tokenizer.
_HTML_TAG = re.compile(r"<[^<>]*>")
# After the translation below only letters, digits, apostrophes and spaces remain. An apostrophe is
# loose unless a letter or digit stands on both sides of it (\w: the translation has turned "_" into a
# space). The pattern starts with the apostrophe itself, which lets the engine skip from one
# apostrophe to the next: then "no \w before it" (?<!\w') or "no \w after it" (?!\w).
_LOOSE_APOSTROPHE = re.compile(r"'(?:(?<!\w')|(?!\w))")


class _SeparatorTable(dict):
    """str.translate table: letters, digits and apostrophes stay; every other character -> space.

    Filled lazily, one entry per distinct code point met, so any script is handled.
    """

    def __missing__(self, code):
        char = chr(code)
        if char.isalnum() or char == "'":
            value = code
        elif char == "\u2019":
            value = "'"
        else:
            value = " "
        self[code] = value
        return value


_SEPARATORS = _SeparatorTable()


def standardize(text):
    """Lowercase; HTML tags, punctuation and apostrophes outside words become spaces."""
    return _LOOSE_APOSTROPHE.sub(" ", _HTML_TAG.sub(" ", text.lower()).translate(_SEPARATORS))


def tokenize(text):
    """The tokens of one text, e.g. tokenize("Everyone's <br />GREAT!") == ["everyone's", "great"]."""
    return standardize(text).split()


def standardized_text(text):
    """The tokens of a text joined by single spaces: what a decoded review reads like."""
    return " ".join(tokenize(text))


def number_tokens(texts):
    """Tokenize texts and number each distinct word in order of first appearance.

    Returns (numbers, lengths, words): one flat int64 array of word numbers for all tokens of all
    texts, the int64 token count of each text, and words[n] = the word numbered n.
    """
    # number_of[word] is the word's number; an unseen word gets the next one (len before adding it)
    number_of = collections.defaultdict(lambda: len(number_of))
    # array("q") holds raw int64s, 8 bytes a token (a list would hold one Python int object each)
    numbers, lengths = array.array("q"), array.array("q")
    for text in texts:
        before = len(numbers)
        numbers.extend(map(number_of.__getitem__, tokenize(text)))     # dict lookups at C speed
        lengths.append(len(numbers) - before)
    return np.frombuffer(numbers, dtype=np.int64), np.frombuffer(lengths, dtype=np.int64), list(number_of)


def encode(texts_by_split, vocabulary_split="train"):
    """Tokenize every text and give each token its vocabulary rank.

    texts_by_split: {split: list of str}. The vocabulary is built from
    texts_by_split[vocabulary_split] only. Returns (words, counts, encoded): ``words`` ranked
    (words[0] has rank 1), ``counts`` their training counts (int64), and
    ``encoded[split] = (ranks, lengths)``: one flat int32 array of the ranks of every token of every
    text (0 for words outside the vocabulary) and the int64 number of tokens of each text.
    """
    numbered = {split: number_tokens(texts) for split, texts in texts_by_split.items()}
    numbers, _, seen = numbered[vocabulary_split]
    counts = np.bincount(numbers, minlength=len(seen))
    # rank 1 = most frequent; ties broken by the word's code points, so file order never matters
    order = [n for n in sorted(range(len(seen)), key=lambda n: (-counts[n], seen[n])) if counts[n] > 0]
    words = [seen[n] for n in order]
    rank_of = {word: rank for rank, word in enumerate(words, start=1)}
    encoded = {}
    for split, (split_numbers, split_lengths, split_seen) in numbered.items():
        rank_of_number = np.array([rank_of.get(word, 0) for word in split_seen], dtype=np.int32)
        encoded[split] = (rank_of_number[split_numbers] if len(split_seen) else np.zeros(0, dtype=np.int32),
                          split_lengths)
    return words, counts[order].astype(np.int64), encoded

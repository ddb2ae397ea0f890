"""Word-vector benchmarks in gensim's conventions: analogies (3CosAdd) and word-pair similarity.

Both take the vectors (n, dim), the words of their rows (most frequent first) and a path; the files
are the usual ones (questions-words.txt, wordsim353.tsv; see ../shared/reference/eval/README.md).

>>> accuracy, sections, kept = evaluate_word_analogies(vectors, words, "questions-words.txt")
>>> spearman, pairs = evaluate_word_pairs(vectors, words, "wordsim353.tsv")
"""
import numpy as np

from .. import _checks


def _lines(path):
    """(line number, text) of a UTF-8 file's lines, with a clear error for other encodings."""
    try:
        with open(path, encoding="utf-8") as handle:
            return list(enumerate((line.rstrip("\r\n") for line in handle), start=1))
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not UTF-8 text ({error.reason} at byte {error.start})") from None


def read_analogies(path):
    """[(section, [(line, a, b, c, d), ...]), ...] from a questions-words file (": section" lines)."""
    sections = []
    for number, line in _lines(path):
        if not line.strip():
            continue
        if line.startswith(":"):
            sections.append((line[1:].strip(), []))
            continue
        parts = line.split()
        if len(parts) != 4:
            raise ValueError(f"{path}, line {number}: an analogy needs 4 words 'a b c d', got {line!r}")
        if not sections:
            raise ValueError(f"{path}, line {number}: a question before any ': section' line")
        sections[-1][1].append((number, *[word.lower() for word in parts]))
    if not sections:
        raise ValueError(f"{path} holds no analogy sections")
    return sections


def evaluate_word_analogies(vectors, words, path, restrict_vocab=30_000, batch=1024):
    """gensim's evaluate_word_analogies: a is to b as c is to d, predicted by 3CosAdd.

    Questions are lowercased; a question with a word outside the first restrict_vocab words is
    skipped. The prediction is the word (among those first restrict_vocab, except a, b and c)
    whose unit vector is nearest by cosine to the normalised mean of unit(b) - unit(a) + unit(c).
    Returns (accuracy over the questions kept, [{"section", "correct", "incorrect"}], kept).
    """
    restrict_vocab = _checks.positive_int("restrict_vocab", restrict_vocab)
    vectors, words = _checks.paired_vectors(vectors, words)
    unit = _checks.unit_rows(vectors)
    unit = unit[:restrict_vocab]
    row = {word: i for i, word in enumerate(words[:restrict_vocab])}
    results = []
    for section, questions in read_analogies(path):
        kept = [[row[w] for w in question[1:]] for question in questions if all(w in row for w in question[1:])]
        correct = 0
        for start in range(0, len(kept), batch):
            ids = np.array(kept[start:start + batch]).reshape(-1, 4)
            query = (unit[ids[:, 1]] - unit[ids[:, 0]] + unit[ids[:, 2]]) / 3     # the mean, as gensim
            query /= np.linalg.norm(query, axis=1, keepdims=True).clip(1e-300)
            scores = query @ unit.T
            scores[np.arange(len(ids))[:, None], ids[:, :3]] = -np.inf          # never a, b or c
            correct += int(np.count_nonzero(scores.argmax(axis=1) == ids[:, 3]))
        results.append({"section": section, "correct": correct, "incorrect": len(kept) - correct})
    total_correct = sum(r["correct"] for r in results)
    total = total_correct + sum(r["incorrect"] for r in results)
    return (total_correct / total if total else 0.0), results, total


def _ranks(values):
    """Ranks 1..n, ties sharing their average rank (as scipy.stats.rankdata)."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    start = 0
    for end in range(1, len(values) + 1):
        if end == len(values) or sorted_values[end] != sorted_values[start]:
            ranks[order[start:end]] = (start + end + 1) / 2
            start = end
    return ranks


def spearman(x, y):
    """Spearman's rank correlation of two equal-length sequences (ties get average ranks)."""
    rx, ry = _ranks(np.asarray(x, float)), _ranks(np.asarray(y, float))
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denominator = np.sqrt((rx ** 2).sum() * (ry ** 2).sum())
    return float((rx * ry).sum() / denominator) if denominator else 0.0


def read_word_pairs(path):
    """[(line, word1, word2, score)] from a tab-separated file; '#' lines are comments."""
    pairs = []
    for number, line in _lines(path):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise ValueError(f"{path}, line {number}: expected 'word1<TAB>word2<TAB>score', got {line!r}")
        try:
            score = float(parts[2])
        except ValueError:
            raise ValueError(f"{path}, line {number}: the score {parts[2]!r} is not a number") from None
        if not np.isfinite(score):
            raise ValueError(f"{path}, line {number}: the score is not finite")
        pairs.append((number, parts[0].lower(), parts[1].lower(), score))
    if not pairs:
        raise ValueError(f"{path} holds no word pairs")
    return pairs


def evaluate_word_pairs(vectors, words, path):
    """gensim's evaluate_word_pairs: Spearman correlation between cosine similarity and the human
    scores, over the pairs whose two words are known (lowercased). Returns (spearman, pairs kept)."""
    vectors, words = _checks.paired_vectors(vectors, words)
    unit = _checks.unit_rows(vectors)
    row = {word: i for i, word in enumerate(words)}
    known = [(row[a], row[b], score) for _, a, b, score in read_word_pairs(path) if a in row and b in row]
    if len(known) < 2:
        return 0.0, len(known)
    similarity = [float(unit[a] @ unit[b]) for a, b, _ in known]
    return spearman(similarity, [score for _, _, score in known]), len(known)

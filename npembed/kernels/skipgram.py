"""Skip-gram with negative sampling (word2vec): the loss and its gradient, and the training loop over
sentences as a Numba kernel beside its plain NumPy/Python reference.

Two tables: ``target`` (vocab, dim), the word vectors one keeps (gensim's ``wv``), and ``context``
(vocab, dim), the output vectors (gensim's ``syn1neg``). For a pair (input word a, predicted word
b) and k negative words n_1..n_k drawn from the unigram distribution raised to 0.75::

    h = target[a];   loss = -log sigmoid(context[b] . h) - sum_i log sigmoid(-context[n_i] . h)
    d loss / d context[r] = (sigmoid(context[r] . h) - label_r) h        (label 1 for b, 0 for n_i)
    d loss / d h          = sum_r (sigmoid(context[r] . h) - label_r) context[r]

Plain SGD, as word2vec and gensim: each context row is updated as soon as its term is computed
(with the h of before the pair); target[a] gets the summed gradient at the end of the pair.
The sigmoid is exact (gensim reads it from a table); a term that is already right by a wide margin
is skipped (see EASY; gensim skips every |dot| >= 6, also a badly wrong one).

Random numbers follow word2vec's linear congruential generator, next = next * 25214903917 + 11
(mod 2^48), in both implementations, so that they draw the same subsampling, windows and
negatives: ``reference`` and ``kernel`` give the same vectors (tested to float rounding).
"""
import typing

import numba
import numpy as np

from .switch import get_kernels

MULTIPLIER, INCREMENT, MODULUS_MASK = 25214903917, 11, (1 << 48) - 1
# A term already right by a wide margin (the positive at dot >= 6, a negative at dot <= -6) has a
# gradient factor |label - sigmoid(dot)| < sigmoid(-6) = 0.25%: its update is skipped, as word2vec's
# table-based implementations do for such dots. Late in training most negatives are such terms,
# and skipping them spares most writes to the context table.
EASY = 6.0


# --------------------------------------------------------------------------------------------
# The loss of a batch of pairs, for gradient checks (what the kernel descends, pair by pair).
# --------------------------------------------------------------------------------------------

def loss_and_gradients(target, context, inputs, outputs, negatives):
    """Summed loss of pairs (inputs[i] -> outputs[i], with negatives[i] (k,)) and its gradients.

    inputs, outputs (pairs,), negatives (pairs, k) int ids. Returns (loss, d_target, d_context),
    gradients as dense arrays of the tables' shapes; repeated ids accumulate (np.add.at).
    """
    rows = np.concatenate([outputs[:, None], negatives], axis=1)              # (pairs, 1 + k)
    labels = np.zeros(rows.shape)
    labels[:, 0] = 1.0
    h = target[inputs]                                                       # (pairs, dim)
    logits = np.einsum("pd,prd->pr", h, context[rows])
    # -log sigmoid(z) for label 1, -log sigmoid(-z) for label 0, stable for any z
    signed = np.where(labels == 1, logits, -logits)
    loss = float(np.sum(np.logaddexp(0.0, -signed)))
    d_logits = 1.0 / (1.0 + np.exp(-logits)) - labels                        # sigmoid(z) - label
    d_target, d_context = np.zeros_like(target), np.zeros_like(context)
    np.add.at(d_target, inputs, np.einsum("pr,prd->pd", d_logits, context[rows]))
    np.add.at(d_context, rows, d_logits[:, :, None] * h[:, None, :])
    return loss, d_target, d_context


# --------------------------------------------------------------------------------------------
# Training over sentences: the reference (plain Python, slow, for small corpora) ...
# --------------------------------------------------------------------------------------------

def _next(random):
    return (random * MULTIPLIER + INCREMENT) & MODULUS_MASK


def train_reference(corpus, offsets, first, last, target, context, keep, cum_table, window, negative,
                    alpha, random):
    """Train on sentences first..last-1 of corpus (flat ids, sentence s = corpus[offsets[s]:offsets[s+1]]).

    keep (vocab,) uint32: a word survives subsampling when keep[word] > a random 32-bit draw;
    cum_table (vocab,) int64: cumulative unigram^0.75 counts for drawing negatives. Updates the
    tables in place; returns (random state, pairs trained, summed loss, words kept).
    """
    pairs, loss_sum, kept_total = 0, 0.0, 0
    for s in range(first, last):
        kept = []
        for word in corpus[offsets[s]:offsets[s + 1]]:
            draw = (random >> 16) & 0xFFFFFFFF
            random = _next(random)
            if keep[word] > draw:
                kept.append(word)
        kept_total += len(kept)
        for i, predicted in enumerate(kept):
            reduced = ((random >> 16) & 0xFFFFFFFF) % window       # dynamic window: 1..window
            random = _next(random)
            for j in range(max(0, i - window + reduced), min(len(kept), i + window + 1 - reduced)):
                if j == i:
                    continue
                h = target[kept[j]]
                step = np.zeros_like(h)                       # accumulates -alpha d loss / d h
                for d in range(negative + 1):
                    if d == 0:
                        row, label = predicted, 1.0
                    else:
                        row = int(np.searchsorted(cum_table, (random >> 16) % cum_table[-1], side="right"))
                        random = _next(random)
                        if row == predicted:
                            continue
                        label = 0.0
                    dot = float(context[row] @ h)
                    loss_sum += np.logaddexp(0.0, -dot if label else dot)
                    if (dot >= EASY) if label else (dot <= -EASY):
                        continue                              # already right: |label - p| < 0.25%
                    p = 1.0 / (1.0 + np.exp(-dot))
                    g = (label - p) * alpha                   # -alpha (sigmoid - label)
                    step += g * context[row]
                    context[row] += g * h
                target[kept[j]] += step
                pairs += 1
    return random, pairs, loss_sum, kept_total


# --------------------------------------------------------------------------------------------
# ... and the kernel: the same loop in Numba.
# --------------------------------------------------------------------------------------------

@numba.njit(cache=True, nogil=True, inline="always")
def _softplus(x):
    # log(1 + exp(x)), stable for any x: -log sigmoid(-x)
    return max(x, 0.0) + np.log1p(np.exp(-abs(x)))


CACHE_LINE = 64                       # bytes
GUIDE_BITS = 16                       # the guide table: 2^16 int32 (256 KB, stays in cache)


def negative_guide(cum_table, bits=GUIDE_BITS):
    """A guide to cum_table for drawing negatives in O(1): (guide (2^bits,) int32, step int).

    guide[b] is the first row whose cumulative count exceeds b * step; a draw `value` starts its
    search at guide[value // step] and walks forward a row or two. It finds exactly the row that
    np.searchsorted(cum_table, value, side="right") finds, in one or two steps instead of a binary search's seventeen.
    """
    step = -(-int(cum_table[-1]) // (1 << bits))                 # ceil(domain / 2^bits)
    starts = np.arange(1 << bits, dtype=np.int64) * step
    return np.searchsorted(cum_table, starts, side="right").astype(np.int32), step


@numba.njit(cache=True, nogil=True, inline="always")
def _draw_negative(cum_table, guide, step, random):
    # the first row whose cumulative count exceeds the draw (np.searchsorted, side="right")
    value = (random >> 16) % cum_table[-1]
    row = guide[value // step]
    while cum_table[row] <= value:
        row += 1
    return row


# fastmath "reassoc": the dot products may be summed in SIMD lanes (LLVM vectorizes a float sum only
# when it may reorder it): the same sums up to rounding, in vector instructions. "contract": fused multiply-adds.
@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _train_kernel(corpus, offsets, first, last, target, context, keep, cum_table, guide, guide_step, window,
                  negative, alpha, random, kept, step, compute_loss):
    # kept: a buffer for one sentence's surviving words; step: (dim,) the pair's update of h;
    # guide, guide_step: see negative_guide.
    # random is an int64 below 2^48: the product wraps modulo 2^64, whose low 48 bits are exact
    dim = target.shape[1]
    pairs, loss_sum, kept_total = 0, 0.0, 0
    for s in range(first, last):
        n = 0
        for t in range(offsets[s], offsets[s + 1]):
            word = corpus[t]
            draw = (random >> 16) & 0xFFFFFFFF
            random = (random * 25214903917 + 11) & 0xFFFFFFFFFFFF
            if keep[word] > draw:
                kept[n] = word
                n += 1
        kept_total += n
        for i in range(n):
            predicted = kept[i]
            reduced = ((random >> 16) & 0xFFFFFFFF) % window
            random = (random * 25214903917 + 11) & 0xFFFFFFFFFFFF
            for j in range(max(0, i - window + reduced), min(n, i + window + 1 - reduced)):
                if j == i:
                    continue
                a = kept[j]
                for e in range(dim):
                    step[e] = 0.0
                for d in range(negative + 1):
                    if d == 0:
                        row, label = predicted, 1.0
                    else:
                        row = _draw_negative(cum_table, guide, guide_step, random)
                        random = (random * 25214903917 + 11) & 0xFFFFFFFFFFFF
                        if row == predicted:
                            continue
                        label = 0.0
                    dot = np.float32(0.0)               # float32 sums, as word2vec's sdot
                    for e in range(dim):
                        dot += context[row, e] * target[a, e]
                    if compute_loss:
                        loss_sum += _softplus(-dot if label == 1.0 else dot)
                    if (dot >= 6.0) if label == 1.0 else (dot <= -6.0):
                        continue                          # already right (see EASY)
                    p = 1.0 / (1.0 + np.exp(-dot))
                    g = np.float32((label - p) * alpha)
                    for e in range(dim):
                        step[e] += g * context[row, e]
                        context[row, e] += g * target[a, e]
                for e in range(dim):
                    target[a, e] += step[e]
                pairs += 1
    return random, pairs, loss_sum, kept_total


@numba.njit(parallel=True, cache=True, nogil=True)
def _train_hogwild(corpus, offsets, bounds, target, context, keep, cum_table, guide, guide_step, window,
                   negative, alpha, randoms, kept, steps, results, compute_loss):
    # Hogwild (as gensim's workers): each thread trains its own slice of sentences on the shared
    # tables without locks; updates of frequent rows may interleave, so runs are not bit-identical
    for part in numba.prange(len(bounds) - 1):
        random, pairs, loss_sum, kept_total = _train_kernel(
            corpus, offsets, bounds[part], bounds[part + 1], target, context, keep, cum_table, guide, guide_step,
            window, negative, alpha, randoms[part], kept[part], steps[part], compute_loss)
        randoms[part] = random
        results[part, 0] = pairs
        results[part, 1] = loss_sum
        results[part, 2] = kept_total


class Workspace(typing.NamedTuple):
    """What the kernel needs besides the tables, made once per corpus (see workspace)."""
    longest: int            # the longest sentence: the length of the buffer of kept words
    dim: int
    guide: np.ndarray       # negative_guide(cum_table)
    guide_step: int


def workspace(offsets, cum_table, dim):
    """The kernel's buffers' sizes and the negatives' guide, for a corpus of sentences at offsets."""
    return Workspace(int(np.diff(offsets).max(initial=1)), int(dim), *negative_guide(cum_table))


def train(corpus, offsets, first, last, target, context, keep, cum_table, window, negative, alpha, random,
          workers=1, work=None, compute_loss=True):
    """Train on sentences first..last-1 (see train_reference); workers > 1 splits them across threads
    (Hogwild, not bit-reproducible). work: workspace(offsets, cum_table, dim), made when None (a
    caller looping over jobs makes it once). Returns (random state, pairs,
    summed loss (0 unless compute_loss), words kept)."""
    if get_kernels() == "numpy":
        return train_reference(corpus, offsets, first, last, target, context, keep, cum_table, window,
                               negative, alpha, random)
    work = workspace(offsets, cum_table, target.shape[1]) if work is None else work
    tables = (target, context, keep, cum_table, work.guide, np.int64(work.guide_step), window, negative, alpha)
    if workers == 1:
        return _train_kernel(corpus, offsets, first, last, *tables, np.int64(random),
                             np.empty(work.longest, np.int32), np.empty(work.dim, target.dtype), bool(compute_loss))
    # slices of about equal words (not sentences), so that the threads finish together
    words = offsets[first] + (offsets[last] - offsets[first]) * np.arange(1, workers) / workers
    bounds = np.concatenate([[first], np.searchsorted(offsets, words), [last]]).clip(first, last).astype(np.int64)
    randoms = np.array([(random + MULTIPLIER * part) & MODULUS_MASK for part in range(workers)], np.int64)
    results = np.zeros((workers, 3))
    # each thread's buffers one cache line apart (CACHE_LINE): a thread writes its `step` for every
    # term, and two threads writing one line would pass it between the cores each time
    _train_hogwild(corpus, offsets, bounds, *tables, randoms,
                   np.empty((workers, work.longest + CACHE_LINE // 4), np.int32),
                   np.empty((workers, work.dim + CACHE_LINE // target.itemsize), target.dtype), results,
                   bool(compute_loss))
    return int(randoms[0]), int(results[:, 0].sum()), float(results[:, 1].sum()), int(results[:, 2].sum())

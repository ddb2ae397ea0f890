"""Skip-gram with negative sampling: gradients, the kernel against its reference, the model, the
evaluation conventions and Keras's skipgrams helpers."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import npembed
from npembed import gradcheck
from npembed.wordvectors import evaluation
from npembed.kernels import skipgram
from npembed.preprocessing.sequence import make_sampling_table, skipgrams
from npembed.wordvectors.word2vec import Word2Vec
from strategies import seeds


def toy_corpus(rng, vocab=30, sentences=40, length=25):
    """Sentences that walk through vocab // 2 classes in order; class k is written w{2k} or w{2k+1}
    at random, so the two words of a class share all their contexts (they are substitutes)."""
    classes = vocab // 2
    out = []
    for _ in range(sentences):
        walk = (rng.integers(classes) + np.arange(length)) % classes
        out.append([f"w{2 * k + rng.integers(2)}" for k in walk])
    return out


# ---- the loss and its gradient --------------------------------------------------------------------

@given(seed=seeds, pairs=st.integers(1, 4), k=st.integers(1, 3))
def test_sgns_gradients_match_finite_differences(seed, pairs, k):
    rng = np.random.default_rng(seed)
    vocab, dim = 5, 3                                    # few words: ids repeat across pairs
    target, context = rng.normal(size=(vocab, dim)), rng.normal(size=(vocab, dim))
    inputs, outputs = rng.integers(0, vocab, pairs), rng.integers(0, vocab, pairs)
    negatives = rng.integers(0, vocab, (pairs, k))
    _, d_target, d_context = skipgram.loss_and_gradients(target, context, inputs, outputs, negatives)
    gradcheck.check_gradients(lambda: skipgram.loss_and_gradients(target, context, inputs, outputs, negatives)[0],
                              {"target": d_target, "context": d_context}, {"target": target, "context": context})


def test_the_gradient_check_rejects_a_scatter_that_drops_repeated_ids():
    rng = np.random.default_rng(0)
    target, context = rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    inputs, outputs, negatives = np.array([1, 1]), np.array([2, 2]), np.array([[3], [3]])
    _, d_target, d_context = skipgram.loss_and_gradients(target, context, inputs, outputs, negatives)
    d_target[1] /= 2                                     # what `d[ids] += g` would leave
    result = gradcheck.check_gradients(
        lambda: skipgram.loss_and_gradients(target, context, inputs, outputs, negatives)[0],
        {"target": d_target, "context": d_context}, {"target": target, "context": context}, raise_exception=False)
    assert not result.passed


def test_each_pair_is_one_sgd_step_on_its_own_loss():
    """word2vec's sequential update of a pair is exactly -alpha times that pair's loss gradient."""
    rng = np.random.default_rng(3)
    alpha = 0.1
    target, context = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    corpus, offsets = np.array([1, 2], np.int32), np.array([0, 2], np.int64)
    keep = np.full(6, 2**32, np.int64)                            # every word is kept
    cum_table = np.array([0, 0, 0, 1000, 2000, 3000], np.int64)   # negatives among rows 3, 4, 5
    random = 12345
    trained_target, trained_context = target.copy(), context.copy()
    skipgram.train_reference(corpus, offsets, 0, 1, trained_target, trained_context, keep, cum_table, 1, 1,
                             alpha, random)
    # replay the generator: two keep draws, then per position a window draw and per pair a negative
    r = skipgram._next(skipgram._next(random))
    negatives = []
    for _ in range(2):
        r = skipgram._next(r)                                     # the window draw
        negatives.append(int(np.searchsorted(cum_table, (r >> 16) % cum_table[-1], side="right")))
        r = skipgram._next(r)
    expected_target, expected_context = target.copy(), context.copy()
    for word_in, word_out, negative in ((2, 1, negatives[0]), (1, 2, negatives[1])):
        _, d_target, d_context = skipgram.loss_and_gradients(expected_target, expected_context, np.array([word_in]),
                                                              np.array([word_out]), np.array([[negative]]))
        expected_target -= alpha * d_target
        expected_context -= alpha * d_context
    np.testing.assert_allclose(trained_target, expected_target, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(trained_context, expected_context, rtol=1e-12, atol=1e-15)
    assert not np.allclose(trained_context, context)


# ---- the kernel equals its reference --------------------------------------------------------------

@given(counts=st.lists(st.integers(1, 10**6), min_size=2, max_size=300), bits=st.integers(1, 12),
       start=st.integers(0, 2**48 - 1))
def test_the_guided_negative_draw_is_the_binary_search(counts, bits, start):
    cum_table = np.cumsum(np.array(counts, np.int64))
    guide, step = skipgram.negative_guide(cum_table, bits)
    random = start
    for _ in range(200):
        value = (random >> 16) % cum_table[-1]
        expected = np.searchsorted(cum_table, value, side="right")
        assert skipgram._draw_negative(cum_table, guide, np.int64(step), np.int64(random)) == expected
        random = skipgram._next(random)
    # the extreme draws: the first value and the last
    for value in (0, int(cum_table[-1]) - 1):
        random = value << 16
        assert skipgram._draw_negative(cum_table, guide, np.int64(step), np.int64(random)) == \
            np.searchsorted(cum_table, value, side="right")


@settings(max_examples=15)
@given(seed=seeds, window=st.integers(1, 4), negative=st.integers(1, 4), sample=st.sampled_from([0, 1e-2, 1e-1]))
def test_training_kernel_equals_the_reference(seed, window, negative, sample):
    rng = np.random.default_rng(seed)
    sentences = toy_corpus(rng, vocab=12, sentences=6, length=14)
    results = {}
    for name in ("numba", "numpy"):
        npembed.set_kernels(name)
        try:
            model = Word2Vec(vector_size=6, window=window, negative=negative, sample=sample, min_count=1,
                             epochs=2, seed=seed, verbose=0, compute_loss=True).fit(sentences)
            results[name] = model
        finally:
            npembed.set_kernels("numba")
    fast, reference = results["numba"], results["numpy"]
    np.testing.assert_allclose(fast.vectors, reference.vectors, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(fast.context, reference.context, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(fast.history["loss"], reference.history["loss"], rtol=1e-4)


def test_one_worker_is_bit_identical_and_hogwild_still_learns(rng):
    sentences = toy_corpus(rng, vocab=40, sentences=300, length=30)
    settings = dict(vector_size=16, window=2, min_count=1, sample=0, epochs=5, verbose=0)
    runs = [Word2Vec(seed=5, **settings).fit(sentences) for _ in range(2)]
    np.testing.assert_array_equal(runs[0].vectors, runs[1].vectors)
    other = Word2Vec(seed=6, **settings).fit(sentences)
    assert not np.array_equal(other.vectors, runs[0].vectors)
    for model in runs[:1] + [Word2Vec(seed=5, workers=2, **settings).fit(sentences)]:
        assert np.isfinite(model.vectors).all()
        # words that always co-occur end up each other's nearest neighbours
        hits = sum(model.most_similar(f"w{2 * k}", topn=1)[0][0] == f"w{2 * k + 1}" for k in range(20))
        assert hits >= 15


def test_the_loss_falls_and_the_learning_rate_decays(rng):
    sentences = toy_corpus(rng, vocab=40, sentences=200, length=30)
    model = Word2Vec(vector_size=16, window=2, min_count=1, epochs=4, verbose=0, compute_loss=True).fit(sentences)
    assert model.history["loss"][-1] < model.history["loss"][0]


def test_vocabulary_subsampling_and_negative_table_follow_word2vec():
    model = Word2Vec(min_count=2, sample=1e-3, verbose=0).build_vocab([["a", "b", "b", "c", "c", "c", "d"]] * 2)
    assert model.words == ["c", "b", "a", "d"] and model.counts.tolist() == [6, 4, 2, 2]
    total = 14
    threshold = 1e-3 * total
    expected = np.minimum(1, (np.sqrt(np.array([6, 4, 2, 2]) / threshold) + 1) * threshold / np.array([6, 4, 2, 2]))
    np.testing.assert_allclose(model.keep_probabilities(), expected)
    table = model.negative_table()
    weights = np.array([6, 4, 2, 2]) ** 0.75
    np.testing.assert_allclose(np.diff(np.concatenate([[0], table])) / table[-1], weights / weights.sum(), atol=1e-8)


@pytest.mark.parametrize("kwargs, sentences, error, message", [
    ({}, [], ValueError, "corpus is empty"),
    ({}, [[]], ValueError, "corpus is empty"),
    ({"min_count": 10}, [["a", "b"]], ValueError, "min_count=10 leaves 0"),
    ({"window": 0}, [["a"]], ValueError, "window"),
    ({"negative": 0}, [["a"]], ValueError, "negative"),
    ({"vector_size": 0}, [["a"]], ValueError, "vector_size"),
    ({"alpha": -0.1}, [["a"]], ValueError, "alpha"),
    ({"alpha": float("inf")}, [["a"]], ValueError, "alpha"),
    ({}, "a b c", TypeError, "list of token lists"),
    ({}, [["a", 3]], TypeError, "string tokens"),
])
def test_bad_input_is_refused_clearly(kwargs, sentences, error, message):
    with pytest.raises(error, match=message):
        Word2Vec(min_count=kwargs.pop("min_count", 1), verbose=0, **kwargs).fit(sentences)


def test_unknown_words_suggest_close_spellings(rng):
    model = Word2Vec(vector_size=4, min_count=1, epochs=1, verbose=0).fit([["beautiful", "film"]] * 5)
    with pytest.raises(KeyError, match="'beautifull' is not in the vocabulary; did you mean 'beautiful'"):
        model.most_similar("beautifull")
    with pytest.raises(KeyError, match="did you mean"):
        model["beautifull"]
    with pytest.raises(ValueError, match="not trained"):
        Word2Vec(verbose=0).most_similar("a")


def test_word2vec_format_and_projector_exports_read_back(tmp_path, rng):
    model = Word2Vec(vector_size=5, min_count=1, epochs=1, verbose=0).fit(toy_corpus(rng, sentences=10))
    model.save_word2vec_format(tmp_path / "w2v.txt")
    words, vectors = npembed.wordvectors.files.load_word_vectors(tmp_path / "w2v.txt")
    assert words == model.words and np.allclose(vectors, model.vectors, rtol=1e-6, atol=1e-9)
    model.export_projector(tmp_path)
    assert npembed.wordvectors.projector.load_projector(tmp_path)[1] == model.words


# ---- evaluation: gensim's conventions ----------------------------------------------------------------

def test_analogies_follow_3cosadd_and_skip_unknown_questions(tmp_path):
    words = ["king", "queen", "man", "woman", "apple"]
    vectors = np.array([[1, 1, 0], [1, -1, 0], [0, 1, 0.1], [0, -1, 0.1], [0, 0, 1]], float)
    (tmp_path / "q.txt").write_text(": gender\nMan Woman King Queen\nman woman king apple\n"
                                    ": fruit\nking queen man pear\n")
    accuracy, sections, kept = evaluation.evaluate_word_analogies(vectors, words, tmp_path / "q.txt")
    assert kept == 2 and accuracy == 0.5                  # "pear" is unknown: that question is skipped
    assert sections == [{"section": "gender", "correct": 1, "incorrect": 1},
                        {"section": "fruit", "correct": 0, "incorrect": 0}]
    _, _, kept_top3 = evaluation.evaluate_word_analogies(vectors, words, tmp_path / "q.txt", restrict_vocab=3)
    assert kept_top3 == 0


def test_word_pairs_give_spearman_with_average_ranks(tmp_path):
    words = ["a", "b", "c", "d"]
    vectors = np.array([[1, 0], [1, 0.1], [0, 1], [-1, 0]], float)
    (tmp_path / "p.tsv").write_text("# comment\na\tb\t9\na\tc\t5\na\td\t1\nA\tzzz\t3\n")
    rho, kept = evaluation.evaluate_word_pairs(vectors, words, tmp_path / "p.tsv")
    assert kept == 3 and rho == pytest.approx(1.0)
    assert evaluation.spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9486832980505138)   # scipy's value


@pytest.mark.parametrize("name, content, message", [
    ("q.txt", ": s\na b c\n", "line 2: an analogy needs 4 words"),
    ("q.txt", "a b c d\n", "line 1: a question before any"),
    ("p.tsv", "a\tb\n", "line 1: expected"),
    ("p.tsv", "a\tb\tten\n", "line 1: the score 'ten' is not a number"),
    ("p.tsv", "# only comments\n", "holds no word pairs"),
])
def test_malformed_evaluation_files_name_the_line(tmp_path, name, content, message):
    (tmp_path / name).write_text(content)
    evaluate = evaluation.evaluate_word_analogies if name == "q.txt" else evaluation.evaluate_word_pairs
    with pytest.raises(ValueError, match=message):
        evaluate(np.eye(2), ["a", "b"], tmp_path / name)


# ---- Keras's helpers ----------------------------------------------------------------------------------

def test_make_sampling_table_is_keras():
    gamma = 0.577
    rank = np.array([1.0, 1, 2, 3, 4])
    f = 1e-5 * (rank * (np.log(rank) + gamma) + 0.5 - 1 / (12 * rank))
    np.testing.assert_allclose(make_sampling_table(5), np.minimum(1, f / np.sqrt(f)))


def test_skipgrams_are_keras():
    couples, labels = skipgrams([1, 2, 0, 3], vocabulary_size=4, window_size=1, negative_samples=0, shuffle=False)
    assert couples == [[1, 2], [2, 1]] and labels == [1, 1]          # id 0 is never a word
    couples, labels = skipgrams([1, 2, 3], 10, window_size=2, negative_samples=2.0, seed=3)
    assert labels.count(1) == 6 and labels.count(0) == 12
    positives = {tuple(c) for c, label in zip(couples, labels) if label == 1}
    assert positives == {(1, 2), (1, 3), (2, 1), (2, 3), (3, 1), (3, 2)}
    assert all(1 <= c[1] < 10 for c, label in zip(couples, labels) if label == 0)
    assert skipgrams([1, 2, 3], 10, seed=3) == skipgrams([1, 2, 3], 10, seed=3)
    _, categorical = skipgrams([1, 2], 5, categorical=True, negative_samples=0)
    assert categorical == [[0, 1], [0, 1]]
    with pytest.raises(IndexError, match="outside"):
        skipgrams([1, 12], 10)


def test_the_neighbour_picture_needs_words(tmp_path):
    from npembed.study import plotting
    with pytest.raises(ValueError, match="neighbors is empty"):
        plotting.plot_neighbor_comparison({}, tmp_path / "n.png")
    plotting.plot_neighbor_comparison({"good": ([("fine", 0.9)], [("bad", 0.2)])}, tmp_path / "n.png")
    assert (tmp_path / "n.png").read_bytes().startswith(b"\x89PNG")


def test_snapshots_watch_the_word_vectors_form(rng):
    from npembed.study import analysis
    from npembed.callbacks import EmbeddingSnapshots
    sentences = toy_corpus(rng, vocab=40, sentences=300, length=30)
    snapshots = EmbeddingSnapshots()
    model = Word2Vec(vector_size=16, window=2, min_count=1, sample=0, epochs=4, seed=5, verbose=0)
    model.fit(sentences, callbacks=[snapshots])
    assert snapshots.epochs == [0, 1, 2, 3, 4] and len(snapshots.snapshots) == 5
    np.testing.assert_array_equal(snapshots.snapshots[-1], model.vectors)
    assert not np.array_equal(snapshots.snapshots[0], snapshots.snapshots[-1])
    over_time = analysis.neighbors_over_time(snapshots.snapshots, model.words, "w0", topn=1)
    assert over_time[-1] == ["w1"]                       # the substitute, once trained
    # the same result as without callbacks: watching changes nothing
    plain = Word2Vec(vector_size=16, window=2, min_count=1, sample=0, epochs=4, seed=5, verbose=0).fit(sentences)
    np.testing.assert_array_equal(plain.vectors, model.vectors)

"""Every backward pass against central finite differences (float64), under both kernel paths."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from npembed import Sequential, gradcheck, losses
from npembed.stages import EmbeddingMean
from npembed.layers import Dense, Embedding, GlobalAveragePooling1D
from strategies import float_inputs, id_batches, seeds


def built(layer, input_shape, seed=0):
    layer.build(input_shape, np.random.default_rng(seed), "float64")
    return layer


@given(batch=id_batches(), dim=st.integers(1, 4), seed=seeds)
def test_embedding_lookup_backward_is_a_scatter_add(kernels, batch, dim, seed):
    vocab, ids = batch
    layer = built(Embedding(vocab, dim), (None, ids.shape[1]), seed)
    gradcheck.check_layer(layer, ids, rng=np.random.default_rng(seed))


@given(batch=id_batches(), dim=st.integers(1, 4), mask_zero=st.booleans(), seed=seeds)
def test_fused_embedding_mean_backward(kernels, batch, dim, mask_zero, seed):
    vocab, ids = batch
    layer = built(Embedding(vocab, dim, mask_zero=mask_zero), (None, ids.shape[1]), seed)
    gradcheck.check_layer(layer, ids, rng=np.random.default_rng(seed), pooled=True)


@given(x=float_inputs(ndim=3), data=st.data(), seed=seeds)
def test_global_average_pooling_backward(x, data, seed):
    mask = data.draw(st.none() | st.lists(st.booleans(), min_size=x.size // x.shape[2],
                                          max_size=x.size // x.shape[2]))
    if mask is not None:
        mask = np.array(mask).reshape(x.shape[:2])
    layer = built(GlobalAveragePooling1D(), (None,) + x.shape[1:])
    gradcheck.check_layer(layer, x, mask=mask, rng=np.random.default_rng(seed))


@given(x=float_inputs(), units=st.integers(1, 4), activation=st.sampled_from([None, "relu", "sigmoid"]),
       seed=seeds)
def test_dense_backward(x, units, activation, seed):
    layer = built(Dense(units, activation=activation), (None, x.shape[1]), seed)
    z = x @ layer.params["kernel"] + layer.params["bias"]
    assume(activation != "relu" or np.abs(z).min() > 1e-3)      # away from ReLU's kink
    gradcheck.check_layer(layer, x, rng=np.random.default_rng(seed))


def test_dense_on_sequences_backward(rng):
    layer = built(Dense(3, activation="sigmoid"), (None, 4, 2))
    gradcheck.check_layer(layer, rng.normal(size=(2, 4, 2)))


@given(logits=st.lists(st.floats(-30, 30), min_size=1, max_size=6), data=st.data())
def test_bce_from_logits_backward(logits, data):
    y = np.array(data.draw(st.lists(st.integers(0, 1), min_size=len(logits), max_size=len(logits))),
                 dtype=np.float64).reshape(-1, 1)
    gradcheck.check_loss(losses.binary_crossentropy_from_logits, y, np.reshape(logits, (-1, 1)))


@given(p=st.lists(st.floats(0.01, 0.99), min_size=1, max_size=6), data=st.data())
def test_bce_on_probabilities_backward(p, data):
    y = np.array(data.draw(st.lists(st.integers(0, 1), min_size=len(p), max_size=len(p))),
                 dtype=np.float64).reshape(-1, 1)
    gradcheck.check_loss(losses.binary_crossentropy, y, np.reshape(p, (-1, 1)))


@pytest.mark.parametrize("z", [1000.0, -1000.0])
@pytest.mark.parametrize("label", [0.0, 1.0])
def test_bce_is_finite_for_huge_logits(z, label):
    y = np.array([[label]])
    loss, grad = losses.binary_crossentropy_from_logits(y, np.array([[z]]))
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    p = 1.0 if z > 0 else 0.0
    assert grad[0, 0] == pytest.approx(p - label)
    assert loss == pytest.approx(abs(z) if (z > 0) != (label == 1) else 0.0)


def test_bce_gradient_is_p_minus_y_over_batch(rng):
    logits = rng.normal(size=(5, 1))
    y = rng.integers(0, 2, (5, 1)).astype(float)
    _, grad = losses.binary_crossentropy_from_logits(y, logits)
    np.testing.assert_allclose(grad, (1 / (1 + np.exp(-logits)) - y) / 5, rtol=1e-12)


@given(batch=id_batches(max_vocab=5), mask_zero=st.booleans(), hidden=st.integers(1, 3), seed=seeds,
       data=st.data())
def test_whole_tutorial_shaped_model(kernels, batch, mask_zero, hidden, seed, data):
    vocab, ids = batch
    y = np.array(data.draw(st.lists(st.integers(0, 1), min_size=len(ids), max_size=len(ids))))
    model = Sequential([Embedding(vocab, 3, mask_zero=mask_zero), GlobalAveragePooling1D(),
                        Dense(hidden, activation="relu"), Dense(1, activation="sigmoid")],
                       seed=seed, dtype="float64")
    model.compile()
    model.build((None, ids.shape[1]))
    embedding, _, hidden_layer, _ = model.layers
    table = embedding.params["embeddings"]
    weights = (ids != 0) if mask_zero else np.ones(ids.shape, bool)
    pooled = (table[ids] * weights[:, :, None]).sum(1) / np.maximum(weights.sum(1), 1)[:, None]
    z = pooled @ hidden_layer.params["kernel"] + hidden_layer.params["bias"]
    assume(np.abs(z).min() > 1e-4)                                   # away from ReLU's kink
    gradcheck.check_model(model, ids, y)


def test_unfused_model_matches_finite_differences(rng):
    """Embedding -> Dense -> pooling -> Dense: the plain (unfused) path, mask flowing through Dense."""
    model = Sequential([Embedding(6, 3, mask_zero=True), Dense(2, activation="sigmoid"),
                        GlobalAveragePooling1D(), Dense(1, activation="sigmoid")], seed=3,
                       dtype="float64")
    model.compile()
    ids = np.array([[1, 2, 2, 0], [0, 0, 0, 0], [5, 5, 1, 3]])
    gradcheck.check_model(model, ids, [1, 0, 1])


def test_big_tables_get_the_directional_check(rng):
    layer = built(Embedding(3000, 4), (None, 6))
    result = gradcheck.check_layer(layer, rng.integers(0, 3000, (4, 6)), max_entries=100)
    assert [c.method for c in result.comparisons] == ["directional"]
    assert result.passed


# ---- the checker must FAIL on wrong backward passes -------------------------------------------

def test_checker_rejects_scatter_that_drops_repeated_ids(monkeypatch):
    def wrong_backward(self, d_vectors):
        self.grads["embeddings"][self._ids] += d_vectors     # buffered: repeated ids counted once
    monkeypatch.setattr(Embedding, "backward", wrong_backward)
    layer = built(Embedding(4, 2), (None, 3))
    with pytest.raises(gradcheck.GradcheckError):
        gradcheck.check_layer(layer, np.array([[1, 1, 2], [3, 1, 1]]))


def test_checker_rejects_masked_mean_that_divides_by_full_length(monkeypatch):
    def wrong_backward(self, dy):
        return self._scale.astype(bool)[:, :, None] * dy[:, None, :] / self._scale.shape[1]
    monkeypatch.setattr(GlobalAveragePooling1D, "backward", wrong_backward)
    layer = built(GlobalAveragePooling1D(), (None, 4, 2))
    mask = np.array([[True, True, False, False], [True, False, False, False]])
    with pytest.raises(gradcheck.GradcheckError):
        gradcheck.check_layer(layer, np.random.default_rng(0).normal(size=(2, 4, 2)), mask=mask)


def test_checker_rejects_wrong_dense_gradient(monkeypatch):
    original = Dense.backward_logits

    def transposed_bias(self, dz):
        out = original(self, dz)
        self.grads["bias"] *= 2
        return out
    monkeypatch.setattr(Dense, "backward_logits", transposed_bias)
    layer = built(Dense(2), (None, 3))
    result = gradcheck.check_layer(layer, np.ones((2, 3)), raise_exception=False)
    assert not result.passed and result.worst.name == "bias"


def test_checker_needs_float64():
    layer = Embedding(4, 2)
    layer.build((None, 3), np.random.default_rng(0), "float32")
    with pytest.raises(ValueError, match="float64"):
        gradcheck.check_layer(layer, np.array([[1, 2, 3]]))


# ---- masking semantics ---------------------------------------------------------------------------

def test_masked_mean_differs_from_plain_mean_and_handles_all_padding(kernels):
    layer = built(Embedding(5, 3, mask_zero=True), (None, 4))
    plain = built(Embedding(5, 3, mask_zero=False), (None, 4))
    fused_masked = EmbeddingMean(layer, GlobalAveragePooling1D())
    fused_plain = EmbeddingMean(plain, GlobalAveragePooling1D())
    ids = np.array([[1, 2, 0, 0], [0, 0, 0, 0], [3, 3, 3, 4]])
    masked, unmasked = fused_masked(ids), fused_plain(ids)
    table = layer.params["embeddings"]
    np.testing.assert_allclose(masked[0], table[[1, 2]].mean(axis=0), rtol=1e-12)
    np.testing.assert_array_equal(masked[1], 0)                    # no NaN for all padding
    np.testing.assert_allclose(unmasked[0], plain.params["embeddings"][[1, 2, 0, 0]].mean(axis=0),
                               rtol=1e-12)
    assert not np.allclose(masked[0], table[[1, 2, 0, 0]].mean(axis=0))
    layer.zero_grads()
    fused_masked.backward(np.ones((3, 3)))
    assert np.all(layer.grads["embeddings"][0] == 0)            # padding row gets nothing when masked
    # the textbook pair agrees: the masked mean differs from the plain one on padded input
    pooling = built(GlobalAveragePooling1D(), (None, 4, 3))
    np.testing.assert_allclose(pooling(layer(ids), layer.compute_mask(ids, None)), masked, rtol=1e-12)
    assert not np.allclose(pooling(layer(ids)), masked)

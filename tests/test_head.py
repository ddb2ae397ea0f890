"""The head kernel (npembed.stages) is held equal to its reference, the Dense layers and the loss run
one by one; and Sequential uses it exactly where it applies."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import npembed
from npembed import Sequential, losses
from npembed import stages
from npembed.layers import Dense, Dropout, Embedding, Flatten, GlobalAveragePooling1D
from strategies import seeds

TOLERANCE = {"float64": dict(rtol=1e-10, atol=1e-13), "float32": dict(rtol=2e-4, atol=2e-6)}


def built_head(features, units, activation, dtype, rng):
    hidden, output = Dense(units, activation=activation), Dense(1, activation="sigmoid")
    hidden.build((None, features), rng, dtype)
    output.build((None, units), rng, dtype)
    output.params["bias"][:] = rng.normal(size=1)           # a non-zero bias, so that it counts
    hidden.params["bias"][:] = rng.normal(size=units) * 0.5
    return stages.DenseHead(hidden, output)


def loss_step(step, h, y, backward):
    """(loss, accuracy, d_h or None) of the stage: forward, then backward in training."""
    loss, accuracy = step.forward(h, y, training=backward)
    return loss, accuracy, (step.backward() if backward else None)


def layers_one_by_one(step, h, y, backward):
    """The same numbers from the two Dense layers and the loss, one NumPy call at a time."""
    z = step.logits(h)
    loss, dz = losses.binary_crossentropy_from_logits(y, z)
    accuracy = losses.binary_accuracy(y, z, threshold=0.0)
    if not backward:
        return loss, accuracy, None
    return loss, accuracy, step.hidden.backward(step.output.backward_logits(dz))


def grads_of(step):
    return [grad.copy() for layer in step.layers for grad in layer.grads.values()]


@given(batch=st.integers(1, 40), features=st.integers(1, 20), units=st.integers(1, 20),
       activation=st.sampled_from([None, "relu"]), dtype=st.sampled_from(["float32", "float64"]),
       backward=st.booleans(), scale=st.sampled_from([0.1, 1.0, 30.0]), seed=seeds,
       kernels=st.sampled_from(["numba", "numpy"]))
def test_head_kernel_and_its_reference_equal_the_layers(batch, features, units, activation, dtype, backward,
                                                        scale, seed, kernels):
    """Loss, accuracy, d_h and all four gradients of the kernel (numba) and of its NumPy reference
    (numpy) equal the layers + loss one by one."""
    with npembed.kernels.using(kernels):
        check_head_against_the_layers(batch, features, units, activation, dtype, backward, scale, seed)


def check_head_against_the_layers(batch, features, units, activation, dtype, backward, scale, seed):
    rng = np.random.default_rng(seed)
    step = built_head(features, units, activation, dtype, rng)
    h = (rng.normal(size=(batch, features)) * scale).astype(dtype)
    y = rng.integers(0, 2, (batch, 1)).astype(dtype)
    results = []
    for run in (loss_step, layers_one_by_one):
        for layer in step.layers:
            layer.zero_grads()
        loss, accuracy, d_h = run(step, h, y, backward)
        results.append((loss, accuracy, None if d_h is None else d_h.copy(), grads_of(step)))
    (loss, accuracy, d_h, grads), (ref_loss, ref_accuracy, ref_d_h, ref_grads) = results
    z = step.logits(h)
    assert loss == pytest.approx(ref_loss, rel=TOLERANCE[dtype]["rtol"], abs=1e-6)
    if np.abs(z).min() > 1e-4 * scale:                            # a logit at 0 may round to either side
        assert accuracy == ref_accuracy
    if not backward:
        assert d_h is None and ref_d_h is None
        assert all(not grad.any() for grad in grads)              # nothing was written
        return
    z1 = h @ step.hidden.params["kernel"] + step.hidden.params["bias"]
    if activation == "relu" and np.abs(z1).min() < 1e-4 * scale:  # ReLU's kink: either side is right
        return
    np.testing.assert_allclose(d_h, ref_d_h, **TOLERANCE[dtype])
    for got, expected in zip(grads, ref_grads):
        np.testing.assert_allclose(got, expected, **TOLERANCE[dtype])


def test_head_adds_into_the_gradients_and_reuses_its_buffer(rng):
    step = built_head(5, 4, "relu", "float64", rng)
    h, y = rng.normal(size=(9, 5)), rng.integers(0, 2, (9, 1)).astype(float)
    loss_step(step, h, y, True)
    once = grads_of(step)
    _, _, d_small = loss_step(step, h[:3], y[:3], True)             # a smaller last batch: a view, right shape
    assert d_small.shape == (3, 5)
    for layer in step.layers:
        layer.zero_grads()
    loss_step(step, h, y, True)
    loss_step(step, h, y, True)
    for twice, single in zip(grads_of(step), once):               # gradients add up, as the layers' do
        np.testing.assert_allclose(twice, 2 * single, rtol=1e-12)


def test_head_keeps_large_logits_finite(rng):
    """Logits of +-1000: the loss stays exact and finite (sigmoid + BCE on the logit), as on the textbook path."""
    step = built_head(2, 2, None, "float64", rng)
    step.hidden.params["kernel"][:] = np.eye(2)
    step.output.params["kernel"][:] = [[1.0], [0.0]]
    step.output.params["bias"][:] = 0
    step.hidden.params["bias"][:] = 0
    h, y = np.array([[1000.0, 0], [-1000.0, 0]]), np.array([[0.0], [1.0]])
    loss, accuracy, d_h = loss_step(step, h, y, True)
    assert loss == pytest.approx(1000.0) and accuracy == 0.0
    np.testing.assert_allclose(d_h, [[0.5, 0], [-0.5, 0]])


def stage_types(layers):
    plan = stages.plan(layers)
    return [type(stage).__name__ for stage in plan.stages] + [type(plan.loss).__name__]


def test_stages_fuse_the_head_only_where_it_applies():
    tutorial = [Embedding(9, 2), GlobalAveragePooling1D(), Dense(3, activation="relu"), Dense(1, activation="sigmoid")]
    assert stage_types(tutorial) == ["EmbeddingMean", "DenseHead"]
    chollet = [Embedding(9, 2), Flatten(), Dense(3), Dense(1, activation="sigmoid")]
    assert stage_types(chollet) == ["Embedding", "Flatten", "DenseHead"]
    assert stage_types(chollet[:2] + chollet[3:]) == ["Embedding", "Flatten", "DenseLogits", "BinaryCrossentropy"]
    pooled = [Embedding(9, 2), GlobalAveragePooling1D()]
    for layers in (pooled + [Dense(3, activation="relu"), Dense(2, activation="sigmoid")],
                   pooled + [Dense(3, activation="sigmoid"), Dense(1, activation="sigmoid")],
                   pooled + [Dense(3, activation="relu"), Dense(1)],
                   [Embedding(9, 2), GlobalAveragePooling1D(), Dropout(0.5), Dense(1, activation="sigmoid")],
                   [Embedding(9, 2), Dense(3, activation="relu"), Dense(1, activation="sigmoid")]):
        assert "DenseHead" not in stage_types(layers), layers
    npembed.set_kernels("numpy")
    try:
        assert stage_types(tutorial) == ["Embedding", "GlobalAveragePooling1D", "Dense", "DenseLogits",
                                         "BinaryCrossentropy"]
    finally:
        npembed.set_kernels("numba")


def test_head_refuses_other_layers():
    with pytest.raises(TypeError, match="DenseHead fuses"):
        stages.DenseHead(Dense(3, activation="sigmoid"), Dense(1, activation="sigmoid"))
    with pytest.raises(TypeError, match="DenseHead fuses"):
        stages.DenseHead(Dense(3), Dense(2, activation="sigmoid"))


def test_a_model_trains_the_same_with_and_without_the_head_kernel(rng):
    """Three epochs of the tutorial's shape in float64: the same history and weights on both paths."""
    x, y = rng.integers(0, 30, (90, 12)), rng.integers(0, 2, 90)
    results = {}
    for name in ("numba", "numpy"):
        npembed.set_kernels(name)
        try:
            model = Sequential([Embedding(30, 4), GlobalAveragePooling1D(), Dense(5, activation="relu"),
                                Dense(1, activation="sigmoid")], seed=7, dtype="float64")
            model.compile("adam", "binary_crossentropy", ["accuracy"])
            history = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.2, verbose=0)
            results[name] = (history.history, model.get_weights())
        finally:
            npembed.set_kernels("numba")
    (history, weights), (ref_history, ref_weights) = results["numba"], results["numpy"]
    for key in ref_history:
        np.testing.assert_allclose(history[key], ref_history[key], rtol=1e-10)
    for got, expected in zip(weights, ref_weights):
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)

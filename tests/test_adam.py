"""Adam in the Keras form: the golden single step and a few lines of reference NumPy."""
import numpy as np
import pytest

from npembed.optimizers import Adam


def test_keras_golden_step(kernels):
    """keras/src/optimizers/adam_test.py: lr=0.5, vars [1,2,3,4], grads [1,6,7,2] -> [0.5,1.5,2.5,3.5]."""
    w = {"w": np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32)}
    Adam(learning_rate=0.5).step(w, {"w": np.array([1.0, 6.0, 7.0, 2.0], dtype=np.float32)})
    np.testing.assert_allclose(w["w"], [0.5, 1.5, 2.5, 3.5], rtol=1e-5, atol=1e-5)   # Keras: 1e-4
    # exactly: w - 0.5 * g / (|g| + 1e-7 / sqrt(0.001)), epsilon being outside the sqrt
    g = np.array([1.0, 6.0, 7.0, 2.0])
    np.testing.assert_allclose(w["w"], [1, 2, 3, 4] - 0.5 * g / (g + 1e-7 / np.sqrt(1e-3)), rtol=1e-6)


def keras_adam_reference(w, grads, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        alpha = lr * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
        m = m + (g - m) * (1 - beta_1)
        v = v + (g * g - v) * (1 - beta_2)
        w = w - alpha * m / (np.sqrt(v) + epsilon)
    return w


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_many_steps_match_reference_with_untouched_rows(kernels, rng, dtype, rtol):
    w0 = rng.normal(size=(20, 3))
    grads = [rng.normal(size=(20, 3)) * (rng.random((20, 1)) < 0.5) for _ in range(60)]
    grads[5][:] = 0                                       # a step where nothing is touched
    params = {"embeddings": w0.astype(dtype)}
    optimizer = Adam(learning_rate=0.01)
    for g in grads:
        optimizer.step(params, {"embeddings": g.astype(dtype)})
    expected = keras_adam_reference(w0, grads, lr=0.01)
    np.testing.assert_allclose(params["embeddings"], expected, rtol=rtol, atol=rtol * 1e-2)
    assert optimizer.iterations == 60


def test_rows_without_gradient_still_move_because_the_update_is_dense(kernels):
    params = {"w": np.zeros((2, 2))}
    optimizer = Adam(learning_rate=0.1)
    optimizer.step(params, {"w": np.array([[1.0, 1.0], [0.0, 0.0]])})
    moved_after_first = params["w"][1].copy()
    optimizer.step(params, {"w": np.zeros((2, 2))})
    np.testing.assert_array_equal(moved_after_first, 0)
    assert np.all(params["w"][0] < -0.1)                 # momentum keeps moving row 0


def test_epsilon_sits_outside_sqrt_of_uncorrected_v():
    """One step with a tiny gradient tells the Keras form from PyTorch's."""
    g, eps, lr = 1e-6, 1e-7, 1.0
    params = {"w": np.array([0.0])}
    Adam(learning_rate=lr, epsilon=eps).step(params, {"w": np.array([g])})
    m, v = 0.1 * g, 0.001 * g * g
    keras = -lr * np.sqrt(1 - 0.999) / (1 - 0.9) * m / (np.sqrt(v) + eps)
    torch = -lr * (m / 0.1) / (np.sqrt(v / 0.001) + eps)
    assert params["w"][0] == pytest.approx(keras, rel=1e-12)
    assert abs(keras - torch) > 1e-3


@pytest.mark.parametrize("kwargs", [dict(learning_rate=0), dict(learning_rate=-1), dict(beta_1=1.0),
                                    dict(beta_2=-0.1), dict(epsilon=float("nan")), dict(learning_rate="x")])
def test_bad_hyperparameters(kwargs):
    with pytest.raises((ValueError, TypeError), match=list(kwargs)[0]):
        Adam(**kwargs)

"""Finite-difference gradient checks for any layer, loss or whole model.

The recipe of torch.autograd.gradcheck: float64, central differences
(f(x + eps) - f(x - eps)) / (2 eps), and an entry passes when |analytic - numeric| <= atol + rtol |numeric|.
A layer is reduced to a scalar with a random upstream gradient, f = sum(layer(x) * dy), so that a
backward which mixes up entries cannot pass by symmetry (an all-ones dy hides dropped repeated ids).
Tables too big to difference entry by entry get the cheap directional check: for random unit
directions d, (f(w + eps d) - f(w - eps d)) / (2 eps) must equal <grad, d>.

>>> layer = Dense(3, activation="relu"); layer.build((None, 4), np.random.default_rng(0), "float64")
>>> print(check_layer(layer, np.random.default_rng(1).normal(size=(5, 4))))
"""
from dataclasses import dataclass, field

import numpy as np

from .stages import EmbeddingMean
from .layers import GlobalAveragePooling1D


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with finite differences."""


@dataclass
class Comparison:
    """How one gradient (a parameter, an input, or a directional probe) compared."""
    name: str
    size: int
    method: str                 # "full" or "directional"
    max_abs_error: float
    max_rel_error: float        # max |a - n| / max(|a|, |n|, atol)
    passed: bool


@dataclass
class GradcheckResult:
    """Every Comparison of one check; str() prints them as a table."""
    comparisons: list = field(default_factory=list)

    @property
    def passed(self):
        """True when every comparison passed."""
        return all(c.passed for c in self.comparisons)

    @property
    def worst(self):
        """The comparison with the largest relative error."""
        return max(self.comparisons, key=lambda c: c.max_rel_error)

    def __str__(self):
        lines = [f"{'gradient':<28}{'entries':>9}  {'method':<12}{'max abs err':>12}{'max rel err':>12}  ok"]
        for c in self.comparisons:
            lines.append(f"{c.name:<28}{c.size:>9}  {c.method:<12}{c.max_abs_error:>12.2e}"
                         f"{c.max_rel_error:>12.2e}  {'yes' if c.passed else 'NO'}")
        return "\n".join(lines)


def numerical_gradient(f, x, eps=1e-6):
    """Central-difference gradient of the scalar f() with respect to the float64 array x.

    x is perturbed in place, one entry at a time, and restored.
    """
    _require_float64("x", x)
    grad = np.zeros_like(x)
    flat, out = x.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat, x):
        raise ValueError("x must be contiguous so that it can be perturbed in place")
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + eps
        f_plus = f()
        flat[i] = original - eps
        f_minus = f()
        flat[i] = original
        out[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def directional_derivatives(f, x, analytic, rng, n_directions=3, eps=1e-6):
    """(numeric, analytic) derivatives of f along random unit directions of x (restored after)."""
    _require_float64("x", x)
    numeric, predicted = [], []
    original = x.copy()
    for _ in range(n_directions):
        direction = rng.standard_normal(x.shape)
        direction /= np.linalg.norm(direction)
        x[...] = original + eps * direction
        f_plus = f()
        x[...] = original - eps * direction
        f_minus = f()
        x[...] = original
        numeric.append((f_plus - f_minus) / (2 * eps))
        predicted.append(float(np.sum(analytic * direction)))
    return np.array(numeric), np.array(predicted)


def compare(name, analytic, numeric, method="full", atol=1e-5, rtol=1e-3):
    """Compare two gradients entry by entry with torch's criterion."""
    analytic, numeric = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    if analytic.shape != numeric.shape:
        raise GradcheckError(f"{name}: analytic gradient has shape {analytic.shape}, "
                             f"expected {numeric.shape}")
    error = np.abs(analytic - numeric)
    scale = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), atol)
    passed = bool(np.all(error <= atol + rtol * np.abs(numeric))) and bool(np.all(np.isfinite(analytic)))
    return Comparison(name, int(numeric.size), method, float(error.max(initial=0.0)),
                      float((error / scale).max(initial=0.0)), passed)


def check_gradients(f, analytic, wrt, rng=None, eps=1e-6, atol=1e-5, rtol=1e-3, max_entries=2048,
                    n_directions=4, raise_exception=True):
    """Core check. f() -> scalar; analytic: {name: gradient}; wrt: {name: float64 array f reads}.

    Arrays of at most max_entries entries are differenced entry by entry; larger ones get
    n_directions directional probes. Returns a GradcheckResult; raises GradcheckError on failure
    unless raise_exception is False.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    result = GradcheckResult()
    for name, x in wrt.items():
        if x.size <= max_entries:
            result.comparisons.append(compare(name, analytic[name], numerical_gradient(f, x, eps),
                                              "full", atol, rtol))
        else:
            numeric, predicted = directional_derivatives(f, x, analytic[name], rng, n_directions, eps)
            result.comparisons.append(compare(name, predicted, numeric, "directional", atol, rtol))
    if raise_exception and not result.passed:
        raise GradcheckError(f"gradient check failed\n{result}")
    return result


def check_layer(layer, x, mask=None, rng=None, pooled=False, **options):
    """Check a built float64 layer's backward against finite differences.

    Every parameter, and the input when it is a float array. pooled=True checks an Embedding's
    fast path instead: Embedding + GlobalAveragePooling1D fused (npembed.stages.EmbeddingMean).
    """
    rng = np.random.default_rng(0) if rng is None else rng
    if pooled:
        layer = EmbeddingMean(layer, GlobalAveragePooling1D())
        x = layer.pack(x)
    for key, value in layer.params.items():
        _require_float64(f"{type(layer).__name__}.{key}", value)
    upstream = rng.standard_normal(layer.forward(x, mask).shape)

    def f():
        return float(np.sum(layer.forward(x, mask) * upstream))

    layer.zero_grads()
    layer.forward(x, mask)
    d_input = layer.backward(upstream)
    wrt = dict(layer.params)
    analytic = {key: grad.copy() for key, grad in layer.grads.items()}
    if d_input is not None:
        _require_float64("x", x)
        wrt["input"], analytic["input"] = x, d_input
    return check_gradients(f, analytic, wrt, rng=rng, **options)


def check_loss(loss, y, inputs, **options):
    """Check a loss(y, inputs) -> (value, d value / d inputs), e.g. losses.binary_crossentropy."""
    inputs = np.array(inputs, dtype=np.float64)
    return check_gradients(lambda: loss(y, inputs)[0], {"input": loss(y, inputs)[1]},
                           {"input": inputs}, **options)


def check_model(model, x, y, **options):
    """Check the gradient of a float64 model's training loss on (x, y) for every weight.

    Uses only ``model.loss_and_gradients``, so it checks whatever path the model runs (the fused
    Numba step, or with set_kernels("numpy") the layers one by one).
    """
    if model.dtype != np.float64:
        raise ValueError("gradient checks need a float64 model: Sequential(..., dtype='float64')")
    _, analytic = model.loss_and_gradients(x, y)
    return check_gradients(lambda: model.loss_and_gradients(x, y)[0], analytic, model.params, **options)


def _require_float64(name, array):
    if not isinstance(array, np.ndarray) or array.dtype != np.float64:
        raise ValueError(f"gradient checks need float64 arrays; {name} is "
                         f"{getattr(array, 'dtype', type(array).__name__)} "
                         "(build layers or models with dtype='float64')")

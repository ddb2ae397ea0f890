"""Activations: each function a = f(z) beside its local derivative da/dz, the library's one sigmoid."""
import numpy as np


def sigmoid(z):
    """1 / (1 + exp(-z)) elementwise, without overflow for any z; same shape and dtype as z."""
    e = np.exp(-np.abs(z))                     # in (0, 1]: never overflows
    return (np.where(z >= 0, 1, e) / (1 + e)).astype(z.dtype, copy=False)


def relu(z):
    """max(z, 0) elementwise."""
    return np.maximum(z, 0)


def linear(z):
    """z itself."""
    return z


ACTIVATIONS = {
    # name: (f(z), da/dz written with both z and a = f(z) at hand)
    "linear": (linear, lambda z, a: np.ones_like(z)),
    "relu": (relu, lambda z, a: z > 0),                  # a bool mask multiplies as 0 / 1
    "sigmoid": (sigmoid, lambda z, a: a * (1 - a)),
}


def get(name):
    """(f, df) for an activation name: None or "linear", "relu", "sigmoid"; df(z, a) = da/dz."""
    key = "linear" if name is None else name
    if not isinstance(key, str) or key not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {[None] + sorted(ACTIVATIONS)}")
    return ACTIVATIONS[key]

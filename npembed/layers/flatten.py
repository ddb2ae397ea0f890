"""Flatten: every axis after the batch axis into one (a reshape, no arithmetic)."""
import numpy as np

from .base import Layer


class Flatten(Layer):
    """Every axis after the batch axis into one: (batch, d1, d2, ...) -> (batch, d1 * d2 * ...).

    After Embedding(..., input_length=n): (batch, n, dim) -> (batch, n * dim), as in Chollet's
    "Using word embeddings". The mask stops here (Keras's Flatten does not pass it on).
    """

    def output_shape(self, input_shape):
        """(batch, d1, d2, ...) -> (batch, d1 * d2 * ...); None when a size is unknown."""
        rest = input_shape[1:]
        return (input_shape[0], None if any(n is None for n in rest) else int(np.prod(rest, dtype=np.int64)))

    def compute_mask(self, inputs, mask):
        """None: Flatten drops the mask."""
        return None

    def forward(self, x, mask=None, training=False):
        """x (batch, ...) -> (batch, features): a reshape, no arithmetic."""
        self._shape = x.shape
        return x.reshape(len(x), -1)

    def backward(self, dy):
        """dy (batch, features) -> dx (batch, ...): each entry goes back where it came from."""
        return dy.reshape(self._shape)

"""Embedding: integer ids -> vectors, a lookup table; its backward is a scatter-add."""
import numpy as np

from .. import _checks, kernels
from .base import Layer


class Embedding(Layer):
    """Turns integer ids into dense vectors: a lookup table of shape (input_dim, output_dim).

    Input (batch, steps) integer ids in [0, input_dim); output (batch, steps, output_dim).
    With ``mask_zero=True`` id 0 is padding: the mask ``ids != 0`` is passed to the next layer
    (GlobalAveragePooling1D then averages only real steps). Keras initializer: uniform(-0.05, 0.05).
    input_length (Keras 2): the fixed number of steps; the model is then built for it, and Flatten
    can follow. weights=[matrix] (Keras 2) or embeddings_initializer=matrix: start from a
    (input_dim, output_dim) matrix instead of random values, e.g. pre-trained vectors.

    >>> layer = Embedding(1000, 16, mask_zero=True)
    >>> frozen = Embedding(10000, 100, input_length=100, weights=[matrix], trainable=False)
    """

    def __init__(self, input_dim, output_dim, mask_zero=False, input_length=None, weights=None,
                 embeddings_initializer="uniform", trainable=True, name=None):
        super().__init__(name, trainable)
        self.input_dim = _checks.positive_int("input_dim", input_dim, maximum=_checks.MAX_ID)
        self.output_dim = _checks.positive_int("output_dim", output_dim)
        if not isinstance(mask_zero, (bool, np.bool_)):
            raise TypeError(f"mask_zero must be True or False, got {mask_zero!r}")
        self.mask_zero = bool(mask_zero)
        if self.mask_zero and self.input_dim < 2:
            raise ValueError("mask_zero=True reserves id 0 for padding, so input_dim must be >= 2, "
                             f"got {input_dim}")
        self.input_length = None if input_length is None else _checks.positive_int("input_length", input_length)
        self.initial_matrix = self._initial_matrix(weights, embeddings_initializer)

    def _initial_matrix(self, weights, initializer):
        if weights is not None and not isinstance(initializer, str):
            raise ValueError("give the starting matrix once: weights=[matrix] or embeddings_initializer=matrix")
        if weights is not None:
            if not isinstance(weights, (list, tuple)) or len(weights) != 1:
                raise ValueError(f"weights must be a list of one (input_dim, output_dim) matrix, got "
                                 f"{type(weights).__name__} of {len(weights) if hasattr(weights, '__len__') else '?'}")
            initializer = weights[0]
        if isinstance(initializer, str):
            if initializer not in ("uniform", "random_uniform"):
                raise ValueError(f"embeddings_initializer must be 'uniform' or a matrix, got {initializer!r}")
            return None
        matrix = _checks.float_array("the starting embedding matrix", initializer, np.float64, ndim=2)
        if matrix.shape != (self.input_dim, self.output_dim):
            raise ValueError(f"the starting embedding matrix must have shape ({self.input_dim}, "
                             f"{self.output_dim}) (input_dim, output_dim), got {matrix.shape}")
        return matrix

    def weight_shapes(self, input_shape):
        """{"embeddings": (input_dim, output_dim)}."""
        return {"embeddings": (self.input_dim, self.output_dim)}

    def initial_value(self, key, shape, rng):
        """The given starting matrix, else uniform(-0.05, 0.05), Keras's default for embeddings."""
        if self.initial_matrix is not None:
            return self.initial_matrix.copy()
        return rng.uniform(-0.05, 0.05, size=shape)

    def output_shape(self, input_shape):
        """(batch, steps) -> (batch, steps, output_dim); steps = input_length when given."""
        input_shape = tuple(input_shape)
        if self.input_length is not None and len(input_shape) == 2:
            if input_shape[1] not in (None, self.input_length):
                raise ValueError(f"Embedding has input_length={self.input_length}, but the model is "
                                 f"built for inputs of shape {input_shape}")
            input_shape = (input_shape[0], self.input_length)
        return input_shape + (self.output_dim,)

    def compute_mask(self, ids, mask):
        """ids != 0 when mask_zero, else None."""
        return (ids != 0) if self.mask_zero else None

    def check_input(self, x):
        """ids (batch, steps), integers in [0, input_dim) -> C-contiguous int32."""
        ids = _checks.ids_array("ids", x, self.input_dim)
        if self.input_length is not None and ids.shape[1] != self.input_length:
            raise ValueError(f"ids must have input_length={self.input_length} steps, got shape {ids.shape}")
        return ids

    def forward(self, ids, mask=None, training=False):
        """ids (batch, steps) -> vectors (batch, steps, output_dim): vectors[b, t] = E[ids[b, t]]."""
        self._ids = ids
        return self.params["embeddings"][ids]

    def backward(self, d_vectors):
        """d_vectors (batch, steps, output_dim) -> None (ids get no gradient).

        dE[k] += sum of d_vectors[b, t] over every (b, t) with ids[b, t] == k: a scatter-add in
        which repeated ids accumulate (np.add.at in the reference, a loop in the Numba kernel).
        """
        if self.trainable:                     # a frozen table needs no gradient
            d_vectors = np.ascontiguousarray(d_vectors, dtype=self.dtype)
            kernels.scatter_add(self._ids, d_vectors, self.grads["embeddings"])
        return None

    def get_config(self):
        """{"name", "input_dim", "output_dim", "mask_zero"}: the constructor's arguments."""
        return {"name": self.name, "input_dim": self.input_dim, "output_dim": self.output_dim,
                "mask_zero": self.mask_zero, "input_length": self.input_length, "trainable": self.trainable}

"""GlobalAveragePooling1D: the (masked) mean over the steps axis."""
import numpy as np

from .. import _checks
from .base import Layer


class GlobalAveragePooling1D(Layer):
    """Mean over the steps axis: (batch, steps, features) -> (batch, features).

    With a mask (batch, steps) from the previous layer, averages only the unmasked steps:
    sum(x where mask) / sum(mask); a row that is all padding pools to zeros.
    """

    def output_shape(self, input_shape):
        """(batch, steps, features) -> (batch, features)."""
        if len(input_shape) != 3:
            raise ValueError(f"GlobalAveragePooling1D needs inputs (batch, steps, features), "
                             f"got shape {tuple(input_shape)}")
        return (input_shape[0], input_shape[2])

    def compute_mask(self, inputs, mask):
        """None: the steps axis is gone."""
        return None

    def check_input(self, x):
        """x (batch, steps, features), finite floats."""
        return _checks.float_array("x", x, self.dtype, ndim=3)

    def forward(self, x, mask=None, training=False):
        """x (batch, steps, features), mask (batch, steps) or None -> mean (batch, features).

        mean[b] = sum_t scale[b, t] x[b, t], scale[b, t] = mask[b, t] / max(sum_t mask[b, t], 1).
        """
        weights = np.ones(x.shape[:2], dtype=x.dtype) if mask is None else mask.astype(x.dtype)
        divisor = np.maximum(weights.sum(axis=1, keepdims=True), 1)   # all-padding rows: 0 / 1
        self._scale = weights / divisor                                # (batch, steps)
        return np.einsum("btd,bt->bd", x, self._scale)

    def backward(self, dy):
        """dy (batch, features) -> dx (batch, steps, features).

        d(mean[b])/dx[b, t] = scale[b, t]: each unmasked step gets dy / divisor, masked steps 0.
        """
        return self._scale[:, :, None] * dy[:, None, :]

"""The classifier head as one Numba kernel: Dense(relu or linear) -> Dense(1, sigmoid) -> cross-entropy.

The textbook path runs the two Dense layers (npembed.layers.dense) and the loss (npembed.losses)
one NumPy call at a time, about fifty small calls per batch; on the tutorial's 512 x 16 batches
those calls, not the arithmetic, are most of the head's time. ``DenseHead`` computes the same
numbers in one call of ``_head_numba`` (50-57 us for 512 rows, against 75-150 us): the layers
themselves are its NumPy reference, and the tests hold the two equal (loss, accuracy, every gradient).

What it computes for one row b, with x = h[b] (features,), y = y[b]::

    z1 = x @ K1 + b1            a1 = relu(z1) (or z1)          z = a1 @ K2[:, 0] + b2[0]
    loss_b = max(z, 0) - z y + log(1 + exp(-|z|))               (sigmoid + BCE on the logit)
    dz = (sigmoid(z) - y) / batch
    dK2[:, 0] += a1 dz;   db2 += dz;   da1 = K2[:, 0] dz;   dz1 = da1 * (z1 > 0) (relu) or da1
    dK1 += outer(x, dz1); db1 += dz1;  dx = K1 @ dz1
"""
import math

import numba
import numpy as np

from . import kernels, losses
from .layers import Dense


class DenseHead:
    """Dense(units, relu or linear) followed by Dense(1, sigmoid) and binary cross-entropy, as one step.

    Reads the two layers' own ``params`` and adds into their ``grads``.

    >>> head = DenseHead(hidden, output)          # both built; inputs (batch, features)
    >>> loss, accuracy, d_h = head.loss_step(h, y, backward=True)
    """

    def __init__(self, hidden, output):
        if not can_fuse_head([hidden, output]):
            raise TypeError("DenseHead fuses Dense(relu or linear) and Dense(1, sigmoid), got "
                            f"{hidden!r} and {output!r}")
        self.hidden, self.output = hidden, output
        self.layers = (hidden, output)
        self.name = f"{hidden.name} + {output.name}"
        self._d_h = np.empty((0, 0))

    def forward(self, h, mask=None, training=False):
        """h (batch, features) -> probabilities (batch, 1): the layers' own forward (not a hot path)."""
        return self.output.forward(self.hidden.forward(h, mask, training), mask, training)

    def forward_logits(self, h):
        """h (batch, features) -> logits z (batch, 1), before the sigmoid."""
        return self.output.forward_logits(self.hidden.forward(h))

    def compute_mask(self, inputs, mask):
        """The mask is passed on unchanged (Dense keeps the steps axis, if any)."""
        return mask

    def zero_grads(self, in_backward=False):
        """Set both layers' gradients to 0 (loss_step adds into them); at once, whatever in_backward."""
        self.hidden.zero_grads()
        self.output.zero_grads()

    def loss_step(self, h, y, backward):
        """h (batch, features), y (batch, 1) -> (mean loss, accuracy, d_h (batch, features) or None).

        With backward, every gradient of the two layers is added into their grads, and d_h is
        d loss / d h (a buffer reused by the next call). The numbers are those of the textbook path
        (Sequential._batch with the layers one by one; see the module docstring).
        """
        if kernels.get_kernels() == "numpy":
            return self.loss_step_reference(h, y, backward)
        hidden, output = self.hidden.params, self.output.params
        if backward:
            if len(self._d_h) < len(h) or self._d_h.shape[1:] != h.shape[1:] or self._d_h.dtype != h.dtype:
                self._d_h = np.empty_like(h)
            d_h = self._d_h[:len(h)]
            grads = (self.hidden.grads["kernel"], self.hidden.grads["bias"],
                     self.output.grads["kernel"], self.output.grads["bias"])
        else:                                    # nothing is written: empty stand-ins of the right types
            d_h, no_bias = np.empty((0, h.shape[1]), dtype=h.dtype), np.empty(0, dtype=h.dtype)
            grads = (d_h, no_bias, d_h, no_bias)
        loss_sum, correct = _head_numba(h, hidden["kernel"], hidden["bias"], self.hidden.activation == "relu",
                                        output["kernel"], output["bias"], y, backward, *grads, d_h)
        return loss_sum / len(y), correct / len(y), (d_h if backward else None)

    def loss_step_reference(self, h, y, backward):
        """NumPy reference of loss_step: the layers and the loss, one NumPy call at a time."""
        z = self.forward_logits(h)
        loss, dz = losses.binary_crossentropy_from_logits(y, z)
        accuracy = losses.binary_accuracy(y, z, threshold=0.0)
        if not backward:
            return loss, accuracy, None
        return loss, accuracy, self.hidden.backward(self.output.backward_logits(dz))


def can_fuse_head(layers):
    """True when layers are exactly Dense(relu or linear) then Dense(1, sigmoid)."""
    return (len(layers) == 2 and all(isinstance(layer, Dense) for layer in layers)
            and layers[0].activation in (None, "relu")
            and layers[1].activation == "sigmoid" and layers[1].units == 1)


# --------------------------------------------------------------------------------------------
# The head's kernel: forward, loss, accuracy and (with backward) every gradient of a batch.
# Returns (sum of the rows' losses, number of rows with (z > 0) == (y > 0.5)).
# It works on the batch transposed, one (batch,) row per feature or unit, so that every inner
# loop runs over the whole batch: long, contiguous loops that LLVM turns into SIMD code, where
# loops over 16 units would stay scalar. The sums over the batch (d_kernel1, d_kernel2, the
# biases) may be reordered ("reassoc") to be vectorized too: the same sums up to rounding.
# --------------------------------------------------------------------------------------------

@numba.njit(cache=True, nogil=True, error_model=kernels.SERIAL_ERRORS, fastmath={"reassoc"})
def _head_numba(h, kernel1, bias1, relu, kernel2, bias2, y, backward,
                d_kernel1, d_bias1, d_kernel2, d_bias2, d_h):
    # plain loops only (no array expressions): each NumPy function used here would be compiled too
    batch, features = h.shape
    units = kernel1.shape[1]
    h_t = np.empty((features, batch), dtype=h.dtype)             # x, transposed: (features, batch)
    for b in range(batch):
        for i in range(features):
            h_t[i, b] = h[b, i]
    z1 = np.empty((units, batch), dtype=h.dtype)                 # z1 = x @ K1 + b1, transposed
    for u in range(units):
        for b in range(batch):
            z1[u, b] = bias1[u]
    for i in range(features):
        for u in range(units):
            w = kernel1[i, u]
            for b in range(batch):
                z1[u, b] += h_t[i, b] * w
    a1 = np.empty((units, batch), dtype=h.dtype)                 # a1 = f(z1)
    z = np.empty(batch, dtype=h.dtype)                           # z = a1 @ K2 + b2
    for b in range(batch):
        z[b] = bias2[0]
    for u in range(units):
        w = kernel2[u, 0]
        for b in range(batch):
            a1[u, b] = max(z1[u, b], 0) if relu else z1[u, b]
            z[b] += a1[u, b] * w
    loss_sum = 0.0
    correct = 0
    dz = np.empty(batch, dtype=h.dtype)
    for b in range(batch):                                       # sigmoid + BCE on the logit
        target = y[b, 0]
        e = math.exp(-abs(z[b]))                                 # in (0, 1]: never overflows
        loss_sum += max(z[b], 0) - z[b] * target + math.log1p(e)
        correct += (z[b] > 0) == (target > 0.5)
        dz[b] = ((1 if z[b] >= 0 else e) / (1 + e) - target) / batch
    if not backward:
        return loss_sum, correct
    dz1 = np.empty((units, batch), dtype=h.dtype)
    total_dz = 0.0
    for b in range(batch):
        total_dz += dz[b]
    d_bias2[0] += total_dz
    for u in range(units):                                       # dK2 = a1^T dz; dz1 = (K2 dz) f'(z1)
        w = kernel2[u, 0]
        total = total_dz1 = 0.0
        for b in range(batch):
            total += a1[u, b] * dz[b]
            dz1[u, b] = w * dz[b] if (not relu or z1[u, b] > 0) else 0
            total_dz1 += dz1[u, b]
        d_kernel2[u, 0] += total
        d_bias1[u] += total_dz1
    d_h_t = np.zeros((features, batch), dtype=h.dtype)
    for i in range(features):                                    # dK1 = x^T dz1; dx = dz1 K1^T
        for u in range(units):
            w = kernel1[i, u]
            total = 0.0
            for b in range(batch):
                total += h_t[i, b] * dz1[u, b]
                d_h_t[i, b] += dz1[u, b] * w
            d_kernel1[i, u] += total
    for b in range(batch):
        for i in range(features):
            d_h[b, i] = d_h_t[i, b]
    return loss_sum, correct

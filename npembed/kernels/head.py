"""The classifier head's kernel: Dense(relu or linear) -> Dense(1, sigmoid) -> cross-entropy, forward,
loss, accuracy and backward of a whole batch in one call, beside its NumPy reference.

What both compute for one row b, with x = h[b] (features,), y = y[b]::

    z1 = x @ K1 + b1            a1 = relu(z1) (or z1)          z = a1 @ K2[:, 0] + b2[0]
    loss_b = max(z, 0) - z y + log(1 + exp(-|z|))               (sigmoid + BCE on the logit)
    dz = (sigmoid(z) - y) / batch
    dK2[:, 0] += a1 dz;   db2 += dz;   da1 = K2[:, 0] dz;   dz1 = da1 * (z1 > 0) (relu) or da1
    dK1 += outer(x, dz1); db1 += dz1;  dx = K1 @ dz1

Both return (sum of the rows' losses, number of rows with (z > 0) == (y > 0.5)); with backward they
add every weight's gradient into d_kernel1, d_bias1, d_kernel2, d_bias2 and write d loss/dh into d_h.
The stage that uses them is npembed.stages.DenseHead; the layers themselves are a third statement
of the same numbers, and the tests hold all three equal.
"""
import math

import numba
import numpy as np

from .switch import get_kernels
from .updates import SERIAL_ERRORS


def dense_head_reference(h, kernel1, bias1, relu, kernel2, bias2, y, backward,
                         d_kernel1, d_bias1, d_kernel2, d_bias2, d_h):
    """NumPy reference: the module docstring's equations, a whole batch per line."""
    z1 = h @ kernel1 + bias1
    a1 = np.maximum(z1, 0) if relu else z1
    z = a1 @ kernel2[:, 0] + bias2[0]
    target = y[:, 0]
    loss_sum = float((np.maximum(z, 0) - z * target + np.log1p(np.exp(-np.abs(z)))).sum())
    correct = int(np.count_nonzero((z > 0) == (target > 0.5)))
    if not backward:
        return loss_sum, correct
    e = np.exp(-np.abs(z))
    dz = (np.where(z >= 0, 1, e) / (1 + e) - target) / len(y)          # sigmoid(z) - y, stably
    d_kernel2[:, 0] += a1.T @ dz
    d_bias2[0] += dz.sum()
    dz1 = np.outer(dz, kernel2[:, 0]) * ((z1 > 0) if relu else 1)
    d_kernel1 += h.T @ dz1
    d_bias1 += dz1.sum(axis=0)
    d_h[...] = dz1 @ kernel1.T
    return loss_sum, correct


# --------------------------------------------------------------------------------------------
# The head's kernel: forward, loss, accuracy and (with backward) every gradient of a batch.
# Returns (sum of the rows' losses, number of rows with (z > 0) == (y > 0.5)).
# It works on the batch transposed, one (batch,) row per feature or unit, so that every inner
# loop runs over the whole batch: long, contiguous loops that LLVM turns into SIMD code, where
# loops over 16 units would stay scalar. The sums over the batch (d_kernel1, d_kernel2, the
# biases) may be reordered ("reassoc") to be vectorized too: the same sums up to rounding.
# --------------------------------------------------------------------------------------------

@numba.njit(cache=True, nogil=True, error_model=SERIAL_ERRORS, fastmath={"reassoc"})
def _dense_head_numba(h, kernel1, bias1, relu, kernel2, bias2, y, backward,
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


def dense_head(h, kernel1, bias1, relu, kernel2, bias2, y, backward, d_kernel1, d_bias1, d_kernel2, d_bias2, d_h):
    """The head's forward, loss and (with backward) gradients of one batch; see the module docstring.
    h (batch, features), kernel1 (features, units), bias1 (units,), kernel2 (units, 1), bias2 (1,),
    y (batch, 1); the gradients have their weights' shapes and d_h h's (all ignored without backward)."""
    run = dense_head_reference if get_kernels() == "numpy" else _dense_head_numba
    return run(h, kernel1, bias1, bool(relu), kernel2, bias2, y, bool(backward),
               d_kernel1, d_bias1, d_kernel2, d_bias2, d_h)

"""Binary cross-entropy, its gradient, and binary accuracy. Labels y and inputs have shape (batch, 1)."""
import numpy as np

EPSILON = 1e-7   # Keras's clip for probabilities


def binary_crossentropy_from_logits(y, logits):
    """Mean BCE of sigmoid(logits) against y, stable for any logit, and d(loss)/d(logits).

    loss_i = max(z, 0) - z y + log(1 + exp(-|z|));  d loss / d z_i = (sigmoid(z_i) - y_i) / batch.
    """
    z = logits
    e = np.exp(-np.abs(z))                                   # in (0, 1]: never overflows
    per_sample = np.maximum(z, 0) - z * y + np.log1p(e)
    p = np.where(z >= 0, 1, e) / (1 + e)                     # sigmoid(z), both signs stable
    return float(per_sample.sum() / len(y)), ((p - y) / len(y)).astype(logits.dtype, copy=False)


def binary_crossentropy(y, p):
    """Mean BCE of probabilities p (clipped to [1e-7, 1 - 1e-7], as Keras) and d(loss)/dp."""
    clipped = np.clip(p, EPSILON, 1 - EPSILON)
    loss = -(y * np.log(clipped) + (1 - y) * np.log(1 - clipped)).mean()
    inside = (p > EPSILON) & (p < 1 - EPSILON)       # the clip has zero gradient outside
    grad = inside * (clipped - y) / (clipped * (1 - clipped)) / len(y)
    return float(loss), grad.astype(p.dtype, copy=False)


def binary_accuracy(y, scores, threshold):
    """Fraction of rows where (score > threshold) equals the label."""
    return np.count_nonzero((scores > threshold) == (y > 0.5)) / len(y)


LOSSES = ("binary_crossentropy",)
METRICS = ("accuracy",)

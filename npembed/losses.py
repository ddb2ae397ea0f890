"""Binary cross-entropy and its gradient, binary accuracy, the loss as a model's last stage, and
which loss/metric names exist.

Labels y and the inputs have shape (batch, 1). When the model's last layer is Dense(sigmoid), its
sigmoid and the cross-entropy run as one piece on the logit z (npembed.stages decides): the loss is
then exact and finite for any z, and its gradient is simply (sigmoid(z) - y) / batch.
"""
import numpy as np

from .activations import sigmoid

EPSILON = 1e-7   # Keras's clip for probabilities
LOSSES = ("binary_crossentropy",)
METRICS = ("accuracy", "acc")              # "acc": Keras's alias; History then has acc / val_acc


def binary_crossentropy_from_logits(y, logits):
    """Mean BCE of sigmoid(logits) against y, stable for any logit, and d(loss)/d(logits).

    loss_i = max(z, 0) - z y + log(1 + exp(-|z|));  d loss / d z_i = (sigmoid(z_i) - y_i) / batch.
    """
    z = logits
    per_sample = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    return float(per_sample.sum() / len(y)), ((sigmoid(z) - y) / len(y)).astype(logits.dtype, copy=False)


def binary_crossentropy(y, p):
    """Mean BCE of probabilities p (clipped to [1e-7, 1 - 1e-7], as Keras) and d(loss)/dp.

    loss_i = -(y log p + (1 - y) log(1 - p));  d loss / d p_i = (p - y) / (p (1 - p)) / batch
    inside the clip, 0 outside it.
    """
    clipped = np.clip(p, EPSILON, 1 - EPSILON)
    loss = -(y * np.log(clipped) + (1 - y) * np.log(1 - clipped)).mean()
    inside = (p > EPSILON) & (p < 1 - EPSILON)       # the clip has zero gradient outside
    grad = inside * (clipped - y) / (clipped * (1 - clipped)) / len(y)
    return float(loss), grad.astype(p.dtype, copy=False)


def binary_accuracy(y, scores, threshold):
    """Fraction of rows where (score > threshold) equals the label."""
    return np.count_nonzero((scores > threshold) == (y > 0.5)) / len(y)


class BinaryCrossentropy:
    """The loss as a model's last stage: ``forward(outputs, y, training)`` -> (loss, accuracy) and
    ``backward()`` -> d loss / d outputs, of the last forward.

    from_logits: the outputs are logits z (batch, 1), and sigmoid + BCE run as one piece
    (``binary_crossentropy_from_logits``); else probabilities p, clipped as Keras clips them.
    """

    def __init__(self, from_logits=False):
        self.from_logits = bool(from_logits)
        self.name = "binary_crossentropy" + (" (from logits)" if from_logits else "")

    def forward(self, outputs, y, training=False):
        """outputs (batch, 1), y (batch, 1) of 0/1 -> (mean loss, accuracy); keeps d loss / d outputs."""
        if self.from_logits:
            loss, self._d = binary_crossentropy_from_logits(y, outputs)
            return loss, binary_accuracy(y, outputs, threshold=0.0)       # p > 0.5  <=>  z > 0
        loss, self._d = binary_crossentropy(y, outputs)
        return loss, binary_accuracy(y, outputs, threshold=0.5)

    def backward(self):
        """d loss / d outputs (batch, 1) of the last forward."""
        return self._d

    def predictions(self, outputs):
        """The model's outputs as probabilities (batch, 1)."""
        return sigmoid(outputs) if self.from_logits else outputs

    def logits(self, outputs):
        """The logits (batch, 1); TypeError when the outputs are probabilities already."""
        if not self.from_logits:
            raise TypeError("logits need a model whose last layer is Dense(activation='sigmoid')")
        return outputs


def accuracy_name(metrics):
    """The accuracy's name in the logs ("accuracy" or "acc"), or None when it is not asked for."""
    return next((metric for metric in metrics if metric in ("accuracy", "acc")), None)


def check_loss(loss):
    """The loss name, or ValueError naming the supported ones."""
    if not isinstance(loss, str) or loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; supported: {list(LOSSES)}")
    return loss


def check_metrics(metrics):
    """A list of metric names from None, one name, or a list of names; ValueError on unknown ones."""
    if metrics is None:
        return []
    metrics = [metrics] if isinstance(metrics, str) else metrics
    try:
        metrics = list(metrics)
    except TypeError:
        raise TypeError(f"metrics must be a list of names such as ['accuracy'], got {metrics!r}") from None
    for metric in metrics:
        if not isinstance(metric, str) or metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; supported: {list(METRICS)}")
    return metrics

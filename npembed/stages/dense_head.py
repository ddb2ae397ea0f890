"""DenseHead: the classifier head Dense(relu or linear) -> Dense(1, sigmoid) -> cross-entropy as one stage.

The textbook path runs the two Dense layers (npembed.layers.dense) and the loss (npembed.losses)
one NumPy call at a time, about fifty small calls per batch; on the tutorial's 512 x 16 batches
those calls, not the arithmetic, are most of the head's time. ``DenseHead`` computes the same
numbers in one call of ``kernels.head.dense_head`` (its equations are in that module); the tests
hold it equal to the layers (loss, accuracy, every gradient).
"""
import numpy as np

from ..kernels import head
from ..layers import Dense


class DenseHead:
    """Dense(units, relu or linear), then Dense(1, sigmoid) and binary cross-entropy, as one loss stage.

    A loss stage (see npembed.stages): ``forward(h, y, training)`` -> (loss, accuracy), ``backward()``
    -> d loss / d h, ``predictions(h)`` and ``logits(h)``. In training, the kernel computes the
    gradients in the same pass as the loss and adds them into the two layers' ``grads``; backward then
    hands on d loss / d h.

    >>> stage = DenseHead(hidden, output)          # both built; inputs (batch, features)
    >>> loss, accuracy = stage.forward(h, y, training=True)
    >>> d_h = stage.backward()
    """

    def __init__(self, hidden, output):
        if not self.fits([hidden, output]):
            raise TypeError("DenseHead fuses Dense(relu or linear) and Dense(1, sigmoid), got "
                            f"{hidden!r} and {output!r}")
        self.hidden, self.output = hidden, output
        self.layers = (hidden, output)
        self.name = f"{hidden.name} + {output.name}"
        self._d_h = np.empty((0, 0))

    @staticmethod
    def fits(layers):
        """True when layers are exactly Dense(relu or linear) then Dense(1, sigmoid)."""
        return (len(layers) == 2 and all(isinstance(layer, Dense) for layer in layers)
                and layers[0].activation in (None, "relu")
                and layers[1].activation == "sigmoid" and layers[1].units == 1)

    def forward(self, h, y, training=False):
        """h (batch, features), y (batch, 1) -> (mean loss, accuracy); in training, also every gradient
        of the two layers (added into their grads) and d loss / d h, for backward."""
        hidden, output = self.hidden.params, self.output.params
        if training:
            if len(self._d_h) < len(h) or self._d_h.shape[1:] != h.shape[1:] or self._d_h.dtype != h.dtype:
                self._d_h = np.empty_like(h)             # reused by every batch of the same width
            self._d = self._d_h[:len(h)]
            grads = (self.hidden.grads["kernel"], self.hidden.grads["bias"],
                     self.output.grads["kernel"], self.output.grads["bias"])
        else:                                    # nothing is written: empty stand-ins of the right types
            self._d, no_bias = np.empty((0, h.shape[1]), dtype=h.dtype), np.empty(0, dtype=h.dtype)
            grads = (self._d, no_bias, self._d, no_bias)
        loss_sum, correct = head.dense_head(h, hidden["kernel"], hidden["bias"], self.hidden.activation == "relu",
                                            output["kernel"], output["bias"], y, training, *grads, self._d)
        return loss_sum / len(y), correct / len(y)

    def backward(self):
        """d loss / d h (batch, features) of the last training forward (a buffer reused by the next)."""
        return self._d

    def logits(self, h):
        """h (batch, features) -> logits z (batch, 1), before the sigmoid: the layers' own forward."""
        return self.output.forward_logits(self.hidden.forward(h))

    def predictions(self, h):
        """h (batch, features) -> probabilities (batch, 1): the layers' own forward (not a hot path)."""
        return self.output.forward(self.hidden.forward(h))

"""What runs when a model trains: its stages and its loss stage, chosen in one place (``plan``).

A stage is a layer, or a layer-like object standing for several layers, with a layer's contract:
``forward(x, mask, training)``, ``compute_mask(x, mask)``, ``backward(dy) -> dx`` adding into its
``grads``, ``zero_grads()``, ``params``, ``name``. A loss stage ends the model: ``forward(outputs, y, training) ->
(loss, accuracy)``, ``backward() -> d loss / d outputs``, ``predictions(outputs)``, ``logits(outputs)``.
A model's steps run the stages in order and back, and never ask which they are.

With ``set_kernels("numpy")`` the stages are the layers exactly as declared, and the loss is
npembed.losses.BinaryCrossentropy (on the last Dense's logit when it ends in a sigmoid). With the
Numba kernels (the default), two groups of layers run as one stage each, with the same numbers:

- a leading Embedding + GlobalAveragePooling1D as ``EmbeddingMean`` (over packed ids);
- a closing Dense(relu or linear) -> Dense(1, sigmoid) after a pooling or Flatten, with the loss,
  as ``DenseHead`` (one kernel call a batch).
"""
from ..kernels import get_kernels
from ..layers import Dense, Flatten, GlobalAveragePooling1D
from ..losses import BinaryCrossentropy
from .base import LayerWeights
from .dense_head import DenseHead
from .embedding_mean import EmbeddingMean


class DenseLogits(LayerWeights):
    """A Dense layer run up to its logit, z = x @ kernel + bias: the loss then applies the sigmoid
    (sigmoid and cross-entropy as one piece, exact for any z). Its params and grads are the layer's."""

    def __init__(self, dense):
        self.layer, self.name = dense, dense.name

    def compute_mask(self, inputs, mask):
        """The Dense layer's mask: passed on."""
        return self.layer.compute_mask(inputs, mask)

    def forward(self, x, mask=None, training=False):
        """x (..., in) -> z (..., units), the layer before its activation."""
        return self.layer.forward_logits(x)

    def backward(self, dz):
        """dz (..., units) -> dx (..., in), adding into the layer's grads."""
        return self.layer.backward_logits(dz)


class Rows:
    """A plain array as a source of batches: ``take(rows)`` is ``x[rows]``."""

    def __init__(self, x):
        self.x = x

    def take(self, rows):
        """x[rows]: the batch of the given row indices."""
        return self.x[rows]

    def __len__(self):
        return len(self.x)


class Plan:
    """What runs for a model: ``stages`` (a list), ``loss`` (the loss stage), and ``notes``: one line
    for each stage that stands for several layers (what summary() prints)."""

    def __init__(self, stages, loss, notes=()):
        self.stages, self.loss, self.notes = list(stages), loss, list(notes)

    def source(self, x):
        """Where a dataset's batches are taken from (``len`` and ``take(rows)``): x (n, ...), checked,
        packed once when the first stage is an EmbeddingMean, else its rows as they are."""
        first = self.stages[0] if self.stages else None
        return first.pack(x) if isinstance(first, EmbeddingMean) else Rows(x)


def plan(layers):
    """The Plan of a model of these (built) layers under the current kernels; see the module docstring."""
    layers, notes = list(layers), []
    fast = get_kernels() == "numba"
    if fast and len(layers) >= 3 and isinstance(layers[-3], (GlobalAveragePooling1D, Flatten)) \
            and DenseHead.fits(layers[-2:]):
        loss = DenseHead(*layers[-2:])
        layers = layers[:-2]
        notes.append(f"{loss.name} and the loss run as one kernel (npembed.stages.DenseHead).")
    elif isinstance(layers[-1], Dense) and layers[-1].activation == "sigmoid":
        layers, loss = layers[:-1] + [DenseLogits(layers[-1])], BinaryCrossentropy(from_logits=True)
    else:
        loss = BinaryCrossentropy()
    if fast and EmbeddingMean.fits(layers):
        layers = [EmbeddingMean(layers[0], layers[1])] + layers[2:]
        notes.insert(0, f"{layers[0].name} run as one stage over packed ids (npembed.stages.EmbeddingMean).")
    return Plan(layers, loss, notes)


__all__ = ["plan", "Plan", "Rows", "EmbeddingMean", "DenseHead", "DenseLogits"]

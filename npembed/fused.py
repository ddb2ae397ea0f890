"""The fast path: Embedding followed by GlobalAveragePooling1D run as one step over packed ids.

The textbook pair gathers a (batch, steps, dim) tensor of vectors and averages it; its backward
spreads d_pooled / divisor over every step and scatter-adds it into the table. ``EmbeddingMean``
computes the same numbers from ``bags.Bags`` (each row's distinct ids and their counts, like
PyTorch's ``EmbeddingBag(mode="mean")``), so no (batch, steps, dim) tensor is made and padding
costs O(1) per row. The tests hold it equal to the pair, gradients included.

With Adam, ``EmbeddingMean.backward_and_update`` also applies the optimizer's step to the table in
the backward's kernel, each row right after its gradient (npembed.bags; ``Sequential._batch`` asks
for it, and ``Optimizer.step`` then skips the table).

``stages(layers)`` is the one place that chooses: with the Numba kernels, a leading
Embedding + GlobalAveragePooling1D runs as one EmbeddingMean and the classifier head
Dense -> Dense(1, sigmoid) as one npembed.head.DenseHead; with ``set_kernels("numpy")`` every
layer runs on its own, exactly as declared.
"""
import numpy as np

from . import _checks, bags, head, kernels
from .layers import Embedding, Flatten, GlobalAveragePooling1D


class EmbeddingMean:
    """Embedding + GlobalAveragePooling1D as one step: ids (batch, steps) -> mean vectors (batch, dim).

    Reads and updates the Embedding's own ``params`` and ``grads``; the pooling layer has no weights.

    >>> step = EmbeddingMean(embedding, pooling)     # both layers built
    >>> pooled = step(ids)                           # == pooling(embedding(ids), embedding mask)
    """

    def __init__(self, embedding, pooling):
        if not isinstance(embedding, Embedding) or not isinstance(pooling, GlobalAveragePooling1D):
            raise TypeError("EmbeddingMean fuses an Embedding and a GlobalAveragePooling1D, got "
                            f"{type(embedding).__name__} and {type(pooling).__name__}")
        self.embedding, self.pooling = embedding, pooling
        self.layers = (embedding, pooling)
        self.name = f"{embedding.name} + {pooling.name}"
        self._zero_in_backward = False

    @property
    def params(self):
        """The Embedding's weights: {"embeddings": (vocab, dim)}."""
        return self.embedding.params

    @property
    def grads(self):
        """The Embedding's gradients, same keys and shapes as params."""
        return self.embedding.grads

    def zero_grads(self, in_backward=False):
        """Set the Embedding's gradient to 0; with in_backward, leave it to the next backward.

        That backward's kernel then zeroes each row of the table in the thread that adds into it:
        one pass over the table instead of two, and each row stays in the cache of the core that
        works on it (the tutorial's epoch: 3-5 ms less, benchmarks/bench_kernels_in_context.py).
        Until then ``grads`` still holds the previous gradient, so only ``Sequential._batch`` asks for
        it, right before the backward.
        """
        self._zero_in_backward = in_backward
        if not in_backward:
            self.embedding.zero_grads()

    def pack(self, ids):
        """Check ids (n, steps) against the Embedding and pack them once: a bags.Bags of n rows."""
        if not self.embedding.built:
            raise _checks.StateError(f"the Embedding {self.embedding.name!r} is not built yet")
        return bags.Bags.from_padded(self.embedding.check_input(ids), self.embedding.dtype)

    def __call__(self, ids):
        """forward(ids) after checking them; ids (batch, steps) or a Bags made by pack."""
        return self.forward(ids if isinstance(ids, bags.Bags) else self.pack(ids))

    def compute_mask(self, inputs, mask):
        """None: the steps axis is gone."""
        return None

    def forward(self, packed, mask=None, training=False):
        """packed: Bags of a batch (checked) -> pooled (batch, dim).

        pooled[b] = (sum over the row's distinct real ids k of count_k E[k]
                     + (0 if mask_zero else n_padding E[0])) / divisor,
        divisor = n_real (mask_zero) or steps, and an all-padding masked row pools to 0.
        """
        self._packed = packed
        pooled, self._n_real = bags.pooled_lookup(packed, self.params["embeddings"],
                                                  self.embedding.mask_zero)
        return pooled

    def backward(self, d_pooled):
        """d_pooled (batch, dim) -> None; adds into the Embedding's grads (zeroed first by this same
        kernel after ``zero_grads(in_backward=True)``).

        Each averaged step of row b gets d_step[b] = d_pooled[b] / divisor (d mean / dx_t = 1/divisor),
        so dE[k] += count_k d_step[b] for every real id k of row b, and dE[0] += n_padding d_step[b]
        when padding is averaged too.
        """
        self._backward(d_pooled, None)

    def backward_and_update(self, d_pooled, update):
        """backward(d_pooled), then the optimizer's step ``update`` applied to the table by the same
        kernel, each row right after its gradient is complete, by the thread that completed it (the
        tutorial's epoch: 1-2 ms less, benchmarks/bench_kernels_in_context.py). update: what
        ``Optimizer.fused_update`` gives for the table (Adam's). Returns how many entries of the table
        the step left non-finite. The table must be trainable."""
        if not self.embedding.trainable:
            raise _checks.StateError(f"the Embedding {self.embedding.name!r} is frozen: it takes no step")
        if update is None:
            raise TypeError("backward_and_update needs the step (Optimizer.fused_update), got None; "
                            "use backward() when the optimizer has no fused form")
        return self._backward(d_pooled, update)

    def _backward(self, d_pooled, adam):
        zero_first, self._zero_in_backward = self._zero_in_backward, False
        if not self.embedding.trainable:       # a frozen table needs no gradient
            if zero_first:
                self.embedding.zero_grads()
            return 0
        d_step = bags.step_gradients(np.asarray(d_pooled, dtype=self.embedding.dtype), self._n_real,
                                     self._packed.steps, self.embedding.mask_zero)
        return bags.pooled_lookup_backward(self._packed, d_step, self.embedding.mask_zero,
                                           self.grads["embeddings"], zero_first, adam)


def can_fuse(layers):
    """True when the layers start with an Embedding directly followed by GlobalAveragePooling1D."""
    return (len(layers) >= 2 and isinstance(layers[0], Embedding)
            and isinstance(layers[1], GlobalAveragePooling1D))


def stages(layers):
    """What runs, in order: the layers themselves, or with the Numba kernels a leading
    Embedding + GlobalAveragePooling1D replaced by one EmbeddingMean, and a closing
    Dense(relu or linear) + Dense(1, sigmoid) after a pooling or Flatten by one head.DenseHead."""
    if kernels.get_kernels() != "numba":
        return list(layers)
    tail = []
    if len(layers) >= 3 and isinstance(layers[-3], (GlobalAveragePooling1D, Flatten)) \
            and head.can_fuse_head(layers[-2:]):
        layers, tail = layers[:-2], [head.DenseHead(*layers[-2:])]
    if can_fuse(layers):
        layers = [EmbeddingMean(layers[0], layers[1])] + list(layers[2:])
    return list(layers) + tail

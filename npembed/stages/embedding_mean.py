"""EmbeddingMean: Embedding followed by GlobalAveragePooling1D run as one stage over packed ids.

The textbook pair gathers a (batch, steps, dim) tensor of vectors and averages it; its backward
spreads d_pooled / divisor over every step and scatter-adds it into the table. ``EmbeddingMean``
computes the same numbers from ``kernels.bags.Bags`` (each row's distinct ids and their counts, like
PyTorch's ``EmbeddingBag(mode="mean")``), so no (batch, steps, dim) tensor is made and padding
costs O(1) per row. The tests hold it equal to the pair, gradients included.
"""
import numpy as np

from .. import _checks
from ..kernels import bags
from ..layers import Embedding, GlobalAveragePooling1D
from .base import LayerWeights


class EmbeddingMean(LayerWeights):
    """Embedding + GlobalAveragePooling1D as one stage: ids (batch, steps) -> mean vectors (batch, dim).

    A stage like a layer: ``forward(packed, mask, training)`` and ``backward(d_pooled)``, which adds
    into the Embedding's own ``grads`` (the pooling layer has no weights). Its batches are
    ``kernels.bags.Bags``, made once per dataset by ``pack``.

    >>> stage = EmbeddingMean(embedding, pooling)     # both layers built
    >>> pooled = stage(ids)                           # == pooling(embedding(ids), embedding's mask)
    """

    def __init__(self, embedding, pooling):
        if not self.fits([embedding, pooling]):
            raise TypeError("EmbeddingMean fuses an Embedding and a GlobalAveragePooling1D, got "
                            f"{type(embedding).__name__} and {type(pooling).__name__}")
        self.embedding, self.pooling = embedding, pooling
        self.layer = embedding                   # the weights are the Embedding's (the pooling has none)
        self.layers = (embedding, pooling)
        self.name = f"{embedding.name} + {pooling.name}"

    @staticmethod
    def fits(layers):
        """True when layers start with an Embedding directly followed by GlobalAveragePooling1D."""
        return (len(layers) >= 2 and isinstance(layers[0], Embedding)
                and isinstance(layers[1], GlobalAveragePooling1D))

    def pack(self, ids):
        """Check ids (n, steps) against the Embedding and pack them once: a Bags of n rows."""
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
        pooled, self._n_real = bags.pooled_lookup(packed, self.params["embeddings"], self.embedding.mask_zero)
        return pooled

    def backward(self, d_pooled):
        """d_pooled (batch, dim) -> None (ids have no gradient); adds into the Embedding's grads.

        Each averaged step of row b gets d_step[b] = d_pooled[b] / divisor (d mean / dx_t = 1/divisor),
        so dE[k] += count_k d_step[b] for every real id k of row b, and dE[0] += n_padding d_step[b]
        when padding is averaged too. A frozen table needs no gradient: nothing is computed.
        """
        if self.embedding.trainable:
            d_step = bags.step_gradients(np.asarray(d_pooled, dtype=self.embedding.dtype), self._n_real,
                                         self._packed.steps, self.embedding.mask_zero)
            bags.pooled_lookup_backward(self._packed, d_step, self.embedding.mask_zero, self.grads["embeddings"])
        return None

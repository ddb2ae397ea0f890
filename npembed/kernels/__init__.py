"""Every Numba kernel of npembed, each beside its plain NumPy reference, and the switch between them.

- switch: ``set_kernels("numba" | "numpy")``, ``get_kernels()``, ``using(name)`` (a ``with`` block);
- updates: the optimizers' updates (Adam, SGD, RMSprop) and the plain Embedding's scatter-add;
- packing: padded id rows -> each row's distinct ids and their counts (once per fit);
- bags: ``Bags``, and the Embedding + mean over them, forward and backward (every batch);
- head: Dense -> Dense(1, sigmoid) -> cross-entropy of a batch in one call;
- skipgram: word2vec's skip-gram with negative sampling, its loss and its training loop;
- prefetch: the memory hint the bags kernels use.

Each dispatch function runs the kernel or its reference by the switch, and nothing that calls it
knows which ran. Kernels trust their inputs: the layers, stages and models check every value at the
boundary first. This package imports nothing else of npembed.
"""
from .switch import CHOICES, get_kernels, set_kernels, using
from .updates import (PARALLEL_ADAM_SIZE, SERIAL_ERRORS, adam_entry, adam_scalars, adam_update, adam_update_reference,
                      rmsprop_update, rmsprop_update_reference, scatter_add, scatter_add_reference,
                      sgd_update, sgd_update_reference)

__all__ = ["CHOICES", "get_kernels", "set_kernels", "using", "PARALLEL_ADAM_SIZE", "SERIAL_ERRORS", "adam_entry", "adam_scalars",
           "adam_update", "adam_update_reference", "rmsprop_update", "rmsprop_update_reference",
           "scatter_add", "scatter_add_reference", "sgd_update", "sgd_update_reference"]

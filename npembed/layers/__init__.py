"""Layers: each one's forward (caching what backward needs) beside its backward (adding into grads).

A layer holds ``params`` and ``grads``, dicts with the same keys, shapes and dtypes, in Keras's
weight order. ``build(input_shape, rng, dtype)`` creates the weights from an explicit
``numpy.random.Generator``. ``layer(x)`` checks its input and runs ``forward``; ``forward`` itself
trusts its input (``Sequential`` checks whole datasets once, at the boundary). ``backward(dy)``
returns the gradient with respect to the layer's input (None for integer ids) and ADDS the
gradient of every weight into ``grads``: the caller zeroes them before each batch.
``forward(x, mask, training)``: training is True only in a training step (Dropout drops then).
A layer with ``trainable = False`` keeps its weights: the optimizer skips them (Keras's freezing).
"""
from .base import Layer, build_stack, first_of_type, shapes_through, split_per_layer
from .dense import Dense
from .dropout import Dropout
from .embedding import Embedding
from .flatten import Flatten
from .pooling import GlobalAveragePooling1D

LAYERS = {cls.__name__: cls for cls in (Embedding, GlobalAveragePooling1D, Dense, Flatten, Dropout)}


def from_config(class_name, config):
    """A new layer of one of npembed's classes, by name, from its get_config(); ValueError for another."""
    if class_name not in LAYERS:
        raise ValueError(f"unknown layer class {class_name!r}")
    return LAYERS[class_name](**config)


__all__ = ["Layer", "Embedding", "GlobalAveragePooling1D", "Dense", "Flatten", "Dropout", "LAYERS", "from_config",
           "build_stack", "first_of_type", "shapes_through", "split_per_layer"]

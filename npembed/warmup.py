"""Compile every kernel a model's training uses before the real data arrives.

Numba compiles a kernel the first time it is called (about 4 s for the tutorial's, once per machine:
then they load from Numba's cache in well under a second). ``warm_up(model)`` runs one tiny batch
through a throw-away copy of the model's layers, so that the compiling can overlap with other work
(e.g. the IMDB cache being built in another process, see npembed.datasets.cache.build_in_background).
"""
import time

import numpy as np

from .layers import LAYERS, Embedding, from_config


def warm_up(model):
    """Train a copy of model's layers on 8 random id rows (batch 4) and predict once; returns the
    seconds it took. The model itself is untouched. model: a Sequential whose first layer is an
    Embedding (what npembed's kernels serve); rows are its input_length long, or 8."""
    from .models import Sequential
    started = time.perf_counter()
    if not isinstance(model, Sequential) or not model.layers or not isinstance(model.layers[0], Embedding):
        raise TypeError(f"warm_up needs a Sequential model that starts with an Embedding, got {model!r}")
    unknown = [type(layer).__name__ for layer in model.layers if type(layer) not in LAYERS.values()]
    if unknown:
        raise TypeError(f"warm_up copies npembed's own layers only; the model has {unknown}")
    copies = [from_config(type(layer).__name__, _small(layer.get_config())) for layer in model.layers]
    twin = Sequential(copies, seed=0, dtype=model.dtype)
    twin.compile(optimizer=type(model.optimizer)() if model.optimizer is not None else "adam",
                 loss="binary_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 4, (8, model.layers[0].input_length or 8))
    ids[0, 0] = copies[0].input_dim - 1       # the largest id sets the kernels' id type (see _small)
    twin.fit(ids, rng.integers(0, 2, 8), epochs=1, batch_size=4, validation_split=0.5, verbose=0)
    twin.predict(ids[:2])
    return time.perf_counter() - started


def _small(config):
    """A layer's config with a 4-word vocabulary, or 65,537 words when the real one has more than
    65,536: packed ids are uint16 when they fit in 16 bits, else int32 (bags.Bags.from_padded), and
    that is the only size the kernels' types depend on."""
    if "input_dim" not in config:
        return config
    return dict(config, input_dim=4 if config["input_dim"] <= 2 ** 16 else 2 ** 16 + 1)

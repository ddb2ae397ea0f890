"""npembed: word embeddings learned by backpropagation, from scratch in NumPy and Numba.

    from npembed import Sequential, layers
    model = Sequential([layers.Embedding(10000, 16), layers.GlobalAveragePooling1D(),
                        layers.Dense(16, activation="relu"), layers.Dense(1, activation="sigmoid")])

The hot loops run as Numba kernels; ``npembed.set_kernels("numpy")`` or the environment variable
``NPEMBED_KERNELS=numpy`` switches the whole library to their plain NumPy references, and makes
``Sequential`` run exactly the layers declared, one by one (the Numba path fuses Embedding + mean).
"""
from . import activations, callbacks, gradcheck, kernels, layers, losses, optimizers
from .datasets.sequences import pad_sequences
from .kernels import get_kernels, set_kernels
from .models import Sequential
from .saving import load_model
from .trainer import History

__version__ = "0.1.0"

# Parts that need more than NumPy and Numba (matplotlib, the datasets, ...) load on first use, so that
# ``import npembed`` stays quick while ``npembed.projector`` etc. work after it. The short names on
# the right of the table are where each lives; the ones on the left are how it is reached from here.
_LAZY = {"datasets": "datasets", "preprocessing": "preprocessing", "stages": "stages", "study": "study",
         "wordvectors": "wordvectors", "warmup": "warmup",
         "analysis": "study.analysis", "explorer": "study.explorer", "plotting": "study.plotting",
         "word2vec": "wordvectors.word2vec", "pretrained": "wordvectors.pretrained",
         "projector": "wordvectors.projector", "vectors": "wordvectors.files",
         "evaluation": "wordvectors.evaluation", "text": "datasets.text"}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'npembed' has no attribute {name!r}")


__all__ = ["Sequential", "History", "load_model", "pad_sequences", "layers", "losses", "optimizers",
           "gradcheck", "callbacks", "kernels", "set_kernels", "get_kernels"]

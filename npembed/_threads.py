"""Numba's kernels and NumPy's BLAS must not compete for the same cores.

The kernels run on every core Numba has (``numba.get_num_threads()``); between them, the Dense layers'
small matrix products run in NumPy's BLAS, which would start as many threads again. On a 2-core
machine the two thread pools then take turns on the cores, and an epoch of the tutorial's model with
64-dimensional embeddings took 0.75-0.98 s instead of 0.12-0.14 s. While npembed trains or predicts,
BLAS therefore runs on one thread (threadpoolctl, the library scikit-learn uses for the same purpose).
"""
import contextlib

from threadpoolctl import ThreadpoolController

_controller = None


@contextlib.contextmanager
def blas_single_threaded():
    """Limit NumPy's BLAS to one thread for the block; the previous limits come back afterwards."""
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()      # finds the loaded BLAS libraries once
    with _controller.limit(limits=1, user_api="blas"):
        yield

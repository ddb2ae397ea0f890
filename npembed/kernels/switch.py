"""The switch between the Numba kernels and their plain NumPy references, for the whole library.

``set_kernels("numpy")`` (or ``NPEMBED_KERNELS=numpy`` in the environment before import) makes every
dispatch function of npembed.kernels run its NumPy reference, and makes a model run its layers
exactly as declared (npembed.stages reads the switch once per fit); ``using("numpy")`` does the same
for a ``with`` block only. "numba" is the default.
"""
import contextlib
import os

CHOICES = ("numba", "numpy")
_kernels = os.environ.get("NPEMBED_KERNELS", "numba").strip().lower() or "numba"
if _kernels not in CHOICES:
    raise ImportError(f"NPEMBED_KERNELS must be 'numba' or 'numpy', got {_kernels!r}")


def set_kernels(name):
    """Choose the implementation of every hot loop: "numba" (default) or "numpy" (the references)."""
    global _kernels
    if name not in CHOICES:
        raise ValueError(f"kernels must be 'numba' or 'numpy', got {name!r}")
    _kernels = name


def get_kernels():
    """The implementation in use: "numba" or "numpy"."""
    return _kernels


@contextlib.contextmanager
def using(name):
    """``with using("numpy"):`` runs the block on those kernels, then restores the previous choice.

    >>> with npembed.kernels.using("numpy"):
    ...     model.fit(x, y)                  # the layers one by one, as declared
    """
    previous = get_kernels()
    set_kernels(name)
    try:
        yield name
    finally:
        set_kernels(previous)

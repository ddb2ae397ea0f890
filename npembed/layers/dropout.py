"""Dropout: inverted dropout, active only in training."""
import numpy as np

from .. import _checks
from .base import Layer


class Dropout(Layer):
    """Inverted dropout: in training, each entry is zeroed with probability rate and the others are
    scaled by 1 / (1 - rate), so the expected output equals the input; outside training, identity.

    seed: None draws from the model's generator (runs stay bit-identical for one model seed); an
    int gives the layer a generator of its own.

    >>> layer = Dropout(0.5)
    """

    def __init__(self, rate, seed=None, name=None):
        super().__init__(name)
        self.rate = _checks.finite_float("rate", rate, low=0, high=1, high_open=True)
        self.seed = None if seed is None else _checks.positive_int("seed", seed, minimum=0)

    def build(self, input_shape, rng, dtype="float32", weights=None):
        """No weights; keeps the generator that draws the dropped entries."""
        super().build(input_shape, rng, dtype, weights)
        self.rng = rng if self.seed is None else np.random.default_rng(self.seed)

    def forward(self, x, mask=None, training=False):
        """x -> x * keep / (1 - rate) in training (keep: entries kept, drawn anew), else x."""
        if not training or self.rate == 0:
            self._scale = None
            return x
        keep = self.rng.random(x.shape) >= self.rate
        self._scale = keep.astype(x.dtype) / x.dtype.type(1 - self.rate)
        return x * self._scale

    def backward(self, dy):
        """dy -> dx = dy * keep / (1 - rate): a dropped entry passes no gradient back."""
        return dy if self._scale is None else dy * self._scale

    def get_config(self):
        """{"name", "rate", "seed"}: the constructor's arguments."""
        return {"name": self.name, "rate": self.rate, "seed": self.seed}

"""Dense: y = activation(x @ kernel + bias), forward and backward side by side."""
import numpy as np

from .. import _checks, activations
from .base import Layer


class Dense(Layer):
    """y = activation(x @ kernel + bias) over the last axis: (..., in) -> (..., units).

    Keras initializers: kernel glorot_uniform, limit sqrt(6 / (fan_in + units)); bias zeros.
    activation: None / "linear", "relu" or "sigmoid".

    >>> layer = Dense(16, activation="relu")
    """

    def __init__(self, units, activation=None, trainable=True, name=None):
        super().__init__(name, trainable)
        self.units = _checks.positive_int("units", units)
        self._f, self._df = activations.get(activation)
        self.activation = None if activation in (None, "linear") else activation

    def weight_shapes(self, input_shape):
        """{"kernel": (fan_in, units), "bias": (units,)}, fan_in = the last input size."""
        fan_in = input_shape[-1] if input_shape else None
        if fan_in is None:
            raise ValueError(f"Dense needs the size of the last input axis, got shape {input_shape} "
                             "(after Flatten, give the Embedding an input_length)")
        fan_in = _checks.positive_int("the last input size of Dense", fan_in)
        return {"kernel": (fan_in, self.units), "bias": (self.units,)}

    def initial_value(self, key, shape, rng):
        """kernel: glorot_uniform; bias: zeros."""
        if key == "bias":
            return np.zeros(shape)
        limit = np.sqrt(6.0 / (shape[0] + shape[1]))
        return rng.uniform(-limit, limit, size=shape)

    def output_shape(self, input_shape):
        """(..., in) -> (..., units)."""
        return tuple(input_shape[:-1]) + (self.units,)

    def check_input(self, x):
        """x (..., fan_in), finite floats."""
        x = super().check_input(x)
        if x.ndim < 2 or x.shape[-1] != self.params["kernel"].shape[0]:
            raise ValueError(f"Dense expects inputs of shape (..., {self.params['kernel'].shape[0]}), "
                             f"got {x.shape}")
        return x

    def forward(self, x, mask=None, training=False):
        """x (..., in) -> a = f(z) (..., units)."""
        self._a = self._f(self.forward_logits(x))
        return self._a

    def backward(self, dy):
        """dy = d loss/da (..., units) -> dx (..., in); chain rule through a = f(z): dz = dy * f'(z)."""
        return self.backward_logits(dy * self._df(self._z, self._a))

    def forward_logits(self, x):
        """x (..., in) -> z = x @ kernel + bias (..., units): the layer before its activation."""
        self._x = x
        self._z = x @ self.params["kernel"] + self.params["bias"]
        return self._z

    def backward_logits(self, dz):
        """dz = d loss/dz (..., units) -> dx (..., in), adding into grads.

        d_kernel += x^T dz;  d_bias += sum of dz over the rows;  dx = dz kernel^T.
        """
        x = self._x.reshape(-1, self._x.shape[-1])
        dz_2d = dz.reshape(-1, self.units)
        self.grads["kernel"] += x.T @ dz_2d
        self.grads["bias"] += dz_2d.sum(axis=0)
        return (dz_2d @ self.params["kernel"].T).reshape(self._x.shape)

    def get_config(self):
        """{"name", "units", "activation"}: the constructor's arguments."""
        return {"name": self.name, "units": self.units, "activation": self.activation,
                "trainable": self.trainable}

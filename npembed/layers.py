"""Layers: each one's forward (caching what backward needs) beside its backward (adding into grads).

A layer holds ``params`` and ``grads``, dicts with the same keys, shapes and dtypes, in Keras's
weight order. ``build(input_shape, rng, dtype)`` creates the weights from an explicit
``numpy.random.Generator``. ``layer(x)`` checks its input and runs ``forward``; ``forward`` itself
trusts its input (``Sequential`` checks whole datasets once, at the boundary).
"""
import numpy as np

from . import _checks, kernels


# --------------------------------------------------------------------------------------------
# Activations: value a = f(z) and local derivative da/dz, written with both z and a at hand.
# --------------------------------------------------------------------------------------------

def sigmoid(z):
    """1 / (1 + exp(-z)), without overflow for any z."""
    e = np.exp(-np.abs(z))                     # in (0, 1]: never overflows
    return (np.where(z >= 0, 1, e) / (1 + e)).astype(z.dtype, copy=False)


ACTIVATIONS = {
    # name: (f(z), da/dz given z and a)
    "linear": (lambda z: z, lambda z, a: np.ones_like(z)),
    "relu": (lambda z: np.maximum(z, 0), lambda z, a: z > 0),     # a bool mask multiplies as 0 / 1
    "sigmoid": (sigmoid, lambda z, a: a * (1 - a)),
}


class Layer:
    """Base class: named params and grads, build, forward/backward, masks and config."""

    def __init__(self, name=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string, got {name!r}")
        self.name = name
        self.params = {}
        self.grads = {}
        self.built = False
        self.dtype = None

    # weights ------------------------------------------------------------------------------
    def build(self, input_shape, rng, dtype="float32"):
        """Create the weights for inputs of input_shape (None for unknown sizes)."""
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
        self._create_params(tuple(input_shape), rng)
        self.grads = {key: np.zeros_like(value) for key, value in self.params.items()}
        self.built = True

    def _create_params(self, input_shape, rng):
        pass

    def count_params(self):
        return sum(int(value.size) for value in self.params.values())

    def zero_grads(self):
        for grad in self.grads.values():
            grad.fill(0)

    # shapes and masks ---------------------------------------------------------------------
    def output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_mask(self, inputs, mask):
        """The mask passed to the next layer (None: no mask)."""
        return mask

    # calling ------------------------------------------------------------------------------
    def check_input(self, x):
        """Validate and convert an input for this layer (raises before any kernel runs)."""
        return _checks.float_array("x", x, self.dtype)

    def __call__(self, x, mask=None):
        if not self.built:
            raise RuntimeError(f"{type(self).__name__} is not built: call "
                               "layer.build(input_shape, rng=numpy.random.default_rng(seed)) first")
        x = self.check_input(x)
        if mask is not None:
            mask = np.asarray(mask)
            if mask.dtype != bool or mask.shape != x.shape[:2]:
                raise ValueError(f"mask must be a bool array of shape {x.shape[:2]}, "
                                 f"got {mask.dtype} {mask.shape}")
        return self.forward(x, mask)

    def forward(self, x, mask=None):
        raise NotImplementedError

    def backward(self, dy):
        raise NotImplementedError

    def get_config(self):
        return {"name": self.name}


class Embedding(Layer):
    """Turns integer ids into dense vectors: a lookup table of shape (input_dim, output_dim).

    Input (batch, steps) integer ids in [0, input_dim); output (batch, steps, output_dim).
    With ``mask_zero=True`` id 0 is padding: the mask ``ids != 0`` is passed to the next layer
    (GlobalAveragePooling1D then averages only real steps). Keras initializer: uniform(-0.05, 0.05).

    >>> layer = Embedding(1000, 16, mask_zero=True)
    """

    def __init__(self, input_dim, output_dim, mask_zero=False, name=None):
        super().__init__(name)
        self.input_dim = _checks.positive_int("input_dim", input_dim, maximum=_checks.MAX_ID)
        self.output_dim = _checks.positive_int("output_dim", output_dim)
        if not isinstance(mask_zero, (bool, np.bool_)):
            raise TypeError(f"mask_zero must be True or False, got {mask_zero!r}")
        self.mask_zero = bool(mask_zero)
        if self.mask_zero and self.input_dim < 2:
            raise ValueError("mask_zero=True reserves id 0 for padding, so input_dim must be >= 2, "
                             f"got {input_dim}")

    def _create_params(self, input_shape, rng):
        table = rng.uniform(-0.05, 0.05, size=(self.input_dim, self.output_dim))
        self.params["embeddings"] = table.astype(self.dtype)

    def output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def compute_mask(self, ids, mask):
        return (ids != 0) if self.mask_zero else None

    def check_input(self, x):
        return _checks.ids_array("ids", x, self.input_dim)

    def forward(self, ids, mask=None):
        """ids (batch, steps) -> vectors (batch, steps, output_dim)."""
        self._ids = ids
        return self.params["embeddings"][ids]

    def backward(self, d_vectors):
        """d_vectors (batch, steps, output_dim): scatter-add into grads; ids get no gradient."""
        d_vectors = np.ascontiguousarray(d_vectors, dtype=self.dtype)
        kernels.scatter_add(self._ids, d_vectors, self.grads["embeddings"])
        return None

    # The lookup fused with GlobalAveragePooling1D, as Sequential runs it (like torch's
    # EmbeddingBag(mode="mean")): same mathematics as forward -> pooling, but no
    # (batch, steps, dim) tensor is made, and padding costs O(1) per row.
    def forward_mean(self, ids):
        """ids (batch, steps) or kernels.Bags -> mean vector of each row (batch, output_dim)."""
        self._bags = ids if isinstance(ids, kernels.Bags) else kernels.Bags.from_padded(ids, self.dtype)
        pooled, self._n_real = kernels.pooled_lookup(self._bags, self.params["embeddings"], self.mask_zero)
        return pooled

    def backward_mean(self, d_pooled):
        """d_pooled (batch, output_dim): each averaged step's id receives d_pooled / divisor."""
        d_step = kernels.step_gradients(np.asarray(d_pooled, dtype=self.dtype), self._n_real,
                                        self._bags.steps, self.mask_zero)
        kernels.pooled_lookup_backward(self._bags, d_step, self.mask_zero, self.grads["embeddings"])
        return None

    def get_config(self):
        return {"name": self.name, "input_dim": self.input_dim, "output_dim": self.output_dim,
                "mask_zero": self.mask_zero}


class GlobalAveragePooling1D(Layer):
    """Mean over the steps axis: (batch, steps, features) -> (batch, features).

    With a mask (batch, steps) from the previous layer, averages only the unmasked steps:
    sum(x where mask) / sum(mask); a row that is all padding pools to zeros.
    """

    def output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def compute_mask(self, inputs, mask):
        return None

    def check_input(self, x):
        return _checks.float_array("x", x, self.dtype, ndim=3)

    def forward(self, x, mask=None):
        weights = np.ones(x.shape[:2], dtype=x.dtype) if mask is None else mask.astype(x.dtype)
        divisor = np.maximum(weights.sum(axis=1, keepdims=True), 1)   # all-padding rows: 0 / 1
        self._scale = weights / divisor                                # (batch, steps)
        return np.einsum("btd,bt->bd", x, self._scale)

    def backward(self, dy):
        # d(mean)/dx_t = mask_t / divisor for each step t
        return self._scale[:, :, None] * dy[:, None, :]


class Dense(Layer):
    """y = activation(x @ kernel + bias) over the last axis: (..., in) -> (..., units).

    Keras initializers: kernel glorot_uniform, limit sqrt(6 / (fan_in + units)); bias zeros.
    activation: None / "linear", "relu" or "sigmoid".
    """

    def __init__(self, units, activation=None, name=None):
        super().__init__(name)
        self.units = _checks.positive_int("units", units)
        key = "linear" if activation is None else activation
        if key not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of "
                             f"{[None] + sorted(ACTIVATIONS)}")
        self.activation = None if key == "linear" else key
        self._f, self._df = ACTIVATIONS[key]

    def _create_params(self, input_shape, rng):
        fan_in = input_shape[-1]
        if fan_in is None:
            raise ValueError(f"Dense needs the size of the last input axis, got shape {input_shape}")
        limit = np.sqrt(6.0 / (fan_in + self.units))
        self.params["kernel"] = rng.uniform(-limit, limit, size=(fan_in, self.units)).astype(self.dtype)
        self.params["bias"] = np.zeros(self.units, dtype=self.dtype)

    def output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def check_input(self, x):
        x = super().check_input(x)
        if x.ndim < 2 or x.shape[-1] != self.params["kernel"].shape[0]:
            raise ValueError(f"Dense expects inputs of shape (..., {self.params['kernel'].shape[0]}), "
                             f"got {x.shape}")
        return x

    def forward(self, x, mask=None):
        self._y = self._f(self.forward_logits(x))
        return self._y

    def forward_logits(self, x):
        """z = x @ kernel + bias, before the activation (what a from-logits loss reads)."""
        self._x = x
        self.logits = x @ self.params["kernel"] + self.params["bias"]
        return self.logits

    def backward(self, dy):
        return self.backward_logits(dy * self._df(self.logits, self._y))

    def backward_logits(self, dz):
        """Backward from d(loss)/dz, z = x @ kernel + bias (used directly by a from-logits loss)."""
        x = self._x.reshape(-1, self._x.shape[-1])
        dz_2d = dz.reshape(-1, self.units)
        self.grads["kernel"] += x.T @ dz_2d
        self.grads["bias"] += dz_2d.sum(axis=0)
        return (dz_2d @ self.params["kernel"].T).reshape(self._x.shape)

    def get_config(self):
        return {"name": self.name, "units": self.units, "activation": self.activation}


LAYERS = {cls.__name__: cls for cls in (Embedding, GlobalAveragePooling1D, Dense)}

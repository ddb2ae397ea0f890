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
import numpy as np

from . import _checks, activations, kernels


class Layer:
    """Base class: named params and grads, build, forward/backward, masks and config."""

    def __init__(self, name=None, trainable=True):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string, got {name!r}")
        if not isinstance(trainable, (bool, np.bool_)):
            raise TypeError(f"trainable must be True or False, got {trainable!r}")
        self.name = name
        self.trainable = bool(trainable)
        self.pending_weights = None      # set_weights before build: used (and checked) by build
        self.params = {}
        self.grads = {}
        self.built = False
        self.dtype = None

    # weights ------------------------------------------------------------------------------
    def weight_shapes(self, input_shape):
        """{key: shape} of the weights made for inputs of input_shape; computes, allocates nothing."""
        return {}

    def initial_value(self, key, shape, rng):
        """The starting value of weight ``key`` (an array of ``shape``), drawn from ``rng``."""
        raise NotImplementedError

    def build(self, input_shape, rng, dtype="float32", weights=None):
        """Create the weights for inputs of input_shape (None for unknown sizes), drawn from rng,
        or copied from ``weights`` (a list as get_weights gives it: then nothing is drawn)."""
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
        shapes = self.weight_shapes(tuple(input_shape))
        for key, shape in shapes.items():      # the weight, its gradient and two optimizer slots
            _checks.allocation(f"{type(self).__name__} weight {key!r}", shape, dtype, copies=4)
        weights = self.pending_weights if weights is None else weights
        if weights is None:
            values = [self.initial_value(key, shape, rng).astype(dtype, copy=False)
                      for key, shape in shapes.items()]
        else:
            values = [value.copy() for value in self._checked_weights(shapes, dtype, weights)]
        self.dtype = dtype
        self.params = dict(zip(shapes, values))
        self.grads = {key: np.zeros_like(value) for key, value in self.params.items()}
        self.pending_weights = None
        self.built = True

    def check_fits(self, input_shape, dtype):
        """For a built layer: ValueError unless its weights are what inputs of input_shape in dtype need."""
        needed = self.weight_shapes(tuple(input_shape))
        have = {key: value.shape for key, value in self.params.items()}
        if have != needed or self.dtype != np.dtype(dtype):
            raise ValueError(f"layer {self.name!r} is already built with weights {have} {self.dtype}; "
                             f"inputs {tuple(input_shape)} in {np.dtype(dtype)} need {needed}")

    def count_params(self):
        """Number of weight entries (int)."""
        return sum(int(value.size) for value in self.params.values())

    def zero_grads(self):
        """Set every gradient to 0 (backward adds into them)."""
        for grad in self.grads.values():
            grad.fill(0)

    def get_weights(self):
        """Copies of the weights in Keras order, e.g. [kernel (in, units), bias (units,)]."""
        self._require_built()
        return [value.copy() for value in self.params.values()]

    def check_weights(self, weights):
        """weights as get_weights gives them, each checked (shape, finite) and cast to the layer's dtype."""
        self._require_built()
        return self._checked_weights({key: value.shape for key, value in self.params.items()}, self.dtype,
                                     weights)

    def _checked_weights(self, shapes, dtype, weights):
        weights = list(weights)
        if len(weights) != len(shapes):
            raise ValueError(f"layer {self.name!r} has {len(shapes)} weights {list(shapes)}, "
                             f"got {len(weights)} arrays")
        checked = []
        for (key, shape), new in zip(shapes.items(), weights):
            new = _checks.float_array(f"weight {self.name}/{key}", new, dtype)
            if new.shape != tuple(shape):
                raise ValueError(f"weight {self.name}/{key} must have shape {tuple(shape)}, got {new.shape}")
            checked.append(new)
        return checked

    def set_weights(self, weights):
        """Replace the weights (same count and shapes as get_weights); values are copied in place.

        On a layer not built yet (Keras: ``model.layers[0].set_weights([matrix])`` right after
        ``model.add``), the weights are kept and become its starting weights when it is built."""
        if not self.built:
            self.pending_weights = [np.array(value, copy=True) for value in weights]
            return
        for current, new in zip(self.params.values(), self.check_weights(weights)):
            current[...] = new

    def _require_built(self):
        if not self.built:
            raise _checks.StateError(f"{type(self).__name__} {self.name or ''} is not built: call "
                               "layer.build(input_shape, rng=numpy.random.default_rng(seed)) first")

    # shapes and masks ---------------------------------------------------------------------
    def output_shape(self, input_shape):
        """The output shape for input_shape (None for unknown sizes)."""
        return tuple(input_shape)

    def compute_mask(self, inputs, mask):
        """The mask passed to the next layer (None: no mask)."""
        return mask

    # calling ------------------------------------------------------------------------------
    def check_input(self, x):
        """Validate and convert an input for this layer (raises before any kernel runs)."""
        return _checks.float_array("x", x, self.dtype)

    def __call__(self, x, mask=None, training=False):
        """forward(x, mask, training) after checking x and mask."""
        self._require_built()
        x = self.check_input(x)
        if mask is not None:
            mask = np.asarray(mask)
            if mask.dtype != bool or mask.shape != x.shape[:2]:
                raise ValueError(f"mask must be a bool array of shape {x.shape[:2]}, "
                                 f"got {mask.dtype} {mask.shape}")
        return self.forward(x, mask, training)

    def forward(self, x, mask=None, training=False):
        """The layer's output for a checked input x; caches what backward needs."""
        raise NotImplementedError

    def backward(self, dy):
        """d loss / d input from dy = d loss / d output; adds the weights' gradients into grads."""
        raise NotImplementedError

    def get_config(self):
        """The constructor's arguments, as a JSON-able dict."""
        return {"name": self.name, "trainable": self.trainable}


class Embedding(Layer):
    """Turns integer ids into dense vectors: a lookup table of shape (input_dim, output_dim).

    Input (batch, steps) integer ids in [0, input_dim); output (batch, steps, output_dim).
    With ``mask_zero=True`` id 0 is padding: the mask ``ids != 0`` is passed to the next layer
    (GlobalAveragePooling1D then averages only real steps). Keras initializer: uniform(-0.05, 0.05).
    input_length (Keras 2): the fixed number of steps; the model is then built for it, and Flatten
    can follow. weights=[matrix] (Keras 2) or embeddings_initializer=matrix: start from a
    (input_dim, output_dim) matrix instead of random values, e.g. pre-trained vectors.

    >>> layer = Embedding(1000, 16, mask_zero=True)
    >>> frozen = Embedding(10000, 100, input_length=100, weights=[matrix], trainable=False)
    """

    def __init__(self, input_dim, output_dim, mask_zero=False, input_length=None, weights=None,
                 embeddings_initializer="uniform", trainable=True, name=None):
        super().__init__(name, trainable)
        self.input_dim = _checks.positive_int("input_dim", input_dim, maximum=_checks.MAX_ID)
        self.output_dim = _checks.positive_int("output_dim", output_dim)
        if not isinstance(mask_zero, (bool, np.bool_)):
            raise TypeError(f"mask_zero must be True or False, got {mask_zero!r}")
        self.mask_zero = bool(mask_zero)
        if self.mask_zero and self.input_dim < 2:
            raise ValueError("mask_zero=True reserves id 0 for padding, so input_dim must be >= 2, "
                             f"got {input_dim}")
        self.input_length = None if input_length is None else _checks.positive_int("input_length", input_length)
        self.initial_matrix = self._initial_matrix(weights, embeddings_initializer)

    def _initial_matrix(self, weights, initializer):
        if weights is not None and not isinstance(initializer, str):
            raise ValueError("give the starting matrix once: weights=[matrix] or embeddings_initializer=matrix")
        if weights is not None:
            if not isinstance(weights, (list, tuple)) or len(weights) != 1:
                raise ValueError(f"weights must be a list of one (input_dim, output_dim) matrix, got "
                                 f"{type(weights).__name__} of {len(weights) if hasattr(weights, '__len__') else '?'}")
            initializer = weights[0]
        if isinstance(initializer, str):
            if initializer not in ("uniform", "random_uniform"):
                raise ValueError(f"embeddings_initializer must be 'uniform' or a matrix, got {initializer!r}")
            return None
        matrix = _checks.float_array("the starting embedding matrix", initializer, np.float64, ndim=2)
        if matrix.shape != (self.input_dim, self.output_dim):
            raise ValueError(f"the starting embedding matrix must have shape ({self.input_dim}, "
                             f"{self.output_dim}) (input_dim, output_dim), got {matrix.shape}")
        return matrix

    def weight_shapes(self, input_shape):
        """{"embeddings": (input_dim, output_dim)}."""
        return {"embeddings": (self.input_dim, self.output_dim)}

    def initial_value(self, key, shape, rng):
        """The given starting matrix, else uniform(-0.05, 0.05), Keras's default for embeddings."""
        if self.initial_matrix is not None:
            return self.initial_matrix.copy()
        return rng.uniform(-0.05, 0.05, size=shape)

    def output_shape(self, input_shape):
        """(batch, steps) -> (batch, steps, output_dim); steps = input_length when given."""
        input_shape = tuple(input_shape)
        if self.input_length is not None and len(input_shape) == 2:
            if input_shape[1] not in (None, self.input_length):
                raise ValueError(f"Embedding has input_length={self.input_length}, but the model is "
                                 f"built for inputs of shape {input_shape}")
            input_shape = (input_shape[0], self.input_length)
        return input_shape + (self.output_dim,)

    def compute_mask(self, ids, mask):
        """ids != 0 when mask_zero, else None."""
        return (ids != 0) if self.mask_zero else None

    def check_input(self, x):
        """ids (batch, steps), integers in [0, input_dim) -> C-contiguous int32."""
        ids = _checks.ids_array("ids", x, self.input_dim)
        if self.input_length is not None and ids.shape[1] != self.input_length:
            raise ValueError(f"ids must have input_length={self.input_length} steps, got shape {ids.shape}")
        return ids

    def forward(self, ids, mask=None, training=False):
        """ids (batch, steps) -> vectors (batch, steps, output_dim): vectors[b, t] = E[ids[b, t]]."""
        self._ids = ids
        return self.params["embeddings"][ids]

    def backward(self, d_vectors):
        """d_vectors (batch, steps, output_dim) -> None (ids get no gradient).

        dE[k] += sum of d_vectors[b, t] over every (b, t) with ids[b, t] == k: a scatter-add in
        which repeated ids accumulate (np.add.at in the reference, a loop in the Numba kernel).
        """
        if self.trainable:                     # a frozen table needs no gradient
            d_vectors = np.ascontiguousarray(d_vectors, dtype=self.dtype)
            kernels.scatter_add(self._ids, d_vectors, self.grads["embeddings"])
        return None

    def get_config(self):
        """{"name", "input_dim", "output_dim", "mask_zero"}: the constructor's arguments."""
        return {"name": self.name, "input_dim": self.input_dim, "output_dim": self.output_dim,
                "mask_zero": self.mask_zero, "input_length": self.input_length, "trainable": self.trainable}


class GlobalAveragePooling1D(Layer):
    """Mean over the steps axis: (batch, steps, features) -> (batch, features).

    With a mask (batch, steps) from the previous layer, averages only the unmasked steps:
    sum(x where mask) / sum(mask); a row that is all padding pools to zeros.
    """

    def output_shape(self, input_shape):
        """(batch, steps, features) -> (batch, features)."""
        if len(input_shape) != 3:
            raise ValueError(f"GlobalAveragePooling1D needs inputs (batch, steps, features), "
                             f"got shape {tuple(input_shape)}")
        return (input_shape[0], input_shape[2])

    def compute_mask(self, inputs, mask):
        """None: the steps axis is gone."""
        return None

    def check_input(self, x):
        """x (batch, steps, features), finite floats."""
        return _checks.float_array("x", x, self.dtype, ndim=3)

    def forward(self, x, mask=None, training=False):
        """x (batch, steps, features), mask (batch, steps) or None -> mean (batch, features).

        mean[b] = sum_t scale[b, t] x[b, t], scale[b, t] = mask[b, t] / max(sum_t mask[b, t], 1).
        """
        weights = np.ones(x.shape[:2], dtype=x.dtype) if mask is None else mask.astype(x.dtype)
        divisor = np.maximum(weights.sum(axis=1, keepdims=True), 1)   # all-padding rows: 0 / 1
        self._scale = weights / divisor                                # (batch, steps)
        return np.einsum("btd,bt->bd", x, self._scale)

    def backward(self, dy):
        """dy (batch, features) -> dx (batch, steps, features).

        d(mean[b])/dx[b, t] = scale[b, t]: each unmasked step gets dy / divisor, masked steps 0.
        """
        return self._scale[:, :, None] * dy[:, None, :]


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


class Flatten(Layer):
    """Every axis after the batch axis into one: (batch, d1, d2, ...) -> (batch, d1 * d2 * ...).

    After Embedding(..., input_length=n): (batch, n, dim) -> (batch, n * dim), as in Chollet's
    "Using word embeddings". The mask stops here (Keras's Flatten does not pass it on).
    """

    def output_shape(self, input_shape):
        """(batch, d1, d2, ...) -> (batch, d1 * d2 * ...); None when a size is unknown."""
        rest = input_shape[1:]
        return (input_shape[0], None if any(n is None for n in rest) else int(np.prod(rest, dtype=np.int64)))

    def compute_mask(self, inputs, mask):
        """None: Flatten drops the mask."""
        return None

    def forward(self, x, mask=None, training=False):
        """x (batch, ...) -> (batch, features): a reshape, no arithmetic."""
        self._shape = x.shape
        return x.reshape(len(x), -1)

    def backward(self, dy):
        """dy (batch, features) -> dx (batch, ...): each entry goes back where it came from."""
        return dy.reshape(self._shape)


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


LAYERS = {cls.__name__: cls for cls in (Embedding, GlobalAveragePooling1D, Dense, Flatten, Dropout)}


def shapes_through(layers, input_shape):
    """Shapes of a stack of named layers applied in order to input_shape, computed without allocating:
    ({"layer_name/key": weight shape}, [output shape of each layer]). Raises on a shape that does not fit."""
    weights, outputs, shape = {}, [], tuple(input_shape)
    for layer in layers:
        weights.update({f"{layer.name}/{key}": tuple(value) for key, value in layer.weight_shapes(shape).items()})
        shape = layer.output_shape(shape)
        outputs.append(shape)
    return weights, outputs


def split_per_layer(layers, arrays, counts):
    """arrays (one flat list for a stack, e.g. a model's get_weights) cut into one list per layer,
    counts[i] arrays for layers[i]; ValueError when the total does not match."""
    arrays = list(arrays)
    if len(arrays) != sum(counts):
        raise ValueError(f"the layers {[layer.name for layer in layers]} have {sum(counts)} weights, "
                         f"got {len(arrays)} arrays")
    starts = np.cumsum([0] + list(counts))
    return [arrays[start:end] for start, end in zip(starts[:-1], starts[1:])]


def build_stack(layers, input_shape, rng, dtype, weights=None):
    """Build layers applied in order to input_shape, drawing from rng, or copying ``weights`` (one
    flat list for the whole stack, as a model's get_weights gives it). A layer already built (e.g.
    shared with another model) keeps its weights if they fit. A shape that does not fit builds
    nothing. Returns the output shape of each layer."""
    _, outputs = shapes_through(layers, input_shape)
    inputs = [tuple(input_shape)] + outputs[:-1]
    for layer, shape in zip(layers, inputs):
        if layer.built:
            layer.check_fits(shape, dtype)
    given = [None] * len(layers) if weights is None else split_per_layer(
        layers, weights, [len(layer.weight_shapes(shape)) for layer, shape in zip(layers, inputs)])
    for layer, shape, layer_weights in zip(layers, inputs, given):
        if not layer.built:
            layer.build(shape, rng, dtype, weights=layer_weights)
    return outputs


def first_of_type(layers, cls):
    """The first layer of type cls in a list of layers; ValueError naming what there is otherwise."""
    for layer in layers:
        if isinstance(layer, cls):
            return layer
    raise ValueError(f"needs a model with a {cls.__name__} layer; its layers are "
                     f"{[type(layer).__name__ for layer in layers]}")

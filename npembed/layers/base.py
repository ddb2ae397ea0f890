"""Layer: the base every layer shares (named params and grads, build, checks, get/set_weights),
and the helpers that build a stack of layers."""
import numpy as np

from .. import _checks


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

"""Sequential: a Keras-like stack of layers, and its training step.

One training step (``Sequential.train_step``), as a student would follow it::

    ids (batch, steps) --Embedding--> vectors (batch, steps, dim) --GlobalAveragePooling1D-->
      pooled (batch, dim) --Dense relu--> hidden --Dense--> logits z (batch, 1)
      --sigmoid + BCE--> loss;   d loss / d z = (sigmoid(z) - y) / batch
    then backward through the stages in reverse, each adding into its grads (zeroed first), and
    one optimizer step over every trainable weight.

What runs is chosen once per dataset by npembed.stages.plan: with ``set_kernels("numpy")`` exactly
those layers, each its own forward and backward; with the Numba kernels (the default) the
Embedding + pooling as one stage over packed ids and the two Dense layers with the loss as another.
The step itself is the same either way; ``summary()`` says what was fused.
compile / fit / evaluate / predict come from npembed.trainer; files are npembed.saving.
"""
import numpy as np

from . import _checks, saving, stages, trainer
from .layers import Embedding, Layer, build_stack, split_per_layer
from .trainer import History  # noqa: F401  (npembed.models.History, as before)

load_model = saving.load_model


def _snake_case(name):
    out = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    return out.replace("1_d", "1d")


class Sequential(trainer.Trainer):
    """A linear stack of layers trained with one optimizer.

    >>> model = Sequential([Embedding(10000, 16), GlobalAveragePooling1D(),
    ...                     Dense(16, activation="relu"), Dense(1, activation="sigmoid")], seed=0)
    >>> model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])

    seed: seeds the model's own numpy.random.Generator (initial weights, then the shuffling);
    None draws a fresh seed, kept in ``model.seed`` so the run can be repeated.
    dtype: "float32" (default) or "float64" (gradient checks).
    After build, ``params`` and ``grads`` map "layer_name/key" to every weight and its gradient.
    """

    def __init__(self, layers=None, seed=None, dtype="float32", name="sequential"):
        super().__init__()
        self.layers = []
        self.name = name
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % 2**63)
        self.seed = _checks.positive_int("seed", seed, minimum=0)
        self.rng = np.random.default_rng(self.seed)
        self.built = False
        self.params, self.grads = {}, {}
        self._layer_of_weight = {}           # "layer_name/key" -> its layer
        for layer in layers or []:
            self.add(layer)

    # ---- structure ----------------------------------------------------------------------------
    def add(self, layer):
        """Append a layer (before build); it is named after its class if it has no name."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential takes npembed layers, got {layer!r}")
        if self.built:
            raise _checks.StateError("cannot add a layer to a model that is already built")
        if any(layer is other for other in self.layers):
            raise ValueError(f"layer {layer!r} is already in the model")
        taken = {other.name for other in self.layers}
        if layer.name is None:
            base, count = _snake_case(type(layer).__name__), 0
            layer.name = base
            while layer.name in taken:
                count += 1
                layer.name = f"{base}_{count}"
        elif layer.name in taken:
            raise ValueError(f"the model already has a layer named {layer.name!r}: layer names must "
                             "be unique (they key the weights)")
        self.layers.append(layer)

    def build(self, input_shape=(None, None), weights=None):
        """Create every layer's weights, in order, from the model's generator; or copy them from
        ``weights`` (a list as get_weights gives it: then nothing is drawn)."""
        if not self.layers:
            raise ValueError("the model has no layers")
        if self.built:
            return
        self.input_shape = _checks.shape("input_shape", input_shape)
        self.output_shapes = build_stack(self.layers, self.input_shape, self.rng, self.dtype, weights)
        # one flat dict of named weights for the optimizer: "dense/kernel", ...
        self.params = {f"{layer.name}/{key}": value for layer in self.layers for key, value in layer.params.items()}
        self.grads = {f"{layer.name}/{key}": value for layer in self.layers for key, value in layer.grads.items()}
        self._layer_of_weight = {f"{layer.name}/{key}": layer for layer in self.layers for key in layer.params}
        self.built = True

    def count_params(self):
        """Number of weight entries of every layer."""
        self._ensure_built()
        return sum(layer.count_params() for layer in self.layers)

    def trainable_params(self):
        """The weights the optimizer updates: params of the layers whose ``trainable`` is True."""
        return {key: value for key, value in self.params.items() if self._layer_of_weight[key].trainable}

    def summary(self, print_fn=print):
        """Print a Keras-like table: layer (type), output shape, parameter count, totals, and what runs fused."""
        self._ensure_built()
        print_fn(summary_table(self))

    # ---- one batch: the steps ------------------------------------------------------------------
    def train_step(self, x, y):
        """One update on a batch: its gradients, then one optimizer step over every trainable weight.

        x: a batch taken from ``batch_source(x_all)`` (padded ids, or packed ones on the fast path);
        y (batch, 1) of 0/1. Returns (loss, accuracy) of the batch before the update. Raises
        FloatingPointError, with no weight changed, when the loss or a gradient is not finite.
        """
        loss, accuracy = self.compute_gradients(x, y)
        with self.interrupts_held():             # Ctrl-C waits: every weight gets this update, or none
            self.optimizer.step(self.trainable_params(), self.grads)
        return loss, accuracy

    def compute_gradients(self, x, y):
        """grads := d loss / d every weight on a batch (as train_step takes it); returns (loss, accuracy)."""
        self.zero_grads()
        loss, accuracy = self.plan.loss.forward(self.forward(x, training=True), y, training=True)
        if not np.isfinite(loss):
            self._stop(f"the loss became {loss} (learning rate too high?)")
        d = self.plan.loss.backward()                               # d loss / d (last stage's output)
        for stage in reversed(self.plan.stages):                    # the chain rule, last stage first
            if not np.isfinite(d).all():
                self._stop("a gradient became non-finite (weights too large?)")
            d = stage.backward(d)
        return loss, accuracy

    def forward(self, x, training=False):
        """A batch (as train_step takes it) through every stage, first to last, each handing its mask
        on: what the loss stage reads (batch, ...)."""
        mask = None
        for stage in self.plan.stages:
            x, mask = stage.forward(x, mask, training), stage.compute_mask(x, mask)
        return x

    def test_step(self, x, y):
        """(loss, accuracy) of a batch, as train_step takes it; nothing changes."""
        return self.plan.loss.forward(self.forward(x), y)

    def predict_step(self, x, logits=False):
        """The model's outputs for a batch (as train_step takes it), (batch, units of the last layer);
        logits=True: before the last sigmoid."""
        outputs = self.forward(x)
        return self.plan.loss.logits(outputs) if logits else self.plan.loss.predictions(outputs)

    def zero_grads(self):
        """Set every gradient to 0 (the backward passes add into them)."""
        for grad in self.grads.values():
            grad.fill(0)

    def _stop(self, what):
        """Raise FloatingPointError, every gradient set to 0 first (none is this batch's)."""
        self.zero_grads()
        raise FloatingPointError(f"{what}; training stopped and the weights are those from before this batch")

    # ---- datasets: checks at the boundary, and what runs ---------------------------------------
    def batch_source(self, x):
        """Choose what runs (npembed.stages.plan) and return where x's batches come from: ``len`` and
        ``take(rows)``. x: checked by check_data."""
        self.plan = stages.plan(self.layers)
        return self.plan.source(x)

    def check_data(self, x, y=None):
        """x (n, ...) checked against the first layer (building the model from its shape if needed);
        with y, also a compiled model with one output and y as 0/1 labels (n, 1). Returns x or (x, y)."""
        if y is not None:
            self._require_compiled()
        x = _checks.as_array("x", x)
        if not self.built:
            if x.ndim < 2:
                raise ValueError(f"x must have a batch axis and at least one more, got shape {x.shape}")
            if isinstance(self.layers[0] if self.layers else None, Embedding):
                x = self.layers[0].check_input(x)         # ids are checked before their shape builds the model
            self.build((None,) + x.shape[1:])
        x = self.layers[0].check_input(x)
        if y is None:
            return x
        if self.output_shapes[-1][1:] != (1,):
            raise ValueError("binary_crossentropy needs one output per sample, but the model's "
                             f"output shape is {self.output_shapes[-1]}")
        return x, _checks.binary_labels("y", y, len(x), self.dtype)

    def _ensure_built(self):
        """Build a model that starts with an Embedding (its input shape is known); else refuse."""
        if not self.built:
            first = self.layers[0] if self.layers else None
            if not isinstance(first, Embedding):
                raise _checks.StateError("the model is not built yet: call build(input_shape), fit or predict")
            self.build((None, first.input_length))

    # ---- weights and files ---------------------------------------------------------------------
    def get_weights(self):
        """Copies of every weight in Keras order: [embeddings, kernel, bias, kernel, bias]."""
        self._ensure_built()
        return [value.copy() for value in self.params.values()]

    def set_weights(self, weights):
        """Replace every weight (same count, shapes as get_weights); all are checked before any changes."""
        self._ensure_built()
        per_layer = split_per_layer(self.layers, weights, [len(layer.params) for layer in self.layers])
        checked = [array for layer, given in zip(self.layers, per_layer) for array in layer.check_weights(given)]
        for current, new in zip(self.params.values(), checked):
            current[...] = new

    def get_config(self):
        """Everything but the weights, as JSON-able values: layers, seed, dtype, compile settings."""
        self._ensure_built()
        return saving.model_config(self)

    def save(self, path):
        """Write one .npz: every weight, the optimizer state, and a JSON config (see npembed.saving)."""
        saving.save_model(self, path)

    def save_weights(self, path):
        """Write only the weights, as an .npz keyed by weight name (no pickle), atomically."""
        self._ensure_built()
        saving.save_weights(self.params, path)

    def load_weights(self, path):
        """Read weights written by save_weights (or save) into this model: same names and shapes."""
        self._ensure_built()
        self.set_weights(saving.load_weights(path, {key: value.shape for key, value in self.params.items()}))


def summary_table(model):
    """The text of Sequential.summary() for a built model."""
    width = (52, 20, 10)
    rule, double = "_" * sum(width), "=" * sum(width)
    rows = [f'Model: "{model.name}"', rule,
            f"{'Layer (type)':<{width[0]}}{'Output Shape':<{width[1]}}{'Param #':<{width[2]}}", double]
    for i, (layer, shape) in enumerate(zip(model.layers, model.output_shapes)):
        label = f"{layer.name} ({type(layer).__name__})"
        rows.append(f"{label:<{width[0]}}{str(shape):<{width[1]}}{layer.count_params():<{width[2]}}")
        rows.append(double if i == len(model.layers) - 1 else rule)
    total = model.count_params()
    trainable = sum(int(value.size) for value in model.trainable_params().values())
    rows += [f"Total params: {total:,}", f"Trainable params: {trainable:,}",
             f"Non-trainable params: {total - trainable:,}", rule]
    notes = stages.plan(model.layers).notes         # fusing happens only with the Numba kernels
    if notes:
        rows += notes + ["(With the Numba kernels; set_kernels('numpy') runs every layer one by one.)"]
    return "\n".join(rows)

"""Sequential: a Keras-like stack of layers, and one training step through it.

One training step, as a student would follow it (``Sequential._batch``)::

    ids (batch, steps) --Embedding--> vectors (batch, steps, dim) --GlobalAveragePooling1D-->
      pooled (batch, dim) --Dense relu--> hidden --Dense--> logits z (batch, 1)
      --sigmoid + BCE--> loss;   d loss / d z = (sigmoid(z) - y) / batch
    backward runs the layers in reverse, each adding into its grads (zeroed first); the optimizer updates
    every weight.

With ``set_kernels("numpy")`` exactly those layers run, each its own forward and backward. With the
Numba kernels (the default) a leading Embedding + GlobalAveragePooling1D runs as one fused step over
packed ids (npembed.fused), and the closing Dense -> Dense(1, sigmoid) -> cross-entropy as one kernel
(npembed.head); both compute the same numbers, and ``summary()`` says so. With Adam, the fused step's
backward kernel also applies Adam to the embedding table, and the optimizer's step skips it (the
same numbers again: see Optimizer.fused_update).
compile / fit / evaluate / predict come from npembed.trainer; files are npembed.saving.
"""
import numpy as np

from . import _checks, fused, head, losses, saving, trainer
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
        # decided once, here: a Dense(sigmoid) output and the cross-entropy run as one piece on the logit
        self._loss_reads_logits = losses.reads_logits(self.layers[-1])
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

    # ---- one batch ----------------------------------------------------------------------------
    def _forward_body(self, x, training=False):
        """Run every stage but the last: (its input, the mask reaching it)."""
        mask = None
        for stage in self._stages[:-1]:
            x, mask = stage.forward(x, mask, training), stage.compute_mask(x, mask)
        return x, mask

    def _batch(self, x, y, backward, optimizer=None):
        """(loss, accuracy, done) of a checked batch; with backward, grads become the batch's gradients.

        Raises FloatingPointError, before any weight changes and with every gradient 0, when the
        loss or a gradient passed between layers is not finite.
        optimizer (training): when it has a fused form (Adam), the fused embedding's kernel also
        applies its coming step to the table, right after the table's gradient (npembed.fused); done
        maps the table's key to the entries that step left non-finite, for optimizer.step ({} else).
        """
        if backward:                         # the backward passes below add into zeroed gradients
            for stage in self._stages:       # (the fused embedding zeroes its own inside its kernel)
                stage.zero_grads(in_backward=True)
        h, mask = self._forward_body(x, training=backward)
        last = self._stages[-1]
        if isinstance(last, head.DenseHead):      # Numba: the same head, loss and backward in one kernel
            loss, accuracy, d = last.loss_step(h, y, backward)
        elif self._loss_reads_logits:        # sigmoid + BCE as one piece: d loss/dz = (sigmoid(z) - y) / batch
            z = last.forward_logits(h)
            loss, d = losses.binary_crossentropy_from_logits(y, z)
            accuracy = losses.binary_accuracy(y, z, threshold=0.0)      # p > 0.5  <=>  z > 0
        else:
            p = last.forward(h, mask, backward)
            loss, d = losses.binary_crossentropy(y, p)
            accuracy = losses.binary_accuracy(y, p, threshold=0.5)
        done = {}
        if not backward:
            return loss, accuracy, done
        if not np.isfinite(loss):
            self._stop(f"the loss became {loss} (learning rate too high?); training stopped and the "
                       "weights are those from before this batch")
        if not isinstance(last, head.DenseHead):
            d = last.backward_logits(d) if self._loss_reads_logits else last.backward(d)
        for stage in reversed(self._stages[:-1]):
            if not np.isfinite(d).all():
                self._stop("a gradient became non-finite (weights too large?); training stopped and "
                           "the weights are those from before this batch")
            key, update = self._fused_update(stage, optimizer)
            if update is None:
                d = stage.backward(d)
            else:
                done[key], d = stage.backward_and_update(d, update), None
        return loss, accuracy, done

    def _fused_update(self, stage, optimizer):
        """(key, update): a stage's weight whose optimizer step its backward kernel can apply, and the
        step (Optimizer.fused_update); (None, None) for any other stage or optimizer."""
        if optimizer is None or not isinstance(stage, fused.EmbeddingMean) or not stage.embedding.trainable:
            return None, None
        key = f"{stage.embedding.name}/embeddings"      # every weight has the model's dtype: checking
        return key, optimizer.fused_update({key: self.params[key]}, key)      # the table's checks them all

    def _stop(self, message):
        """Raise FloatingPointError(message), every gradient set to 0 first (none is this batch's)."""
        for stage in self._stages:
            stage.zero_grads()
        raise FloatingPointError(message)

    def _outputs(self, x, logits=False):
        """Outputs of a checked batch; logits=True: the last layer before its activation."""
        h, mask = self._forward_body(x)
        last = self._stages[-1]
        if not logits:
            return last.forward(h, mask)
        if not hasattr(last, "forward_logits"):
            raise TypeError(f"logits need a model whose last layer is Dense, not {type(last).__name__}")
        return last.forward_logits(h)

    def _prepare(self, x):
        """Fix what runs (npembed.fused.stages) and return the source batches are taken from."""
        self._stages = fused.stages(self.layers)
        first = self._stages[0]
        return first.pack(x) if isinstance(first, fused.EmbeddingMean) else trainer.Rows(x)

    # ---- checks at the boundary ----------------------------------------------------------------
    def _check_x(self, x):
        x = _checks.as_array("x", x)
        if not self.built:
            if x.ndim < 2:
                raise ValueError(f"x must have a batch axis and at least one more, got shape {x.shape}")
            if isinstance(self.layers[0] if self.layers else None, Embedding):
                x = self.layers[0].check_input(x)         # ids are checked before their shape builds the model
            self.build((None,) + x.shape[1:])
        return self.layers[0].check_input(x)

    def _check_xy(self, x, y):
        """For training and evaluation: a compiled model with one output, x, and 0/1 labels (n, 1)."""
        self._require_compiled()
        x = self._check_x(x)
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
    how = {fused.EmbeddingMean: "run as one fused step over packed ids (npembed.fused).",
           head.DenseHead: "and the loss run as one kernel (npembed.head)."}
    notes = [f"{stage.name} {how[type(stage)]}" for stage in fused.stages(model.layers) if type(stage) in how]
    if notes:            # fused.stages fuses only with the Numba kernels
        rows += notes + ["(With the Numba kernels; set_kernels('numpy') runs every layer one by one.)"]
    return "\n".join(rows)

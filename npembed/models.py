"""Sequential: a Keras-like model (compile / fit / evaluate / predict / summary / save).

One training step, as a student would follow it::

    ids (batch, steps) --Embedding+mean--> pooled (batch, dim) --Dense relu--> hidden
      --Dense--> logits (batch, 1) --sigmoid + BCE--> loss;   d loss/d logits = (p - y) / batch
    backward runs the layers in reverse, each adding into its grads; Adam updates every weight.

When GlobalAveragePooling1D directly follows an Embedding, the two run as one fused step
(``Embedding.forward_mean``): the same mean, without materialising (batch, steps, dim).
"""
import contextlib
import json
import signal
import threading
import time
import zipfile

import numpy as np

from . import _checks, _threads, kernels, losses, optimizers
from ._io import atomic_write
from .layers import LAYERS, Dense, Embedding, GlobalAveragePooling1D, Layer

FORMAT = "npembed.Sequential"
FORMAT_VERSION = 1


class History:
    """What fit returns: ``history`` maps "loss", "accuracy", "val_loss", ... to one value per epoch."""

    def __init__(self, params):
        self.params = params
        self.epoch = []
        self.history = {}
        self.epoch_seconds = []

    def append(self, epoch, logs, seconds):
        self.epoch.append(epoch)
        self.epoch_seconds.append(seconds)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)


class _PooledEmbedding:
    """Embedding followed by GlobalAveragePooling1D, run as one step (see Embedding.forward_mean)."""

    def __init__(self, embedding):
        self.embedding = embedding

    def compute_mask(self, ids, mask):
        return None

    def forward(self, ids, mask=None):
        return self.embedding.forward_mean(ids)

    def backward(self, d_pooled):
        return self.embedding.backward_mean(d_pooled)


class _HeldInterrupts:
    """Holds Ctrl-C (SIGINT) while the weights are being updated: each weight gets the update, or none.

    ``with held.installed():`` puts a handler in place once around a training loop; inside it,
    ``with held:`` marks one update (two attribute writes, so it costs nothing per batch).
    Ctrl-C outside an update reaches the previous handler at once (KeyboardInterrupt by default);
    during an update, right after it. Outside ``installed`` (or off the main thread) nothing is held.
    """

    def __init__(self):
        self.previous = None                 # the handler to deliver to; None when not installed
        self.updating = False
        self.pending = None                  # (signum, frame) of a held Ctrl-C

    def _handle(self, signum, frame):
        if self.updating:
            self.pending = (signum, frame)
        else:
            self._deliver(signum, frame)

    def _deliver(self, signum, frame):
        if callable(self.previous):
            self.previous(signum, frame)
        elif self.previous != signal.SIG_IGN:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def installed(self):
        previous = signal.getsignal(signal.SIGINT)
        if self.previous is not None or previous is None or \
                threading.current_thread() is not threading.main_thread():
            yield                            # already installed (nested), or cannot be
            return
        self.previous = previous
        signal.signal(signal.SIGINT, self._handle)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)
            self.previous, self.pending = None, None

    def __enter__(self):                     # ``with held:`` marks one update
        self.updating = True

    def __exit__(self, *exc):
        self.updating = False
        if self.pending is not None:
            pending, self.pending = self.pending, None
            self._deliver(*pending)
        return False


def _snake_case(name):
    out = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    return out.replace("1_d", "1d")


class Sequential:
    """A linear stack of layers trained with one optimizer.

    >>> model = Sequential([Embedding(10000, 16), GlobalAveragePooling1D(),
    ...                     Dense(16, activation="relu"), Dense(1, activation="sigmoid")], seed=0)
    >>> model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])

    seed: seeds the model's own numpy.random.Generator (initial weights, then the shuffling);
    None draws a fresh seed, kept in ``model.seed`` so the run can be repeated.
    dtype: "float32" (default) or "float64" (gradient checks).
    """

    def __init__(self, layers=None, seed=None, dtype="float32", name="sequential"):
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
        self.optimizer = None
        self.loss = None
        self.metrics = []
        self.stop_training = False
        self._held_interrupts = _HeldInterrupts()
        for layer in layers or []:
            self.add(layer)

    # ---------------------------------------------------------------------------------------
    # Structure
    # ---------------------------------------------------------------------------------------
    def add(self, layer):
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential takes npembed layers, got {layer!r}")
        if self.built:
            raise RuntimeError("cannot add a layer to a model that is already built")
        if any(layer is other for other in self.layers):
            raise ValueError(f"layer {layer!r} is already in the model")
        if layer.name is None:
            base = _snake_case(type(layer).__name__)
            taken = {other.name for other in self.layers}
            layer.name = base
            count = 0
            while layer.name in taken:
                count += 1
                layer.name = f"{base}_{count}"
        self.layers.append(layer)

    def build(self, input_shape=(None, None)):
        """Create every layer's weights, in order, from the model's generator."""
        if not self.layers:
            raise ValueError("the model has no layers")
        if self.built:
            return
        shape = tuple(input_shape)
        self._input_shape = shape
        self._output_shapes = []
        for layer in self.layers:
            layer.build(shape, self.rng, self.dtype)
            shape = layer.output_shape(shape)
            self._output_shapes.append(shape)
        first, second = self.layers[0], (self.layers[1] if len(self.layers) > 1 else None)
        if isinstance(first, Embedding) and isinstance(second, GlobalAveragePooling1D):
            self._steps = [_PooledEmbedding(first)] + self.layers[2:]
        else:
            self._steps = list(self.layers)
        # one flat dict of named weights for the optimizer: "dense/kernel", ...
        self._params = {f"{layer.name}/{key}": value
                        for layer in self.layers for key, value in layer.params.items()}
        self._grads = {f"{layer.name}/{key}": value
                       for layer in self.layers for key, value in layer.grads.items()}
        self.built = True

    def count_params(self):
        self._require_built()
        return sum(layer.count_params() for layer in self.layers)

    def summary(self, print_fn=print):
        """Print a Keras-like table: layer (type), output shape, parameter count, then totals."""
        if not self.built:
            if not isinstance(self.layers[0] if self.layers else None, Embedding):
                raise ValueError("summary() needs a built model: call model.build(input_shape) first")
            self.build()
        width = (52, 20, 10)
        rule, double = "_" * sum(width), "=" * sum(width)
        rows = [f'Model: "{self.name}"', rule,
                f"{'Layer (type)':<{width[0]}}{'Output Shape':<{width[1]}}{'Param #':<{width[2]}}", double]
        for i, (layer, shape) in enumerate(zip(self.layers, self._output_shapes)):
            label = f"{layer.name} ({type(layer).__name__})"
            rows.append(f"{label:<{width[0]}}{str(shape):<{width[1]}}{layer.count_params():<{width[2]}}")
            rows.append(double if i == len(self.layers) - 1 else rule)
        total = self.count_params()
        rows += [f"Total params: {total:,}", f"Trainable params: {total:,}", "Non-trainable params: 0", rule]
        print_fn("\n".join(rows))

    # ---------------------------------------------------------------------------------------
    # Compile
    # ---------------------------------------------------------------------------------------
    def compile(self, optimizer="adam", loss="binary_crossentropy", metrics=None):
        self.optimizer = optimizers.get(optimizer)
        if loss not in losses.LOSSES:
            raise ValueError(f"unknown loss {loss!r}; supported: {list(losses.LOSSES)}")
        metrics = list(metrics or [])
        for metric in metrics:
            if metric not in losses.METRICS:
                raise ValueError(f"unknown metric {metric!r}; supported: {list(losses.METRICS)}")
        self.loss = loss
        self.metrics = metrics
        last = self.layers[-1] if self.layers else None
        # Like Keras: BCE on a sigmoid output is computed from the logit, stable for any logit.
        self._from_logits = isinstance(last, Dense) and last.activation == "sigmoid"

    # ---------------------------------------------------------------------------------------
    # One batch: forward, loss, backward, update
    # ---------------------------------------------------------------------------------------
    def _forward(self, x, for_loss=False):
        """The model's output for x; with for_loss=True, what the loss reads: the last layer's
        logits when the loss works from logits (its sigmoid is then never evaluated)."""
        from_logits = for_loss and self._from_logits
        mask = None
        for step in self._steps[:-1] if from_logits else self._steps:
            next_mask = step.compute_mask(x, mask)
            x = step.forward(x, mask)
            mask = next_mask
        return self._steps[-1].forward_logits(x) if from_logits else x

    def _loss(self, y, scores):
        """(loss, accuracy, d loss / d scores) for scores = _forward(x, for_loss=True)."""
        if self._from_logits:
            loss, d = losses.binary_crossentropy_from_logits(y, scores)
            accuracy = losses.binary_accuracy(y, scores, 0.0)     # p > 0.5  <=>  z > 0
        else:
            loss, d = losses.binary_crossentropy(y, scores)
            accuracy = losses.binary_accuracy(y, scores, 0.5)
        return loss, accuracy, d

    def _backward(self, d):
        """Gradients into every layer's grads, last layer first. A gradient passed between layers
        that is not finite raises FloatingPointError: the weights are then still untouched."""
        steps = self._steps
        if self._from_logits:
            d = steps[-1].backward_logits(d)
            steps = steps[:-1]
        for step in reversed(steps):
            if not np.isfinite(d).all():
                raise FloatingPointError(
                    "a gradient became non-finite (weights too large?); training stopped and the "
                    "weights are those from before this batch")
            d = step.backward(d)

    @contextlib.contextmanager
    def _training(self):
        """Around training: Ctrl-C never splits an update, and BLAS leaves the cores to the kernels."""
        with self._held_interrupts.installed(), _threads.blas_single_threaded():
            yield

    def _train_step(self, x, y):
        for grad in self._grads.values():
            grad.fill(0)
        loss, accuracy, d = self._loss(y, self._forward(x, for_loss=True))
        if not np.isfinite(loss):
            raise FloatingPointError(
                f"the loss became {loss} (learning rate too high?); training stopped and the "
                "weights are those from before this batch")
        self._backward(d)
        with self._held_interrupts:             # every weight gets this update, or none does
            self.optimizer.step(self._params, self._grads)
        return loss, accuracy

    # ---------------------------------------------------------------------------------------
    # Public training and inference
    # ---------------------------------------------------------------------------------------
    def _check_x(self, x):
        x = _checks.as_array("x", x)
        if not self.built:
            if x.ndim < 2:
                raise ValueError(f"x must have a batch axis and at least one more, got shape {x.shape}")
            self.build((None,) + x.shape[1:])
        return self.layers[0].check_input(x)

    def _check_xy(self, x, y):
        """For training and evaluation: a compiled model with one output, x, and 0/1 labels (n, 1)."""
        self._require_compiled()
        x = self._check_x(x)
        if self._output_shapes[-1][1:] != (1,):
            raise ValueError("binary_crossentropy needs one output per sample, but the model's "
                             f"output shape is {self._output_shapes[-1]}")
        return x, _checks.binary_labels("y", y, len(x), self.dtype)

    def _require_built(self):
        if not self.built:
            raise RuntimeError("the model is not built yet: call build(input_shape), fit or predict")

    def _require_compiled(self):
        if self.optimizer is None:
            raise RuntimeError("the model must be compiled before training or evaluating: "
                               "call model.compile(optimizer='adam', loss='binary_crossentropy')")

    def train_on_batch(self, x, y):
        """One update on (x, y); returns [loss, accuracy] of the batch before the update."""
        x, y = self._check_xy(x, y)
        with self._training():
            return list(self._train_step(x, y))

    def fit(self, x, y, epochs=1, batch_size=32, validation_split=0.0, validation_data=None,
            shuffle=True, verbose=1, callbacks=None):
        """Train for ``epochs``; returns a History. Keras's semantics for validation_split."""
        self._require_compiled()
        epochs = _checks.positive_int("epochs", epochs, minimum=0)
        batch_size = _checks.positive_int("batch_size", batch_size)
        validation_split = _checks.finite_float("validation_split", validation_split,
                                                low=0, high=1, high_open=True)
        x, y = self._check_xy(x, y)
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("validation_data must be a tuple (x_val, y_val)")
            x_val, y_val = self._check_xy(*validation_data)
        elif validation_split > 0:
            # Keras: the LAST fraction is held out, before any shuffling
            split_at = int(len(x) * (1 - validation_split))
            if split_at < 1 or split_at >= len(x):
                raise ValueError(f"validation_split={validation_split} leaves "
                                 f"{split_at} training and {len(x) - split_at} validation samples "
                                 f"out of {len(x)}; both need at least one")
            x, x_val, y, y_val = x[:split_at], x[split_at:], y[:split_at], y[split_at:]
        else:
            x_val = y_val = None
        train_source = self._batchable(x)
        val_source = None if x_val is None else self._batchable(x_val)
        callbacks = list(callbacks or [])
        history = History({"epochs": epochs, "batch_size": batch_size, "samples": len(x)})
        self.history = history
        self.stop_training = False
        for callback in callbacks:
            if hasattr(callback, "set_model"):
                callback.set_model(self)
        self._call(callbacks, "on_train_begin", {})
        with self._training():
            for epoch in range(epochs):
                self._call(callbacks, "on_epoch_begin", epoch, {})
                started = time.perf_counter()
                loss_sum, accuracy_sum, seen = self._train_epoch(train_source, y, batch_size, shuffle,
                                                                 callbacks)
                if seen == 0:
                    break
                logs = {"loss": loss_sum / seen}
                if "accuracy" in self.metrics:
                    logs["accuracy"] = accuracy_sum / seen
                if val_source is not None:
                    val = self._evaluate(val_source, y_val, batch_size)
                    logs["val_loss"] = val[0]
                    if "accuracy" in self.metrics:
                        logs["val_accuracy"] = val[1]
                seconds = time.perf_counter() - started
                history.append(epoch, logs, seconds)
                if verbose:
                    shown = " - ".join(f"{key}: {value:.4f}" for key, value in logs.items())
                    print(f"Epoch {epoch + 1}/{epochs} - {seconds:.3f}s - {shown}", flush=True)
                self._call(callbacks, "on_epoch_end", epoch, logs)
                if self.stop_training:
                    break
        self._call(callbacks, "on_train_end", {})
        return history

    def _train_epoch(self, source, y, batch_size, shuffle, callbacks):
        """One pass over the training data in a fresh order: (loss sum, accuracy sum, samples seen),
        the sums weighted by batch size. Stops early when a callback sets ``stop_training``."""
        order = self.rng.permutation(len(y)) if shuffle else np.arange(len(y))
        loss_sum = accuracy_sum = 0.0
        seen = 0
        for batch, start in enumerate(range(0, len(y), batch_size)):
            rows = order[start:start + batch_size]
            try:
                loss, accuracy = self._train_step(self._take(source, rows), y[rows])
            except FloatingPointError:
                # the update was not applied; a TerminateOnNaN callback turns this into a stop
                self._call(callbacks, "on_batch_end", batch,
                           {"loss": float("nan"), "accuracy": float("nan"), "size": len(rows)})
                if not self.stop_training:
                    raise
                break
            loss_sum += loss * len(rows)
            accuracy_sum += accuracy * len(rows)
            seen += len(rows)
            if callbacks:
                self._call(callbacks, "on_batch_end", batch,
                           {"loss": loss, "accuracy": accuracy, "size": len(rows)})
                if self.stop_training:
                    break
        return loss_sum, accuracy_sum, seen

    @staticmethod
    def _call(callbacks, hook, *args):
        for callback in callbacks:
            method = getattr(callback, hook, None)
            if method is not None:
                method(*args)

    def _batchable(self, x):
        """Where batches are taken from: for the fused first step, the ids packed once without padding."""
        return kernels.Bags.from_padded(x, self.dtype) if isinstance(self._steps[0], _PooledEmbedding) else x

    @staticmethod
    def _take(source, rows):
        return source.take(rows) if isinstance(source, kernels.Bags) else source[rows]

    def _batches(self, source, batch_size):
        """Consecutive (rows, batch) pairs of a source, in order."""
        for start in range(0, len(source), batch_size):
            rows = np.arange(start, min(start + batch_size, len(source)))
            yield rows, self._take(source, rows)

    def _evaluate(self, source, y, batch_size):
        loss_sum = accuracy_sum = 0.0
        for rows, xb in self._batches(source, batch_size):
            loss, accuracy, _ = self._loss(y[rows], self._forward(xb, for_loss=True))
            loss_sum += loss * len(rows)
            accuracy_sum += accuracy * len(rows)
        return [loss_sum / len(y), accuracy_sum / len(y)]

    def evaluate(self, x, y, batch_size=32):
        """[loss, accuracy] over (x, y), batch-size-weighted means (just [loss] without metrics)."""
        self._require_compiled()
        batch_size = _checks.positive_int("batch_size", batch_size)
        x, y = self._check_xy(x, y)
        with _threads.blas_single_threaded():
            result = self._evaluate(self._batchable(x), y, batch_size)
        return result if "accuracy" in self.metrics else result[:1]

    def predict(self, x, batch_size=32):
        """Model outputs for x, shape (n, units of the last layer)."""
        batch_size = _checks.positive_int("batch_size", batch_size)
        source = self._batchable(self._check_x(x))
        with _threads.blas_single_threaded():
            return np.concatenate([self._forward(xb).copy() for _, xb in self._batches(source, batch_size)])

    # ---------------------------------------------------------------------------------------
    # Weights and files
    # ---------------------------------------------------------------------------------------
    def get_weights(self):
        """Copies of every weight in Keras order: [embeddings, kernel, bias, kernel, bias]."""
        self._require_built()
        return [value.copy() for value in self._params.values()]

    def set_weights(self, weights):
        """Replace every weight (same count, shapes as get_weights); values are copied in place."""
        self._require_built()
        weights = list(weights)
        if len(weights) != len(self._params):
            raise ValueError(f"set_weights expects {len(self._params)} arrays "
                             f"({list(self._params)}), got {len(weights)}")
        checked = []
        for (key, current), new in zip(self._params.items(), weights):
            new = _checks.float_array(f"weight {key!r}", new, self.dtype)
            if new.shape != current.shape:
                raise ValueError(f"weight {key!r} must have shape {current.shape}, got {new.shape}")
            checked.append(new)
        for current, new in zip(self._params.values(), checked):
            current[...] = new

    def get_config(self):
        self._require_built()
        config = {
            "format": FORMAT, "version": FORMAT_VERSION, "name": self.name,
            "seed": self.seed, "dtype": self.dtype.name,
            "input_shape": list(self._input_shape),
            "layers": [{"class": type(layer).__name__, "config": layer.get_config()}
                       for layer in self.layers],
            "weights": [[key, list(value.shape)] for key, value in self._params.items()],
            "rng_state": self.rng.bit_generator.state,
            "compile": None,
        }
        if self.optimizer is not None:
            config["compile"] = {"optimizer": {"class": type(self.optimizer).__name__,
                                               "config": self.optimizer.get_config(),
                                               "iterations": self.optimizer.iterations},
                                 "loss": self.loss, "metrics": self.metrics}
        return config

    def save(self, path):
        """Write one .npz: every weight, the optimizer state, and a JSON config. Atomic."""
        arrays = {f"weights/{key}": value for key, value in self._params.items()}
        config = self.get_config()
        if self.optimizer is not None:
            arrays.update({f"optimizer/{key}": value for key, value in self.optimizer.state()[1].items()})
        arrays["config"] = np.frombuffer(json.dumps(config).encode("utf-8"), dtype=np.uint8)
        with atomic_write(path) as handle:
            np.savez(handle, **arrays)


def load_model(path):
    """Read a model written by Sequential.save; never unpickles. Predictions are reproduced exactly."""
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path} is not an npembed model file (.npz): {error}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path} is not an npembed model file: it holds a single array, not an .npz")
    with archive:
        try:
            return _model_from_archive(archive)
        except (KeyError, ValueError, TypeError, EOFError, OSError, zipfile.BadZipFile,
                json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{path} is not a valid npembed model file: {error}") from None


MAX_CONFIG_BYTES = 1 << 20


def _member_header(archive, name):
    """(shape, dtype, member size) of an .npz member, from its header only: nothing big is read."""
    info = archive.zip.getinfo(f"{name}.npy")
    with archive.zip.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"member {name!r} has an unsupported .npy version {version}")
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read_header(member, max_header_size=10_000)
        return shape, dtype, info.file_size - member.tell()


def _check_declared_arrays(archive, config):
    """Every weight member must have the declared shape and really hold that many bytes.

    A file that declares huge arrays without containing them is refused before any allocation.
    """
    for key, shape in config["weights"]:
        declared = tuple(int(n) for n in shape)
        member_shape, dtype, stored = _member_header(archive, f"weights/{key}")
        if member_shape != declared:
            raise ValueError(f"weight {key!r} is stored with shape {member_shape}, but the config "
                             f"declares {declared}")
        if dtype.hasobject or stored < int(np.prod(declared, dtype=np.float64)) * dtype.itemsize:
            raise ValueError(f"weight {key!r} declares {declared} {dtype} but its member holds "
                             f"only {stored} bytes")


def _check_layers_match(layers, shapes):
    """The layers' sizes must be those of the stored weights, so building allocates nothing more."""
    expected = []
    for layer in layers:
        if isinstance(layer, Embedding):
            expected.append((layer.input_dim, layer.output_dim))
        elif isinstance(layer, Dense):
            fan_in = shapes[len(expected)][0] if len(expected) < len(shapes) else None
            expected += [(fan_in, layer.units), (layer.units,)]
    if expected != shapes:
        raise ValueError(f"the layers declare weights of shapes {expected}, the file holds {shapes}")


def _model_from_archive(archive):
    if _member_header(archive, "config")[2] > MAX_CONFIG_BYTES:
        raise ValueError("its config is larger than any npembed config")
    config = json.loads(bytes(archive["config"]).decode("utf-8"))
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError("its config does not name the npembed.Sequential format")
    if config.get("version") != FORMAT_VERSION:
        raise ValueError(f"format version {config.get('version')!r} is not supported")
    _check_declared_arrays(archive, config)
    layers = []
    for entry in config["layers"]:
        if entry["class"] not in LAYERS:
            raise ValueError(f"unknown layer class {entry['class']!r}")
        layers.append(LAYERS[entry["class"]](**entry["config"]))
    _check_layers_match(layers, [tuple(shape) for _, shape in config["weights"]])
    model = Sequential(layers, seed=config["seed"], dtype=config["dtype"], name=config["name"])
    model.build(tuple(config["input_shape"]))
    names = [key for key, _ in config["weights"]]
    if names != list(model._params):
        raise ValueError(f"weight names {names} do not match the layers {list(model._params)}")
    model.set_weights([archive[f"weights/{key}"] for key in names])
    model.rng.bit_generator.state = config["rng_state"]
    compiled = config.get("compile")
    if compiled:
        optimizer = optimizers.OPTIMIZERS[compiled["optimizer"]["class"].lower()](
            **compiled["optimizer"]["config"])
        model.compile(optimizer, compiled["loss"], compiled["metrics"])
        optimizer.iterations = _checks.positive_int("iterations", compiled["optimizer"]["iterations"], 0)
        if optimizer.iterations:
            for slot in ("m", "v"):
                state = {}
                for key, value in model._params.items():
                    array = archive[f"optimizer/{slot}/{key}"]
                    if array.shape != value.shape or array.dtype != value.dtype:
                        raise ValueError(f"optimizer slot {slot}/{key} has shape {array.shape} "
                                         f"{array.dtype}, expected {value.shape} {value.dtype}")
                    state[key] = array.copy()
                setattr(optimizer, slot, state)
    return model


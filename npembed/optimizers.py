"""Optimizers in their Keras forms (Adam, SGD, RMSprop): one object steps over all named weights.

``step(params, grads)`` updates every ``params[key]`` in place from ``grads[key]``. Each optimizer
keeps per-weight state ("slots": Adam's m and v, RMSprop's velocity, ...) keyed like the weights,
created the first time a weight is stepped, so a layer frozen or unfrozen later just works.
The arithmetic of each update is a kernel in npembed.kernels.updates, beside its NumPy reference.
"""
import functools
import math

import numpy as np

from . import _checks, kernels

_LARGEST = {}                        # dtype -> its largest finite value (np.finfo is slow to ask)


def _largest(dtype):
    if dtype not in _LARGEST:
        _LARGEST[dtype] = float(np.finfo(dtype).max)
    return _LARGEST[dtype]


@functools.lru_cache(maxsize=64)
def _rounds_to_zero(dtype, value):
    """True when the number value is 0 in dtype (epsilon=1e-50 in float32); asked at every step."""
    return bool(dtype.type(value) == 0)


class Optimizer:
    """Base class: the step scaffold, the checks and the state shared by every optimizer.

    A subclass gives ``slot_names()``, ``scalars(t)`` (the step's numbers, as floats) and
    ``update(w, g, slots, scalars)`` (returns how many entries of w became non-finite).
    """

    nonnegative = ()                 # slots that can never be negative (checked when state is set)
    positive = ()                    # scalars that must stay > 0 in the weights' dtype

    def __init__(self, learning_rate):
        self.learning_rate = _checks.finite_float("learning_rate", learning_rate, low=0, low_open=True)
        self.iterations = 0
        self.state = {}                          # slot name -> {weight key: array}

    def slot_names(self):
        """Names of the per-weight state arrays, e.g. ("m", "v")."""
        return ()

    def step(self, params, grads):
        """Update every params[key] in place from grads[key]; keys name the model's weights.

        Raises ValueError before any change when a step's number is not usable in the weights'
        dtype (learning_rate=1e300 is inf in float32; epsilon=1e-50 is 0), and FloatingPointError
        after a step that made weights non-finite (they are then unusable).
        """
        scalars = self.scalars(self.iterations + 1)
        self.check_scalars(scalars, {w.dtype for w in params.values()})
        self.iterations += 1
        non_finite = {key: self.update(w, grads[key], self.slots(key, w), scalars) for key, w in params.items()}
        broken = {key: count for key, count in non_finite.items() if count}
        if broken:
            raise FloatingPointError(f"{type(self).__name__} step {self.iterations} made weights non-finite "
                                     f"({broken} entries; learning_rate={self.learning_rate} too high?): the "
                                     "weights are no longer usable; load saved ones or build the model again")

    def check_scalars(self, scalars, dtypes):
        """ValueError unless every number of a step (``scalars(t)``) is finite, and non-zero where it
        divides, in each of the weights' dtypes."""
        for dtype in dtypes:
            for name, value in scalars.items():
                if not abs(value) < _largest(dtype):
                    raise ValueError(f"{self.describe()} gives step {self.iterations + 1} the {name} {value:g}, "
                                     f"which is not a finite {dtype} number")
                if name in self.positive and _rounds_to_zero(dtype, value):
                    raise ValueError(f"{name}={value} is 0 in {dtype}: the update would divide by 0")

    def slots(self, key, w):
        """The state arrays of weight ``key`` (w), in slot_names() order; zeros the first time."""
        arrays = []
        for slot in self.slot_names():
            per_weight = self.state.setdefault(slot, {})
            if key not in per_weight:
                per_weight[key] = np.zeros_like(w)
            arrays.append(per_weight[key])
        return arrays

    def describe(self):
        """The optimizer as it was constructed, e.g. "Adam(learning_rate=0.001, ...)"."""
        return f"{type(self).__name__}({', '.join(f'{k}={v}' for k, v in self.get_config().items())})"

    def get_config(self):
        """The hyperparameters, as the constructor takes them."""
        raise NotImplementedError

    def get_state(self):
        """What resumes training exactly: {"iterations": t, slot: {key: array}, ...}."""
        return {"iterations": self.iterations, **{slot: dict(self.state.get(slot, {}))
                                                  for slot in self.slot_names()}}

    def set_state(self, state, params):
        """Restore a get_state() dict for the weights ``params`` ({key: array}). Every slot is
        checked (keys among the weights, the same keys in every slot, shapes and dtypes of the
        weights, finite, non-negative where it must be) before anything changes. Slots are copied."""
        iterations = _checks.positive_int("iterations", state["iterations"], minimum=0)
        restored, keys = {}, None
        for slot in self.slot_names():
            given = state.get(slot, {}) if iterations else {}
            if not set(given) <= set(params) or (keys is not None and set(given) != keys):
                raise ValueError(f"optimizer slot {slot!r} has weights {sorted(given)}, expected the same "
                                 f"keys in every slot, among {sorted(params)}")
            keys = set(given)
            restored[slot] = {}
            for key, value in given.items():
                array = np.asarray(value)
                if array.shape != params[key].shape or array.dtype != params[key].dtype:
                    raise ValueError(f"optimizer slot {slot}/{key} has shape {array.shape} {array.dtype}, "
                                     f"expected {params[key].shape} {params[key].dtype}")
                nonnegative = slot in self.nonnegative
                if not np.isfinite(array).all() or (nonnegative and (array < 0).any()):
                    raise ValueError(f"optimizer slot {slot}/{key} must be finite" + (" and >= 0" if nonnegative else ""))
                restored[slot][key] = array.copy()
        self.iterations, self.state = iterations, restored


class Adam(Optimizer):
    """Adam (Kingma & Ba) exactly as Keras writes it.

    At step t (1-based): alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t);
    m += (g - m)(1 - beta_1); v += (g^2 - v)(1 - beta_2); w -= alpha * m / (sqrt(v) + epsilon).
    Epsilon sits outside the square root of the uncorrected v (PyTorch puts it on sqrt(v_hat)).
    The update is dense: every entry's m and v decay every step, also embedding rows the batch
    did not touch.
    """

    nonnegative = ("v",)
    positive = ("epsilon",)

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        super().__init__(learning_rate)
        self.beta_1 = _checks.finite_float("beta_1", beta_1, low=0, high=1, high_open=True)
        self.beta_2 = _checks.finite_float("beta_2", beta_2, low=0, high=1, high_open=True)
        self.epsilon = _checks.finite_float("epsilon", epsilon, low=0, low_open=True)  # 0: 0/0 = NaN

    def slot_names(self):
        """("m", "v"): the moving averages of g and g^2."""
        return ("m", "v")

    def scalars(self, t):
        """The step size alpha of step t, and epsilon."""
        return {"step size": self.learning_rate * math.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t),
                "epsilon": self.epsilon}

    def update(self, w, g, slots, scalars):
        """One Keras-form Adam step on w and its m, v (see kernels.adam_update)."""
        m, v = slots
        return kernels.adam_update(w, g, m, v, scalars["step size"], self.beta_1, self.beta_2, self.epsilon)

    def get_config(self):
        """The hyperparameters: {"learning_rate", "beta_1", "beta_2", "epsilon"}."""
        return {"learning_rate": self.learning_rate, "beta_1": self.beta_1,
                "beta_2": self.beta_2, "epsilon": self.epsilon}

    @property
    def m(self):
        """Adam's first moments, {key: array}."""
        return self.state.get("m", {})

    @property
    def v(self):
        """Adam's second moments, {key: array}."""
        return self.state.get("v", {})


class SGD(Optimizer):
    """Stochastic gradient descent, with optional (Nesterov) momentum, as Keras writes it.

    Without momentum: w -= lr g. With momentum: velocity = momentum * velocity - lr g, then
    w += velocity, or with nesterov=True w += momentum * velocity - lr g.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False):
        super().__init__(learning_rate)
        self.momentum = _checks.finite_float("momentum", momentum, low=0, high=1)
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(f"nesterov must be True or False, got {nesterov!r}")
        self.nesterov = bool(nesterov)

    def slot_names(self):
        """("velocity",) with momentum, else none."""
        return ("velocity",) if self.momentum > 0 else ()

    def scalars(self, t):
        """The learning rate (the same at every step)."""
        return {"learning rate": self.learning_rate}

    def update(self, w, g, slots, scalars):
        """One Keras-form SGD step on w (and its velocity); see kernels.sgd_update."""
        velocity = slots[0] if slots else None
        return kernels.sgd_update(w, g, velocity, self.learning_rate, self.momentum, self.nesterov)

    def get_config(self):
        """The hyperparameters: {"learning_rate", "momentum", "nesterov"}."""
        return {"learning_rate": self.learning_rate, "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """RMSprop (Tieleman & Hinton) as Keras writes it; epsilon inside the square root.

    velocity = rho * velocity + (1 - rho) g^2; increment = lr g / sqrt(velocity + epsilon)
    (centered: sqrt(velocity - average_g^2 + epsilon), average_g = rho * average_g + (1 - rho) g);
    with momentum: moment = momentum * moment + increment, w -= moment; else w -= increment.
    """

    nonnegative = ("velocity",)
    positive = ("epsilon",)

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False):
        super().__init__(learning_rate)
        self.rho = _checks.finite_float("rho", rho, low=0, high=1)
        self.momentum = _checks.finite_float("momentum", momentum, low=0, high=1)
        self.epsilon = _checks.finite_float("epsilon", epsilon, low=0, low_open=True)
        if not isinstance(centered, (bool, np.bool_)):
            raise TypeError(f"centered must be True or False, got {centered!r}")
        self.centered = bool(centered)

    def slot_names(self):
        """("velocity",) plus "moment" with momentum and "average_gradient" when centered."""
        return ("velocity",) + (("moment",) if self.momentum > 0 else ()) + \
            (("average_gradient",) if self.centered else ())

    def scalars(self, t):
        """The learning rate and epsilon (the same at every step)."""
        return {"learning rate": self.learning_rate, "epsilon": self.epsilon}

    def update(self, w, g, slots, scalars):
        """One Keras-form RMSprop step on w and its slots; see kernels.rmsprop_update."""
        named = dict(zip(self.slot_names(), slots))
        return kernels.rmsprop_update(w, g, named["velocity"], named.get("moment"), named.get("average_gradient"),
                                      self.learning_rate, self.rho, self.momentum, self.epsilon)

    def get_config(self):
        """The hyperparameters: {"learning_rate", "rho", "momentum", "epsilon", "centered"}."""
        return {"learning_rate": self.learning_rate, "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


OPTIMIZERS = {"adam": Adam, "sgd": SGD, "rmsprop": RMSprop}


def get(optimizer):
    """An optimizer from a name ("adam", "sgd", "rmsprop", with default settings) or an instance."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str) and optimizer.lower() in OPTIMIZERS:
        return OPTIMIZERS[optimizer.lower()]()
    raise ValueError(f"unknown optimizer {optimizer!r}; use one of {sorted(OPTIMIZERS)} or an instance "
                     "such as npembed.optimizers.RMSprop(learning_rate=0.001)")

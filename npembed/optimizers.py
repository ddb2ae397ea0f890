"""Adam in the Keras form: one optimizer object stepping over all named parameters of a model."""
import numpy as np

from . import _checks, kernels


class Adam:
    """Adam (Kingma & Ba) exactly as Keras writes it.

    At step t (1-based): alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t);
    m += (g - m)(1 - beta_1); v += (g^2 - v)(1 - beta_2); w -= alpha * m / (sqrt(v) + epsilon).
    Epsilon sits outside the square root of the uncorrected v (PyTorch puts it on sqrt(v_hat)).
    The update is dense: every entry's m and v decay every step, also embedding rows the batch
    did not touch.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        self.learning_rate = _checks.finite_float("learning_rate", learning_rate, low=0, low_open=True)
        self.beta_1 = _checks.finite_float("beta_1", beta_1, low=0, high=1, high_open=True)
        self.beta_2 = _checks.finite_float("beta_2", beta_2, low=0, high=1, high_open=True)
        self.epsilon = _checks.finite_float("epsilon", epsilon, low=0, low_open=True)  # 0: 0/0 = NaN
        self.iterations = 0
        self.m = {}
        self.v = {}

    def step(self, params, grads):
        """Update every params[key] in place from grads[key]; keys name the model's weights.

        Raises ValueError before any change when a step size or epsilon is not a usable number in
        the weights' dtype (learning_rate=1e300 is inf in float32; epsilon=1e-50 is 0), and
        FloatingPointError after a step that made weights non-finite (they are then unusable).
        """
        t = self.iterations + 1
        alpha = self.learning_rate * np.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)
        for dtype in {w.dtype for w in params.values()}:
            if not abs(alpha) < np.finfo(dtype).max:
                raise ValueError(f"learning_rate={self.learning_rate} gives step {t} the size "
                                 f"{alpha:g}, which is not a finite {dtype} number")
            if dtype.type(self.epsilon) == 0:
                raise ValueError(f"epsilon={self.epsilon} is 0 in {dtype}: m / (sqrt(v) + 0) would be 0/0")
        if not self.m:
            self.m = {key: np.zeros_like(value) for key, value in params.items()}
            self.v = {key: np.zeros_like(value) for key, value in params.items()}
        self.iterations = t
        non_finite = {key: kernels.adam_update(w, grads[key], self.m[key], self.v[key],
                                               alpha, self.beta_1, self.beta_2, self.epsilon)
                      for key, w in params.items()}
        broken = {key: count for key, count in non_finite.items() if count}
        if broken:
            raise FloatingPointError(f"Adam step {t} made weights non-finite ({broken} entries; "
                                     f"learning_rate={self.learning_rate} too high?): the weights are "
                                     "no longer usable; load saved ones or build the model again")

    def get_config(self):
        """The hyperparameters: {"learning_rate", "beta_1", "beta_2", "epsilon"}."""
        return {"learning_rate": self.learning_rate, "beta_1": self.beta_1,
                "beta_2": self.beta_2, "epsilon": self.epsilon}

    def get_state(self):
        """What resumes training exactly: {"iterations": t, "m": {key: array}, "v": {key: array}}."""
        return {"iterations": self.iterations, "m": dict(self.m), "v": dict(self.v)}

    def set_state(self, state, params):
        """Restore a get_state() dict for the weights ``params`` ({key: array}); every slot is checked
        (keys, shapes and dtypes of params; finite; v >= 0) before anything changes. Slots are copied."""
        iterations = _checks.positive_int("iterations", state["iterations"], minimum=0)
        slots = {"m": {}, "v": {}}
        if iterations:
            for slot in slots:
                given = state[slot]
                if set(given) != set(params):
                    raise ValueError(f"optimizer slot {slot!r} has weights {sorted(given)}, "
                                     f"expected {sorted(params)}")
                for key, value in params.items():
                    array = np.asarray(given[key])
                    if array.shape != value.shape or array.dtype != value.dtype:
                        raise ValueError(f"optimizer slot {slot}/{key} has shape {array.shape} "
                                         f"{array.dtype}, expected {value.shape} {value.dtype}")
                    if not np.isfinite(array).all() or (slot == "v" and (array < 0).any()):
                        raise ValueError(f"optimizer slot {slot}/{key} must be finite"
                                         + (" and >= 0" if slot == "v" else ""))
                    slots[slot][key] = array.copy()
        self.iterations, self.m, self.v = iterations, slots["m"], slots["v"]


OPTIMIZERS = {"adam": Adam}


def get(optimizer):
    """An optimizer from a name ("adam") or an instance."""
    if isinstance(optimizer, Adam):
        return optimizer
    if isinstance(optimizer, str) and optimizer.lower() in OPTIMIZERS:
        return OPTIMIZERS[optimizer.lower()]()
    raise ValueError(f"unknown optimizer {optimizer!r}; use 'adam' or npembed.optimizers.Adam(...)")

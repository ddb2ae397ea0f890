"""The optimizers' updates (Adam, SGD, RMSprop in their Keras forms) and the plain Embedding's
scatter-add: each Numba kernel beside its NumPy reference, and the dispatch functions that
npembed.optimizers and npembed.layers call (they never know which implementation ran).

Kernels trust their inputs: C-contiguous arrays of matching shapes and dtypes. The optimizers and
layers check all of that before calling anything here.
"""
import functools

import numba
import numpy as np

from .switch import get_kernels


# --------------------------------------------------------------------------------------------
# Backward of the plain lookup (Embedding used without pooling): scatter-add of (batch, steps, dim).
# --------------------------------------------------------------------------------------------

def scatter_add_reference(ids, d_vectors, d_embeddings):
    """NumPy reference: d_embeddings[ids[i, t]] += d_vectors[i, t] for every (i, t), in place."""
    np.add.at(d_embeddings, ids, d_vectors)


@numba.njit(cache=True, nogil=True)
def _scatter_add_numba(ids, d_vectors, d_embeddings):
    batch, steps = ids.shape
    dim = d_embeddings.shape[1]
    for i in range(batch):
        for t in range(steps):
            k = ids[i, t]
            for j in range(dim):
                d_embeddings[k, j] += d_vectors[i, t, j]


# --------------------------------------------------------------------------------------------
# Adam, Keras form, dense: every entry's m and v decay at every step, fused in one pass.
#   m <- m + (g - m)(1 - beta_1);  v <- v + (g^2 - v)(1 - beta_2);  w <- w - alpha m / (sqrt(v) + eps)
# with alpha = lr sqrt(1 - beta_2^t) / (1 - beta_1^t) computed by the caller. Each returns how many
# entries of w the update left non-finite (counted in the same pass, so the check costs nothing).
# --------------------------------------------------------------------------------------------

def adam_update_reference(w, g, m, v, alpha, one_minus_beta_1, one_minus_beta_2, epsilon):
    """NumPy reference: updates w, m, v in place (all the same shape and dtype); returns the number
    of non-finite entries of the new w."""
    m += (g - m) * one_minus_beta_1
    v += (g * g - v) * one_minus_beta_2
    w -= alpha * m / (np.sqrt(v) + epsilon)
    return int(np.count_nonzero(~np.isfinite(w)))


@numba.njit(inline="always")
def adam_entry(w, g, m, v, i, alpha, one_minus_beta_1, one_minus_beta_2, epsilon):
    """Inside a Numba kernel: one entry's Adam update (index i: an int, or a tuple for 2-D arrays);
    returns 1 if the new w[i] is not finite, else 0; every Adam kernel here uses it."""
    gi = g[i]
    mi = m[i] + (gi - m[i]) * one_minus_beta_1
    vi = v[i] + (gi * gi - v[i]) * one_minus_beta_2
    m[i] = mi
    v[i] = vi
    wi = w[i] - alpha * mi / (np.sqrt(vi) + epsilon)
    w[i] = wi
    return 0 if np.isfinite(wi) else 1


@numba.njit(parallel=True, cache=True, nogil=True)
def _adam_update_numba(w, g, m, v, alpha, one_minus_beta_1, one_minus_beta_2, epsilon):
    non_finite = 0
    for i in numba.prange(w.size):
        non_finite += adam_entry(w, g, m, v, i, alpha, one_minus_beta_1, one_minus_beta_2, epsilon)
    return non_finite


# error_model="numpy": a float division by zero gives inf or nan, as in NumPy (and in the parallel
# kernels), instead of Numba's default Python check before every division, a branch that keeps LLVM
# from vectorizing the loop. The same results bit for bit.
SERIAL_ERRORS = "numpy"


@numba.njit(cache=True, nogil=True, error_model=SERIAL_ERRORS)
def _adam_update_serial(w, g, m, v, alpha, one_minus_beta_1, one_minus_beta_2, epsilon):
    # the same entry update on one thread: for small weights (a Dense kernel or bias), waking the
    # other threads costs more than the update itself
    non_finite = 0
    for i in range(w.size):
        non_finite += adam_entry(w, g, m, v, i, alpha, one_minus_beta_1, one_minus_beta_2, epsilon)
    return non_finite


# --------------------------------------------------------------------------------------------
# SGD, Keras form:  velocity <- momentum velocity - lr g;  w <- w + velocity
#   (nesterov: w <- w + momentum velocity - lr g; without momentum: w <- w - lr g, no velocity)
# --------------------------------------------------------------------------------------------

def sgd_update_reference(w, g, velocity, learning_rate, momentum, nesterov):
    """NumPy reference: updates w (and velocity, None without momentum) in place; returns the
    number of non-finite entries of the new w."""
    if velocity is None:
        w -= learning_rate * g
    else:
        velocity[...] = velocity * momentum - learning_rate * g
        w += velocity * momentum - learning_rate * g if nesterov else velocity
    return int(np.count_nonzero(~np.isfinite(w)))


@numba.njit(inline="always")
def _sgd_entry(w, g, velocity, i, learning_rate, momentum, nesterov):
    step = learning_rate * g[i]
    if velocity.size == 0:                  # no momentum: no velocity buffer
        wi = w[i] - step
    else:
        vi = velocity[i] * momentum - step
        velocity[i] = vi
        wi = w[i] + (vi * momentum - step if nesterov else vi)
    w[i] = wi
    return 0 if np.isfinite(wi) else 1


@numba.njit(parallel=True, cache=True, nogil=True)
def _sgd_update_numba(w, g, velocity, learning_rate, momentum, nesterov):
    non_finite = 0
    for i in numba.prange(w.size):
        non_finite += _sgd_entry(w, g, velocity, i, learning_rate, momentum, nesterov)
    return non_finite


@numba.njit(cache=True, nogil=True, error_model=SERIAL_ERRORS)
def _sgd_update_serial(w, g, velocity, learning_rate, momentum, nesterov):
    non_finite = 0
    for i in range(w.size):
        non_finite += _sgd_entry(w, g, velocity, i, learning_rate, momentum, nesterov)
    return non_finite


# --------------------------------------------------------------------------------------------
# RMSprop, Keras form (epsilon inside the square root):
#   velocity <- rho velocity + (1 - rho) g^2;   increment = lr g / sqrt(velocity + eps)
#   centered: average <- rho average + (1 - rho) g, increment = lr g / sqrt(velocity - average^2 + eps)
#   momentum: moment <- momentum moment + increment, w <- w - moment;  else w <- w - increment
# --------------------------------------------------------------------------------------------

def rmsprop_update_reference(w, g, velocity, moment, average, learning_rate, rho, one_minus_rho,
                             momentum, epsilon):
    """NumPy reference: updates w and its slots in place (moment / average None when unused);
    returns the number of non-finite entries of the new w."""
    velocity[...] = rho * velocity + one_minus_rho * (g * g)
    if average is None:
        denominator = velocity + epsilon
    else:
        average[...] = rho * average + one_minus_rho * g
        denominator = velocity - average * average + epsilon
    increment = learning_rate * g / np.sqrt(denominator)
    if moment is None:
        w -= increment
    else:
        moment[...] = momentum * moment + increment
        w -= moment
    return int(np.count_nonzero(~np.isfinite(w)))


@numba.njit(inline="always")
def _rmsprop_entry(w, g, velocity, moment, average, i, learning_rate, rho, one_minus_rho, momentum, epsilon):
    gi = g[i]
    vi = rho * velocity[i] + one_minus_rho * (gi * gi)
    velocity[i] = vi
    if average.size == 0:                   # not centered
        denominator = vi + epsilon
    else:
        ai = rho * average[i] + one_minus_rho * gi
        average[i] = ai
        denominator = vi - ai * ai + epsilon
    increment = learning_rate * gi / np.sqrt(denominator)
    if moment.size == 0:                    # no momentum
        wi = w[i] - increment
    else:
        mi = momentum * moment[i] + increment
        moment[i] = mi
        wi = w[i] - mi
    w[i] = wi
    return 0 if np.isfinite(wi) else 1


@numba.njit(parallel=True, cache=True, nogil=True)
def _rmsprop_update_numba(w, g, velocity, moment, average, learning_rate, rho, one_minus_rho, momentum, epsilon):
    non_finite = 0
    for i in numba.prange(w.size):
        non_finite += _rmsprop_entry(w, g, velocity, moment, average, i, learning_rate, rho, one_minus_rho,
                                     momentum, epsilon)
    return non_finite


@numba.njit(cache=True, nogil=True, error_model=SERIAL_ERRORS)
def _rmsprop_update_serial(w, g, velocity, moment, average, learning_rate, rho, one_minus_rho, momentum, epsilon):
    non_finite = 0
    for i in range(w.size):
        non_finite += _rmsprop_entry(w, g, velocity, moment, average, i, learning_rate, rho, one_minus_rho,
                                     momentum, epsilon)
    return non_finite


# --------------------------------------------------------------------------------------------
# Dispatch: what layers and optimizers call.
# --------------------------------------------------------------------------------------------

def scatter_add(ids, d_vectors, d_embeddings):
    """d_embeddings[ids[i, t]] += d_vectors[i, t]; repeated ids accumulate."""
    if get_kernels() == "numpy":
        return scatter_add_reference(ids, d_vectors, d_embeddings)
    _scatter_add_numba(ids, d_vectors, d_embeddings)


PARALLEL_ADAM_SIZE = 1 << 14      # weights with fewer entries are updated on one thread (every optimizer)


@functools.lru_cache(maxsize=16)        # asked for every weight of a step, with the same numbers
def adam_scalars(dtype, alpha, beta_1, beta_2, epsilon):
    """The numbers of an Adam step as the kernels take them, in dtype: (alpha, 1 - beta_1, 1 - beta_2, epsilon)."""
    as_dtype = np.dtype(dtype).type
    return as_dtype(alpha), as_dtype(1.0 - beta_1), as_dtype(1.0 - beta_2), as_dtype(epsilon)


def adam_update(w, g, m, v, alpha, beta_1, beta_2, epsilon):
    """One Keras-form Adam step on w, m, v in place; scalars are cast to w's dtype. Returns the
    number of entries of w that the step left non-finite."""
    args = adam_scalars(w.dtype, alpha, beta_1, beta_2, epsilon)
    if get_kernels() == "numpy":
        return adam_update_reference(w, g, m, v, *args)
    kernel = _adam_update_numba if w.size >= PARALLEL_ADAM_SIZE else _adam_update_serial
    return kernel(w.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), *args)


def _flat(array, like):
    """array as a 1-D view, or an empty array of like's dtype for a slot the optimizer does not use."""
    return np.empty(0, dtype=like.dtype) if array is None else array.reshape(-1)


def sgd_update(w, g, velocity, learning_rate, momentum, nesterov):
    """One Keras-form SGD step on w (and velocity, None without momentum) in place; scalars are
    cast to w's dtype. Returns the number of entries of w that the step left non-finite."""
    as_dtype = w.dtype.type
    args = (as_dtype(learning_rate), as_dtype(momentum), bool(nesterov))
    if get_kernels() == "numpy":
        return sgd_update_reference(w, g, velocity, *args)
    kernel = _sgd_update_numba if w.size >= PARALLEL_ADAM_SIZE else _sgd_update_serial
    return kernel(w.reshape(-1), g.reshape(-1), _flat(velocity, w), *args)


def rmsprop_update(w, g, velocity, moment, average, learning_rate, rho, momentum, epsilon):
    """One Keras-form RMSprop step on w and its slots in place (moment, average: None when unused);
    scalars are cast to w's dtype. Returns the number of entries of w left non-finite."""
    as_dtype = w.dtype.type
    args = (as_dtype(learning_rate), as_dtype(rho), as_dtype(1.0 - rho), as_dtype(momentum), as_dtype(epsilon))
    if get_kernels() == "numpy":
        return rmsprop_update_reference(w, g, velocity, moment, average, *args)
    kernel = _rmsprop_update_numba if w.size >= PARALLEL_ADAM_SIZE else _rmsprop_update_serial
    return kernel(w.reshape(-1), g.reshape(-1), velocity.reshape(-1), _flat(moment, w), _flat(average, w), *args)

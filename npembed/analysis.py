"""Numbers about learned embeddings (no plotting)."""
import numpy as np

from . import _checks
from .layers import Embedding


def word_sentiment(model, ids=None, batch_size=4096):
    """For each id, the model's logit (log-odds of "positive") for a review made of that one word.

    A one-word review pools to exactly that word's vector (masked or not), so this is how the
    Dense layers read each embedding row on its own: > 0 reads positive, < 0 negative. Logits,
    not probabilities, so that strongly positive words do not all tie at p = 1.0 in float32.
    ids defaults to every row of the Embedding.
    """
    embedding = model.layers[0]
    if not isinstance(embedding, Embedding):
        raise TypeError("word_sentiment needs a model whose first layer is an Embedding")
    ids = np.arange(embedding.input_dim) if ids is None else np.asarray(ids)
    x = embedding.check_input(ids.reshape(-1, 1))
    logits = []
    for start in range(0, len(x), batch_size):
        model._forward(x[start:start + batch_size])
        logits.append(model.layers[-1].logits[:, 0].copy())
    return np.concatenate(logits).astype(np.float64)


def pca(vectors, n_components=2):
    """Principal components of the rows of vectors, via numpy's SVD of the centred matrix.

    Returns (projected (n, n_components), components (n_components, dim), explained_variance_ratio).
    Signs are fixed so that each component's largest-magnitude loading is positive.
    """
    vectors = _checks.float_array("vectors", vectors, np.float64, ndim=2)
    n_components = _checks.positive_int("n_components", n_components)
    if n_components > min(vectors.shape):
        raise ValueError(f"need a 2-D array with at least {n_components} rows and columns, "
                         f"got shape {vectors.shape}")
    centred = vectors - vectors.mean(axis=0)
    _, singular, components = np.linalg.svd(centred, full_matrices=False)
    components = components[:n_components]
    signs = np.sign(components[np.arange(n_components), np.abs(components).argmax(axis=1)])
    components = components * signs[:, None]
    variance = singular ** 2
    ratio = variance[:n_components] / variance.sum() if variance.sum() > 0 else np.zeros(n_components)
    return centred @ components.T, components, ratio


def sentiment_direction(model):
    """The unit direction in embedding space that the Dense layers read as "more positive".

    For a pooled vector e the head computes a logit z(e); its gradient dz/de says which way to move
    e to make the review read more positive. With ReLU the gradient depends on e, so it is averaged
    over every embedding row taken as a one-word review: direction = mean_k dz/de at e = E[k],
    normalised. Computed from the trained weights alone (no data); a word's score along it is
    ``embeddings @ direction``.
    """
    from .layers import Dense, GlobalAveragePooling1D
    head = [layer for layer in model.layers[1:] if not isinstance(layer, GlobalAveragePooling1D)]
    if not head or not all(isinstance(layer, Dense) for layer in head) or head[-1].units != 1:
        raise TypeError("sentiment_direction needs Embedding -> pooling -> Dense ... -> Dense(1)")
    rows = model.layers[0].params["embeddings"].astype(np.float64)
    # backpropagate d z / d input through each Dense layer, for every row at once
    inputs, activations_slopes = rows, []
    for layer in head[:-1]:
        z = inputs @ layer.params["kernel"] + layer.params["bias"]
        slope = {None: np.ones_like(z), "relu": (z > 0).astype(float)}.get(layer.activation)
        if slope is None:
            a = 1 / (1 + np.exp(-z))
            slope = a * (1 - a)
        activations_slopes.append(slope)
        inputs = layer._f(z)
    grad = np.broadcast_to(head[-1].params["kernel"][:, 0], inputs.shape)        # dz/d(last input)
    for layer, slope in zip(reversed(head[:-1]), reversed(activations_slopes)):
        grad = (grad * slope) @ layer.params["kernel"].T
    direction = grad.mean(axis=0)
    return direction / (np.linalg.norm(direction) or 1.0)


def movement(snapshots):
    """How far each row moved between the first and the last snapshot: (rows,) L2 distances."""
    return np.linalg.norm(np.asarray(snapshots[-1], float) - np.asarray(snapshots[0], float), axis=1)


def neighbors_over_time(snapshots, words, query, topn=8):
    """For each snapshot, the topn nearest neighbours (cosine) of query: a list of lists of words."""
    from .projector import nearest_neighbors
    return [[word for word, _ in nearest_neighbors(table, words, query, topn)] for table in snapshots]

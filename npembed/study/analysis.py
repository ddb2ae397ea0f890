"""Numbers about learned embeddings (no plotting)."""
import numpy as np

from .. import _checks, activations
from ..layers import Dense, Embedding, GlobalAveragePooling1D


def word_sentiment(model, ids=None, batch_size=4096):
    """For each id, the model's logit (log-odds of "positive") for a review made of that one word.

    A one-word review pools to exactly that word's vector (masked or not), so this is how the
    Dense layers read each embedding row on its own: > 0 reads positive, < 0 negative. Logits,
    not probabilities, so that strongly positive words do not all tie at p = 1.0 in float32.
    ids defaults to every row of the Embedding.
    """
    embedding = model.layers[0] if model.layers else None
    if not isinstance(embedding, Embedding):
        raise TypeError("word_sentiment needs a model whose first layer is an Embedding")
    ids = np.arange(embedding.input_dim) if ids is None else np.asarray(ids)
    return model.predict_logits(ids.reshape(-1, 1), batch_size=batch_size)[:, 0].astype(np.float64)


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
    head = [layer for layer in model.layers[1:] if not isinstance(layer, GlobalAveragePooling1D)]
    if not head or not all(isinstance(layer, Dense) for layer in head) or head[-1].units != 1:
        raise TypeError("sentiment_direction needs Embedding -> pooling -> Dense ... -> Dense(1)")
    rows = model.layers[0].params["embeddings"].astype(np.float64)
    # backpropagate d z / d input through each Dense layer, for every row at once:
    # through a = f(x @ kernel + bias), d a / d x = f'(z) kernel^T
    inputs, slopes = rows, []
    for layer in head[:-1]:
        f, df = activations.get(layer.activation)
        z = inputs @ layer.params["kernel"] + layer.params["bias"]
        inputs = f(z)
        slopes.append(df(z, inputs))
    grad = np.broadcast_to(head[-1].params["kernel"][:, 0], inputs.shape)        # dz/d(last input)
    for layer, slope in zip(reversed(head[:-1]), reversed(slopes)):
        grad = (grad * slope) @ layer.params["kernel"].T
    direction = grad.mean(axis=0)
    return direction / (np.linalg.norm(direction) or 1.0)


def movement(snapshots):
    """How far each row moved between the first and the last snapshot: (rows,) L2 distances."""
    return np.linalg.norm(np.asarray(snapshots[-1], float) - np.asarray(snapshots[0], float), axis=1)


def drift(start, end):
    """How far each row turned from start to end: (rows,) cosine distance 1 - cos(start_i, end_i).

    0 for a row that kept its direction, 1 for one now orthogonal to it; NaN where either row is zero.
    """
    start = _checks.float_array("start", start, np.float64, ndim=2)
    end = _checks.float_array("end", end, np.float64, ndim=2)
    if start.shape != end.shape:
        raise ValueError(f"start and end must have the same shape, got {start.shape} and {end.shape}")
    norms = np.linalg.norm(start, axis=1) * np.linalg.norm(end, axis=1)
    dots = np.einsum("ij,ij->i", start, end)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norms > 0, 1.0 - dots / norms, np.nan)


def neighbors_over_time(snapshots, words, query, topn=8):
    """For each snapshot, the topn nearest neighbours (cosine) of query: a list of lists of words."""
    from ..wordvectors.projector import nearest_neighbors
    return [[word for word, _ in nearest_neighbors(table, words, query, topn)] for table in snapshots]


def similarity_over_time(snapshots, words, query, others):
    """Cosine similarity of query to each of others in every snapshot: (snapshots, len(others))."""
    from ..wordvectors.projector import row_of
    rows = [row_of(words, word) for word in [query, *others]]
    out = []
    for table in snapshots:
        picked = _checks.unit_rows(np.asarray(table, dtype=np.float64)[rows])
        out.append(picked[1:] @ picked[0])
    return np.array(out)

"""Numbers about learned embeddings (no plotting)."""
import numpy as np

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

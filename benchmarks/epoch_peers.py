"""The peers bench_epoch.py times beside npembed: the tutorial's model and epoch written the way an
expert would write it in PyTorch and in JAX (each returns None when its library is not installed).

Every form trains on the first 80% of the reviews in shuffled batches and validates on the rest,
as ``model.fit(..., validation_split=0.2)`` does; each reports the median seconds of its epochs
after one warm-up epoch (which compiles, for JAX).
"""
import statistics
import time

import numpy as np


def torch_epoch_seconds(x, y, vocab, dim, mask_zero, epochs, batch_size=512):
    """The same model in PyTorch (nn.EmbeddingBag, mean), same epoch; None without PyTorch."""
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    split = int(len(x) * 0.8)
    if mask_zero:
        bag = torch.nn.EmbeddingBag(vocab, dim, mode="mean", padding_idx=0)
    else:
        bag = torch.nn.EmbeddingBag(vocab, dim, mode="mean")
    head = torch.nn.Sequential(torch.nn.Linear(dim, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    params = list(bag.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(params, lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    xt, yt = torch.from_numpy(x.astype(np.int64)), torch.from_numpy(y.astype(np.float32))

    def train_step(rows):
        optimizer.zero_grad()
        loss = loss_fn(head(bag(xt[rows]))[:, 0], yt[rows])
        loss.backward()
        optimizer.step()

    def validate(rows):
        loss_fn(head(bag(xt[rows]))[:, 0], yt[rows])

    return torch_epochs_median(len(x), split, epochs, batch_size, train_step, validate)


def torch_epochs_median(n, split, epochs, batch_size, train_step, validate):
    """Median seconds of `epochs` epochs (after one warm-up): train_step(rows) over shuffled batches
    of the first `split` reviews, then validate(rows) over the rest without gradients."""
    import torch
    times, rng = [], np.random.default_rng(0)
    for _ in range(epochs + 1):
        started = time.perf_counter()
        order = torch.from_numpy(rng.permutation(split))
        for start in range(0, split, batch_size):
            train_step(order[start:start + batch_size])
        with torch.no_grad():
            for start in range(split, n, batch_size):
                validate(torch.arange(start, min(start + batch_size, n)))
        times.append(time.perf_counter() - started)
    return statistics.median(times[1:])


def distinct_ids(x, mask_zero):
    """Each review as its distinct ids and their weights (count / the mean's divisor): (ids, weights)
    per review, so that a weighted sum over distinct ids is the masked (or unmasked) mean."""
    bags = []
    for review in x:
        ids, counts = np.unique(review, return_counts=True)
        if mask_zero:
            counts, ids = counts[ids != 0], ids[ids != 0]
        bags.append((ids.astype(np.int64), (counts / max(counts.sum(), 1)).astype(np.float32)))
    return bags


def torch_bag_epoch_seconds(x, y, vocab, dim, mask_zero, epochs, threads, batch_size=512):
    """The strongest PyTorch form we know for this model: each review's distinct ids with weights,
    F.embedding_bag(mode="sum", per_sample_weights) forward, an index_add_ backward written out
    (PyTorch's own is slower), fused Adam; None without PyTorch. threads: torch.set_num_threads."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None
    torch.set_num_threads(threads)
    torch.manual_seed(0)

    class WeightedBag(torch.autograd.Function):
        @staticmethod
        def forward(ctx, table, ids, offsets, weights, owner):
            ctx.save_for_backward(ids, weights, owner)
            ctx.rows = table.shape[0]
            return F.embedding_bag(ids, table, offsets, mode="sum", per_sample_weights=weights)

        @staticmethod
        def backward(ctx, d_pooled):
            ids, weights, owner = ctx.saved_tensors
            d_table = torch.zeros(ctx.rows, d_pooled.shape[1]).index_add_(0, ids, d_pooled[owner] * weights[:, None])
            return d_table, None, None, None, None

    split = int(len(x) * 0.8)
    bags = distinct_ids(x, mask_zero)
    table = torch.nn.Parameter(torch.empty(vocab, dim).uniform_(-0.05, 0.05))
    head = torch.nn.Sequential(torch.nn.Linear(dim, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    optimizer = torch.optim.Adam([table, *head.parameters()], lr=1e-3, eps=1e-7, fused=True)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    yt = torch.from_numpy(y.astype(np.float32))

    def batch(rows):
        chosen = [bags[i] for i in rows]
        lengths = np.array([len(ids) for ids, _ in chosen])
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        return (torch.from_numpy(np.concatenate([ids for ids, _ in chosen])), torch.from_numpy(offsets),
                torch.from_numpy(np.concatenate([w for _, w in chosen])),
                torch.from_numpy(np.repeat(np.arange(len(rows)), lengths)))

    def train_step(rows):
        optimizer.zero_grad()
        loss = loss_fn(head(WeightedBag.apply(table, *batch(rows.numpy())))[:, 0], yt[rows])
        loss.backward()
        optimizer.step()

    def validate(rows):
        ids, offsets, weights, _ = batch(rows.numpy())
        pooled = F.embedding_bag(ids, table, offsets, mode="sum", per_sample_weights=weights)
        loss_fn(head(pooled)[:, 0], yt[rows])

    return torch_epochs_median(len(x), split, epochs, batch_size, train_step, validate)


def flat_distinct_ids(x, mask_zero):
    """All reviews' distinct ids and weights (count / the mean's divisor) end to end:
    (ids int32, weights float32, offsets (n + 1,) int64): review r is entries offsets[r]:offsets[r + 1]."""
    bags = distinct_ids(x, mask_zero)
    lengths = np.array([len(ids) for ids, _ in bags])
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    return (np.concatenate([ids for ids, _ in bags]).astype(np.int32),
            np.concatenate([weights for _, weights in bags]), offsets)


def jax_epoch_seconds(x, y, vocab, dim, mask_zero, epochs, batch_size=512, report=None):
    """The tutorial's epoch in JAX as fast as we know to write it: the whole epoch one jit, from the
    shuffled order to the last update (the epoch's entries gathered on the device, then lax.scan over
    the batches, each a fixed-size window of them), each review's distinct ids with weights pooled by
    segment_sum, the head, BCE on the logit, Keras-form dense Adam written out; validation one more
    jit. None without JAX. report: a dict that receives each epoch's validation loss ("val_loss")."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    split = int(len(x) * 0.8)
    rng = np.random.default_rng(0)
    orders = [rng.permutation(split) for _ in range(epochs + 1)]
    train, val = flat_distinct_ids(x[:split], mask_zero), flat_distinct_ids(x[split:], mask_zero)
    y = y.astype(np.float32)

    def batch_totals(flat, order):
        lengths = np.diff(flat[2])[order]
        return np.add.reduceat(lengths, np.arange(0, len(order), batch_size))
    # every batch's entries fit one window: the largest batch of all the epochs to come (no recompiling)
    capacity = int(max(batch_totals(train, order).max() for order in orders))
    capacity = max(capacity, int(batch_totals(val, np.arange(len(x) - split)).max()))

    def epoch_entries(flat, order):
        """On the device: the entries of the reviews `order` end to end (ids, weights, batch row),
        then `capacity` padding entries; and where each batch starts and how many entries it has."""
        ids, weights, offsets = flat
        lengths = (offsets[1:] - offsets[:-1])[order]
        ends = jnp.cumsum(lengths)
        total = int(ids.shape[0])
        positions = jnp.repeat(offsets[:-1][order] - (ends - lengths), lengths, total_repeat_length=total) \
            + jnp.arange(total)
        rows = jnp.repeat(jnp.arange(order.shape[0]) % batch_size, lengths, total_repeat_length=total)
        pad = jnp.zeros(capacity, ids.dtype)
        firsts = jnp.arange(0, order.shape[0], batch_size)
        starts = (ends - lengths)[firsts]
        counts = jnp.append(starts[1:], total) - starts
        return (jnp.concatenate([ids[positions], pad]), jnp.concatenate([weights[positions], pad.astype(jnp.float32)]),
                jnp.concatenate([rows, pad]), starts, counts)

    def batch_window(entries, labels, n, b):
        ids, weights, rows, starts, counts = entries
        take = lambda a: jax.lax.dynamic_slice(a, (starts[b],), (capacity,))  # noqa: E731
        real = jnp.arange(capacity) < counts[b]
        row_weights = (b * batch_size + jnp.arange(batch_size)) < n
        return (take(ids), take(weights) * real, take(rows),
                jax.lax.dynamic_slice(labels, (b * batch_size,), (batch_size,)), row_weights.astype(jnp.float32))

    def loss_of(params, ids, weights, rows, labels, row_weights):
        pooled = jax.ops.segment_sum(params["table"][ids] * weights[:, None], rows, num_segments=batch_size)
        z = (jax.nn.relu(pooled @ params["kernel1"] + params["bias1"]) @ params["kernel2"] + params["bias2"])[:, 0]
        per_row = jnp.maximum(z, 0) - z * labels + jnp.log1p(jnp.exp(-jnp.abs(z)))
        return (per_row * row_weights).sum() / row_weights.sum()

    def adam_step(state, batch):
        params, m, v, t = state
        loss, grads = jax.value_and_grad(loss_of)(params, *batch)
        t = t + 1
        alpha = 1e-3 * jnp.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
        m = jax.tree_util.tree_map(lambda m, g: m + (g - m) * 0.1, m, grads)
        v = jax.tree_util.tree_map(lambda v, g: v + (g * g - v) * 0.001, v, grads)
        params = jax.tree_util.tree_map(lambda w, m, v: w - alpha * m / (jnp.sqrt(v) + 1e-7), params, m, v)
        return (params, m, v, t), loss

    def padded_labels(labels):
        return jnp.concatenate([labels, jnp.zeros(batch_size, jnp.float32)])

    @jax.jit
    def train_epoch(state, flat, order, labels):
        entries = epoch_entries(flat, order)
        labels = padded_labels(labels[order])
        return jax.lax.scan(lambda state, b: adam_step(state, batch_window(entries, labels, split, b)),
                            state, jnp.arange(-(-split // batch_size)))

    @jax.jit
    def validate(params, flat, labels):
        n = labels.shape[0]
        entries, labels = epoch_entries(flat, jnp.arange(n)), padded_labels(labels)
        return jax.lax.map(lambda b: loss_of(params, *batch_window(entries, labels, n, b)),
                           jnp.arange(-(-n // batch_size)))

    key, k1, k2 = jax.random.split(jax.random.PRNGKey(0), 3)
    limit = np.sqrt(6 / (dim + 16))
    params = {"table": jax.random.uniform(key, (vocab, dim), minval=-0.05, maxval=0.05),
              "kernel1": jax.random.uniform(k1, (dim, 16), minval=-limit, maxval=limit),
              "bias1": jnp.zeros(16), "kernel2": jax.random.uniform(k2, (16, 1), minval=-0.5, maxval=0.5),
              "bias2": jnp.zeros(1)}
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    state = (params, zeros, zeros, jnp.zeros((), jnp.float32))
    train, val = (tuple(map(jnp.asarray, flat)) for flat in (train, val))
    y_train, y_val = jnp.asarray(y[:split]), jnp.asarray(y[split:])
    times = []
    for order in orders:
        started = time.perf_counter()
        state, _ = train_epoch(state, train, jnp.asarray(order), y_train)
        val_losses = validate(state[0], val, y_val).block_until_ready()
        times.append(time.perf_counter() - started)
        if report is not None:
            weights = np.minimum(batch_size, len(x) - split - batch_size * np.arange(len(val_losses)))
            report.setdefault("val_loss", []).append(float(np.average(val_losses, weights=weights)))
    return statistics.median(times[1:])

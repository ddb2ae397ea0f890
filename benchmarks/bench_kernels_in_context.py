"""Each kernel of the tutorial's epoch timed alone, and the embedding kernels in the training sequence.

    python benchmarks/bench_kernels_in_context.py --data ../shared/data/aclImdb_v1_labeled.tar.gz [--rounds 6] [--json]

The kernels of a training step are the gradient's zeroing, the forward lookup + mean, the backward
scatter-add and Adam on the (10,000, 16) table. Timed alone (one kernel over an epoch's 40 batches)
each finds its data in the core's caches; in the sequence each finds part of it pushed out by the
others (the table, its gradient and Adam's two moments are 640 KB each). The training sequence is
timed as npembed runs it, and with each of its tricks turned off:
- "no prefetch": the kernels compiled with npembed.kernels.bags.PREFETCH_ENTRIES = 0 (they ask for
  nothing ahead of time);
- "32-bit ids": the packed ids stored as int32 instead of uint16 (what Bags.from_padded does when
  an id does not fit in 16 bits).
The settings alternate round by round in one process, so that the host's drift falls on all of
them; the medians over the rounds are reported, in ms per epoch of training batches.

The rest of an epoch's kernels are timed alone too: the forward of the 10 validation batches of 500
reviews, the head kernel (npembed.kernels.head: the two Dense layers, the loss and, for the 40
training batches, their backward) and the Adam steps of the four Dense weights. "every kernel alone"
adds up each kernel of an epoch timed alone: what an epoch would take with no Python between the
kernels and no kernel pushing another's data out of the caches.
"""
import contextlib
import inspect
import json
import statistics
import time

import numpy as np

from bench_epoch import benchmark_parser, real_reviews, synthetic_reviews
from npembed import kernels, layers
from npembed.kernels import bags
from npembed import stages


def training_batches(data, validation=False):
    """An epoch's 40 shuffled training batches of 512 packed reviews (real ones from the archive or
    folder ``data``, else synthetic), and the arrays the kernels work on: the (10,000, 16) table,
    its gradient, Adam's m and v, and a (512, 16) d_step. validation=True adds a seventh item: the
    epoch's 10 validation batches of 500 reviews, in order, and an eighth: the training batches
    again with their ids stored as int32."""
    x, _ = real_reviews(data) if data else synthetic_reviews()
    rng = np.random.default_rng(0)
    packed = bags.Bags.from_padded(x[:20000].astype(np.int32))
    order = rng.permutation(20000)
    batches = [packed.take(order[start:start + 512]) for start in range(0, 20000, 512)]
    wide = bags.Bags(packed.ids.astype(np.int32), packed.counts, packed.offsets, packed.lengths, packed.steps)
    batches_wide = [wide.take(order[start:start + 512]) for start in range(0, 20000, 512)]
    table = rng.uniform(-0.05, 0.05, (10000, 16)).astype(np.float32)
    grad, m, v = np.zeros_like(table), np.zeros_like(table), np.full_like(table, 1e-3)
    d_step = (rng.standard_normal((512, 16)) * 1e-3).astype(np.float32)
    if not validation:
        return batches, table, grad, m, v, d_step
    held_out = bags.Bags.from_padded(x[20000:25000].astype(np.int32))
    validation_batches = [held_out.take(np.arange(start, start + 500)) for start in range(0, 5000, 500)]
    return batches, table, grad, m, v, d_step, validation_batches, batches_wide


def tutorial_head(rng):
    """The tutorial's head, Dense(16, relu) -> Dense(1, sigmoid), built on 16 features, as
    npembed.models.Sequential runs it (a DenseHead), and (weight, gradient, Adam's m, v) of each of
    its four weights."""
    hidden, output = layers.Dense(16, activation="relu"), layers.Dense(1, activation="sigmoid")
    hidden.build((None, 16), rng)
    output.build((None, 16), rng)
    weights = [(w, layer.grads[key], np.zeros_like(w), np.full_like(w, 1e-3))
               for layer in (hidden, output) for key, w in layer.params.items()]
    return stages.DenseHead(hidden, output), weights


def compiled_with(kernel, **constants):
    """The Numba kernel ``kernel`` of npembed.kernels.bags compiled anew with some of the module's constants
    changed (not cached on disk)."""
    namespace = dict(vars(bags), **constants)
    exec(inspect.getsource(kernel.py_func).replace("cache=True, ", ""), namespace)
    return namespace[kernel.__name__]


@contextlib.contextmanager
def kernels_swapped(replacements):
    """npembed.kernels.bags with some kernels replaced ({name: kernel}) inside the block."""
    originals = {name: getattr(bags, name) for name in replacements}
    try:
        for name, kernel in replacements.items():
            setattr(bags, name, kernel)
        yield
    finally:
        for name, kernel in originals.items():
            setattr(bags, name, kernel)


def main(argv=None):
    parser = benchmark_parser(__doc__)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args(argv)
    batches, table, grad, m, v, d_step, validation_batches, batches_wide = training_batches(args.data, validation=True)
    step = {
        "zero": lambda batch: grad.fill(0),
        "forward": lambda batch: bags.pooled_lookup(batch, table, False),
        "backward": lambda batch: bags.pooled_lookup_backward(batch, d_step[:len(batch)], False, grad),
        "adam": lambda batch: kernels.adam_update(table, grad, m, v, 1e-6, 0.9, 0.999, 1e-7),
    }
    sequence = ["zero", "forward", "backward", "adam"]
    settings = {"forward alone": ["forward"], "backward alone": ["backward"], "adam alone": ["adam"],
                "zeroing alone": ["zero"], "training sequence": sequence, "no prefetch": sequence,
                "32-bit ids": sequence}
    forward, backward = bags._pooled_lookup_numba, bags._pooled_lookup_backward_numba
    variants = {"no prefetch": {"_pooled_lookup_numba": compiled_with(forward, PREFETCH_ENTRIES=0),
                                "_pooled_lookup_backward_numba": compiled_with(backward, PREFETCH_ENTRIES=0)}}
    batches_of = {"32-bit ids": batches_wide}
    rng = np.random.default_rng(1)
    dense_head, dense = tutorial_head(rng)
    pooled = bags.pooled_lookup(batches[0], table, False)[0]
    labels = rng.integers(0, 2, (len(pooled), 1)).astype(np.float32)
    others = {       # the rest of an epoch's kernels, each over the whole epoch
        "validation forward": lambda: [bags.pooled_lookup(batch, table, False) for batch in validation_batches],
        "head": lambda: ([dense_head.forward(pooled[:len(batch)], labels[:len(batch)], True) for batch in batches]
                         + [dense_head.forward(pooled[:len(batch)], labels[:len(batch)], False)
                            for batch in validation_batches]),
        "Dense Adam": lambda: [kernels.adam_update(w, g, m_w, v_w, 1e-6, 0.9, 0.999, 1e-7)
                               for _ in batches for w, g, m_w, v_w in dense],
    }
    for other in others.values():
        other()
    for setting in settings:                     # compile or load the kernels
        with kernels_swapped(variants.get(setting, {})):
            for batch in batches_of.get(setting, batches)[:2]:
                for name in step:
                    step[name](batch)
    spent = {setting: [] for setting in settings}
    others_spent = {name: [] for name in others}
    for _ in range(args.rounds):
        for setting, names in settings.items():
            totals = dict.fromkeys(names, 0.0)
            with kernels_swapped(variants.get(setting, {})):
                for batch in batches_of.get(setting, batches):
                    for name in names:
                        started = time.perf_counter()
                        step[name](batch)
                        totals[name] += time.perf_counter() - started
            spent[setting].append(totals)
        for name, other in others.items():
            started = time.perf_counter()
            other()
            others_spent[name].append(time.perf_counter() - started)
    result = {setting: {name: statistics.median(run[name] for run in runs) * 1000 for name in settings[setting]}
              for setting, runs in spent.items()}
    result["other kernels alone"] = {name: statistics.median(times) * 1000 for name, times in others_spent.items()}
    alone = {name: result[f"{name} alone"][key] for name, key in
             (("zeroing", "zero"), ("forward", "forward"), ("backward", "backward"), ("adam", "adam"))}
    alone.update(result["other kernels alone"])
    result["every kernel alone"] = dict(alone, **{"in all": sum(alone.values())})
    columns = {"zero": "zeroing", "forward": "forward", "backward": "backward", "adam": "Adam"}
    print(f"{'ms per epoch':<24}" + "".join(f"{label:>12}" for label in columns.values()) + f"{'in all':>10}")
    for setting in settings:
        times = result[setting]
        print(f"{setting:<24}" + "".join(f"{times[name]:>12.2f}" if name in times else f"{'':>12}" for name in columns)
              + f"{sum(times.values()):>10.2f}")
    print("\nthe rest of the epoch's kernels, alone: " + ", ".join(
        f"{name} {spent_ms:.2f}" for name, spent_ms in result["other kernels alone"].items()) + " ms")
    print("every kernel of an epoch, each alone (no Python between them, the caches to itself): "
          f"{result['every kernel alone']['in all']:.2f} ms per epoch ("
          + ", ".join(f"{name} {spent_ms:.2f}" for name, spent_ms in alone.items()) + ")")
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()

"""How the host's speed drifts over minutes: the embedding kernels of an epoch on 1 and on 2 threads,
alternating, round after round.

    python benchmarks/bench_drift.py --data ../shared/data/aclImdb_v1_labeled.tar.gz [--rounds 12] [--pause 5] [--json]

Each round times the training sequence of an epoch's 40 batches (forward lookup + mean, backward
scatter-add, Adam on the (10,000, 16) table; the same as bench_kernels_in_context.py) five times on
one thread, then five times on two, and prints the two medians. If a slow stretch hit only the
second core (a neighbour on its physical core), the one-thread column would stay flat while the
two-thread one rose; if it hits memory shared by both cores, both columns rise together.
"""
import json
import statistics
import time

import numba

from bench_epoch import benchmark_parser
from bench_kernels_in_context import training_batches
from npembed import kernels
from npembed.kernels import bags


def main(argv=None):
    parser = benchmark_parser(__doc__)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--pause", type=float, default=5.0, help="seconds between rounds")
    args = parser.parse_args(argv)
    batches, table, grad, m, v, d_step = training_batches(args.data)

    def epoch_ms():
        started = time.perf_counter()
        for batch in batches:
            bags.pooled_lookup(batch, table, False)
            (grad.fill(0), bags.pooled_lookup_backward(batch, d_step[:len(batch)], False, grad))
            kernels.adam_update(table, grad, m, v, 1e-6, 0.9, 0.999, 1e-7)
        return (time.perf_counter() - started) * 1000

    most = numba.get_num_threads()
    thread_counts = sorted({1, min(2, most)})
    rounds = []
    try:
        for threads in thread_counts:            # compile or load the kernels, warm the caches
            numba.set_num_threads(threads)
            epoch_ms()
        print(f"{'time':<10}" + "".join(f"{f'{t} thread(s) ms':>16}" for t in thread_counts) + f"{'ratio':>8}")
        for round_ in range(args.rounds):
            medians = {}
            for threads in thread_counts:
                numba.set_num_threads(threads)
                medians[threads] = statistics.median(epoch_ms() for _ in range(5))
            clock = time.strftime("%H:%M:%S")
            ratio = medians[thread_counts[0]] / medians[thread_counts[-1]]
            print(f"{clock:<10}" + "".join(f"{medians[t]:>16.2f}" for t in thread_counts) + f"{ratio:>8.2f}",
                  flush=True)
            rounds.append({"time": clock, **{f"threads_{t}_ms": medians[t] for t in thread_counts}})
            if round_ + 1 < args.rounds:
                time.sleep(args.pause)
    finally:
        numba.set_num_threads(most)
    if args.json:
        print(json.dumps({"rounds": rounds}))
    return rounds


if __name__ == "__main__":
    main()

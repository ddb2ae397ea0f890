"""How fast is the machine right now? Three small probes that bench_epoch.py runs beside each of its runs,
so that a slow run can be told apart from a slow npembed (the host is shared; its speed drifts).

- ``compute_ns``: one thread, a chain of dependent multiply-adds (ns per step): the core's own speed.
- ``region_us``: entering and leaving an empty Numba parallel region back to back (us): what every
  parallel kernel call pays before any work, while the worker threads are still spinning.
- ``region_after_sleep_us``: the same region entered 2 ms after the last one, when the workers may
  have gone to sleep and must be woken (what a kernel pays after a stretch of Python/NumPy work).
- ``memory_ns``: one thread, a chain of dependent loads at random places in 16 MB (ns per load): the
  latency of memory beyond the core's own caches, which the shared host's other tenants also use.
"""
import statistics
import time

import numba
import numpy as np


@numba.njit(cache=True)
def _chain(steps, x):
    for _ in range(steps):                  # each step waits for the one before: latency, not throughput
        x = x * 1.0000001 + 1e-9
    return x


@numba.njit(cache=True)
def _chase(next_place, steps):
    place = 0
    for _ in range(steps):                  # each load's address is the value the last load read
        place = next_place[place]
    return place


def _random_cycle(size, seed=0):
    """next_place (size,) int32: one cycle through every place, in random order."""
    order = np.random.default_rng(seed).permutation(size).astype(np.int32)
    next_place = np.empty(size, dtype=np.int32)
    next_place[order] = np.roll(order, -1)
    return next_place


@numba.njit(parallel=True, cache=True)
def _empty_region(out):
    for i in numba.prange(out.size):
        out[i] += 1.0


def probe(repeats=400):
    """{"compute_ns", "region_us", "region_after_sleep_us", "memory_ns"}: medians over `repeats` tries."""
    out = np.zeros(numba.get_num_threads())
    cycle = _random_cycle(1 << 22)
    _chase(cycle, 10)
    memory = []
    for _ in range(5):
        started = time.perf_counter()
        _chase(cycle, 500_000)
        memory.append((time.perf_counter() - started) / 500_000 * 1e9)
    _chain(10, 0.5)
    _empty_region(out)
    chain = []
    for _ in range(7):
        started = time.perf_counter()
        _chain(2_000_000, 0.5)
        chain.append((time.perf_counter() - started) / 2_000_000 * 1e9)
    back_to_back, after_sleep = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        _empty_region(out)
        back_to_back.append((time.perf_counter() - started) * 1e6)
    for _ in range(repeats // 8):
        time.sleep(0.002)
        started = time.perf_counter()
        _empty_region(out)
        after_sleep.append((time.perf_counter() - started) * 1e6)
    return {"compute_ns": statistics.median(chain), "region_us": statistics.median(back_to_back),
            "region_after_sleep_us": statistics.median(after_sleep), "memory_ns": statistics.median(memory)}


if __name__ == "__main__":
    print(probe())

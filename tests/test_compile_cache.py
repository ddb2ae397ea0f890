"""A second process loads the compiled kernels from Numba's on-disk cache: it never recompiles them."""
import os
import subprocess
import sys

# a table of 5000 x 4 entries: big enough for the parallel kernels
TRAIN = """
import numpy as np
from npembed import Sequential, layers
rng = np.random.default_rng(0)
x = rng.integers(0, 30, (64, 12)); y = rng.integers(0, 2, 64)
for mask_zero in (False, True):
    model = Sequential([layers.Embedding(5000, 4, mask_zero=mask_zero), layers.GlobalAveragePooling1D(),
                        layers.Dense(4, activation="relu"), layers.Dense(1, activation="sigmoid")], seed=0)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, batch_size=16, validation_split=0.25, verbose=0)
    model.predict(x)
"""


def run(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), NUMBA_DEBUG_CACHE="1", NPEMBED_KERNELS="numba")
    out = subprocess.run([sys.executable, "-c", TRAIN], env=env, capture_output=True, text=True, check=True,
                         timeout=600)
    lines = (out.stdout + out.stderr).splitlines()
    kernel_modules = ("updates.", "bags.", "packing.", "head.")            # npembed's kernel modules
    ours = [line for line in lines if any(module in line for module in kernel_modules)]
    saved = [line for line in ours if "data saved" in line]
    loaded = [line for line in ours if "data loaded" in line]
    return saved, loaded


def test_second_process_loads_every_kernel_from_the_cache(tmp_path):
    saved, loaded = run(tmp_path)
    assert saved, "the first process should compile the kernels and save them"
    saved_again, loaded_again = run(tmp_path)
    assert saved_again == [], f"the second process recompiled: {saved_again}"
    # pack, forward, backward, the head, Adam in parallel (the table) and on one thread (the Dense weights)
    assert len(saved) == 6 and len(loaded_again) >= len(saved)

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Numba compiles on first use: no deadlines; keep examples modest so CI stays quick.
settings.register_profile("npembed", deadline=None, max_examples=40,
                          suppress_health_check=[HealthCheck.too_slow,
                                                   HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "npembed"))

REAL_ARCHIVE = Path(os.environ.get(
    "NPEMBED_TEST_ARCHIVE",
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "aclImdb_v1_labeled.tar.gz"))


def pytest_collection_modifyitems(config, items):
    """CI sets NPEMBED_REQUIRE_REAL_DATA=1: then the real-archive tests may not skip."""
    if os.environ.get("NPEMBED_REQUIRE_REAL_DATA") == "1" and not REAL_ARCHIVE.exists():
        raise pytest.UsageError(f"NPEMBED_REQUIRE_REAL_DATA=1 but the archive is not at {REAL_ARCHIVE}")


def pytest_report_header(config):
    found = "found" if REAL_ARCHIVE.exists() else "ABSENT: real-data tests will skip"
    return f"npembed real archive: {REAL_ARCHIVE} ({found})"


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(params=["numba", "numpy"])
def kernels(request):
    """Run a test under each implementation of the hot loops."""
    import npembed
    previous = npembed.get_kernels()
    npembed.set_kernels(request.param)
    yield request.param
    npembed.set_kernels(previous)

"""Run the hostile-input suite (tests/fuzz_public_api.py) in a child process: a segfault fails here."""
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def test_hostile_input_never_crashes_the_interpreter(tmp_path):
    log = tmp_path / "errors.txt"
    env = dict(os.environ, NPEMBED_FUZZ_LOG=str(log))
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             str(HERE / "fuzz_public_api.py")], capture_output=True, text=True, env=env,
                            cwd=HERE, timeout=900)
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}"
    distinct = set(log.read_text(encoding="utf-8").splitlines())
    print(f"fuzz: {result.stdout.strip().splitlines()[-1]}; {len(distinct)} distinct error messages")
    assert len(distinct) >= 20                 # the cases really reach many different checks

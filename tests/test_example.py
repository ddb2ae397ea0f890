"""examples/imdb_sentiment.py end to end on a small generated archive."""
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from npembed import load_model
from npembed.wordvectors import projector

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "imdb_sentiment.py"
POSITIVE = "great wonderful beautiful superb moving excellent".split()
NEGATIVE = "awful boring bad terrible dull waste".split()
NEUTRAL = "the a film movie plot actor scene story it was and of".split()


def make_archive(path, rng, per_group=40):
    with tarfile.open(path, "w:gz") as archive:
        for split in ("train", "test"):
            for label, words in (("pos", POSITIVE), ("neg", NEGATIVE)):
                for i in range(per_group):
                    body = " ".join(rng.choice(NEUTRAL + words * 2, size=rng.integers(5, 40)))
                    data = body.encode()
                    info = tarfile.TarInfo(f"aclImdb/{split}/{label}/{i}_{8 if label == 'pos' else 2}.txt")
                    info.size = len(data)
                    import io
                    archive.addfile(info, io.BytesIO(data))
    return path


def run(args, tmp_path, check=True):
    env = {"NPEMBED_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin",
           "HOME": str(tmp_path), "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    import os
    env = dict(os.environ, **{k: v for k, v in env.items() if k != "PATH"})
    return subprocess.run([sys.executable, str(EXAMPLE)] + args, capture_output=True, text=True,
                          env=env, check=check, timeout=600)


def test_example_end_to_end(tmp_path):
    archive = make_archive(tmp_path / "tiny.tar.gz", np.random.default_rng(0))
    out = tmp_path / "out"
    result = run(["--data", str(archive), "--out", str(out), "--epochs", "3", "--batch-size", "16",
                  "--maxlen", "30", "--vocab-size", "30", "--embedding-dim", "4", "--mask-zero"], tmp_path)
    assert "Epoch 3/3" in result.stdout and "Total params" in result.stdout
    assert "Nearest neighbours" in result.stdout and "beautiful:" in result.stdout
    png = (out / "history.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    from matplotlib.image import imread
    assert imread(out / "history.png").shape[0] > 200
    vectors, words = projector.load_projector(out)
    assert vectors.shape == (30, 4) and len(words) == 30 and words[:4] == ["<PAD>", "<START>", "<UNK>", "<UNUSED>"]
    config = (out / "projector_config.pbtxt").read_text()
    assert 'tensor_path: "vecs.tsv"' in config and 'metadata_path: "meta.tsv"' in config
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("final_val_accuracy", "best_val_accuracy", "test_accuracy", "history", "epoch_seconds",
                "total_seconds", "seed", "settings"):
        assert key in metrics
    assert len(metrics["history"]["val_accuracy"]) == 3 and metrics["settings"]["mask_zero"] is True
    model = load_model(out / "model.npz")
    np.testing.assert_array_equal(model.get_weights()[0], vectors)
    assert not list(out.glob(".*tmp"))
    # the explorer: the most frequent words' vectors after each epoch (0: the start), sentiment colours
    with np.load(out / "snapshots.npz") as saved:
        np.testing.assert_array_equal(saved["epochs"], [0, 1, 2, 3])
        np.testing.assert_array_equal(saved["snapshots"][-1], vectors[saved["rows"]])
        assert saved["rows"].min() >= 4 and saved["scores"].shape == saved["snapshots"].shape[:2]
    page = (out / "explorer.html").read_text(encoding="utf-8")
    assert "const DATA = " in page and '"score_label": "sentiment"' in page
    again = subprocess.run([sys.executable, "-m", "npembed", "explore", str(out), "--output", str(tmp_path / "x.html")],
                           capture_output=True, text=True, check=True)
    assert "wrote" in again.stdout and (tmp_path / "x.html").stat().st_size > 1_000_000


@pytest.mark.parametrize("args, message", [
    (["--epochs", "-1"], "--epochs"), (["--vocab-size", "3"], "--vocab-size"),
    (["--batch-size", "0"], "--batch-size"), (["--frobnicate"], "unrecognized arguments"),
    (["--kernels", "cuda"], "--kernels"), (["--data", "/nonexistent/x.tar.gz"], "--data"),
])
def test_bad_flags_fail_before_any_work(tmp_path, args, message):
    result = run(args + ["--out", str(tmp_path / "out")], tmp_path, check=False)
    assert result.returncode == 2 and message in result.stderr
    assert not (tmp_path / "out").exists()


def test_out_that_is_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    result = run(["--out", str(tmp_path / "file")], tmp_path, check=False)
    assert result.returncode == 2 and "not a folder" in result.stderr


def test_ctrl_c_during_training_leaves_earlier_outputs_intact(tmp_path):
    """An interrupted re-run into the same folder loses nothing and leaves nothing half-written."""
    import os
    import signal
    archive = make_archive(tmp_path / "tiny.tar.gz", np.random.default_rng(0))
    out = tmp_path / "out"
    common = ["--data", str(archive), "--out", str(out), "--batch-size", "16", "--maxlen", "30",
              "--vocab-size", "30", "--embedding-dim", "4"]
    run(common + ["--epochs", "2"], tmp_path)
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    env = dict(os.environ, NPEMBED_CACHE=str(tmp_path / "cache"), HOME=str(tmp_path),
               NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    process = subprocess.Popen([sys.executable, str(EXAMPLE)] + common + ["--epochs", "100000"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        for line in process.stdout:                         # wait until training is under way
            if line.startswith("Epoch 3/"):
                break
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode != 0 and "KeyboardInterrupt" in stderr
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before


@pytest.mark.parametrize("case", ["below_a_file", "read_only_inside", "read_only_existing", "unwritable_for_root", "data_text",
                                  "data_folder_without_reviews", "vocab_too_big", "embedding_too_big"])
def test_hostile_flags_and_folders_fail_in_one_line_before_any_work(tmp_path, case):
    """Every flag and the output folder are checked before data is read or a model trained: the
    failure is one line on stderr, exit code 2, and no empty --out folder is left behind."""
    import os
    (tmp_path / "file").write_text("x")
    (tmp_path / "text.tar.gz").write_text("not an archive")
    (tmp_path / "empty_folder").mkdir()
    locked = tmp_path / "locked"
    locked.mkdir()
    archive = make_archive(tmp_path / "tiny.tar.gz", np.random.default_rng(0), per_group=3)
    out, args = tmp_path / "out" / "run", ["--data", str(archive)]
    if case == "below_a_file":
        out = tmp_path / "file" / "out"
    elif case.startswith("read_only"):
        out = locked / "out" if case == "read_only_inside" else locked
        os.chmod(locked, 0o500)
        if os.geteuid() == 0:                                  # root writes anywhere: use a read-only mount
            os.chmod(locked, 0o700)
            pytest.skip("root ignores folder permissions")
    elif case == "unwritable_for_root":
        out = Path("/proc/npembed-out")                        # even root cannot make a folder here
    elif case == "data_text":
        args = ["--data", str(tmp_path / "text.tar.gz")]
    elif case == "data_folder_without_reviews":
        args = ["--data", str(tmp_path / "empty_folder")]
    elif case == "vocab_too_big":
        args += ["--vocab-size", "3000000000"]
    elif case == "embedding_too_big":
        args += ["--vocab-size", "2000000000", "--embedding-dim", "64"]
    before = {p.relative_to(tmp_path) for p in tmp_path.rglob("*")}
    result = run(args + ["--out", str(out), "--epochs", "1"], tmp_path, check=False)
    os.chmod(locked, 0o700)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "error:" in result.stderr, result.stderr
    assert "Epoch" not in result.stdout and "Loaded" not in result.stdout
    new = {p.relative_to(tmp_path) for p in tmp_path.rglob("*")} - before
    assert {path.parts[0] for path in new} <= {"cache", "numba", ".cache", ".config"}, new   # no --out folder

"""The tutorial transliteration (real archive) and Chollet's notebook (small generated data) run."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REAL_ARCHIVE
from npembed.wordvectors import files as vectors
from test_example import NEGATIVE, NEUTRAL, POSITIVE, make_archive

ROOT = Path(__file__).resolve().parents[1]


def run(script, args, tmp_path):
    env = dict(os.environ, NPEMBED_CACHE=os.environ.get("NPEMBED_CACHE", str(tmp_path / "cache")),
               MPLBACKEND="Agg")
    return subprocess.run([sys.executable, str(ROOT / "examples" / script)] + args, capture_output=True,
                          text=True, env=env, timeout=900)


@pytest.mark.slow
@pytest.mark.skipif(not REAL_ARCHIVE.exists(), reason=f"no real archive at {REAL_ARCHIVE}")
def test_the_tutorial_runs_line_for_line(tmp_path):
    result = run("word_embeddings_tutorial.py", ["--data", str(REAL_ARCHIVE), "--out", str(tmp_path)], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "<START> " in out and "(None, 500, 16)" in out and "Total params: 160,289" in out
    assert "Epoch 30/30" in out and "(10000, 16)" in out
    val = float(out.rsplit("final val_accuracy ", 1)[1].split(";")[0])
    assert val > 0.86
    meta = (tmp_path / "meta.tsv").read_text().splitlines()
    assert len(meta) == 10000 and meta[:4] == ["<PAD>", "<START>", "<UNK>", "<UNUSED>"]
    assert len((tmp_path / "vecs.tsv").read_text().splitlines()) == 10000
    assert (tmp_path / "accuracy.png").read_bytes().startswith(b"\x89PNG")


def test_chollets_notebook_runs_at_small_scale(tmp_path):
    archive = make_archive(tmp_path / "tiny.tar.gz", np.random.default_rng(0), per_group=30)
    words = POSITIVE + NEGATIVE + NEUTRAL
    table = np.random.default_rng(1).normal(size=(len(words), 6))
    vectors.save_word_vectors(tmp_path / "vectors.txt", words, table)
    out = tmp_path / "out"
    result = run("using_word_embeddings.py",
                 ["--data", str(archive), "--vectors", str(tmp_path / "vectors.txt"), "--out", str(out),
                  "--epochs", "2", "--max-words", "20", "--maxlen", "12", "--training-samples", "40",
                  "--validation-samples", "20", "--verbose", "0"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    assert 0 <= results["section 1"]["val_acc"] <= 1
    runs = results["sections 2 and 3"]
    assert {"pre-trained, frozen", "learned from scratch"} <= set(runs)
    assert runs["vectors"]["tokenizer_words_found"] == 19              # every tokenizer word has a vector
    # the frozen Embedding still holds the vectors after training
    with np.load(out / "pre_trained_model.weights.npz") as saved:
        embedding = saved["weights/embedding/embeddings"]
    assert embedding.shape == (20, 6) and not embedding[0].any()          # row 0: padding, no word
    # rows 1-19 are 19 different words' vectors, exactly as read from the file
    _, stored = vectors.load_word_vectors(tmp_path / "vectors.txt")
    matches = [int(np.flatnonzero((stored == row).all(axis=1))[0]) for row in embedding[1:]]
    assert len(set(matches)) == 19


def test_chollets_notebook_without_vectors_and_with_bad_input(tmp_path):
    archive = make_archive(tmp_path / "tiny.tar.gz", np.random.default_rng(0), per_group=10)
    result = run("using_word_embeddings.py", ["--data", str(archive), "--out", str(tmp_path / "out"), "--section",
                                              "2", "--epochs", "1", "--max-words", "20", "--maxlen", "8",
                                              "--training-samples", "10", "--validation-samples", "10",
                                              "--verbose", "0"], tmp_path)
    assert result.returncode == 0 and "pre-trained model is skipped" in result.stdout
    (tmp_path / "bad.txt").write_text("good 1 2\nbad 1\n")
    result = run("using_word_embeddings.py", ["--data", str(archive), "--vectors", str(tmp_path / "bad.txt"),
                                              "--section", "3", "--out", str(tmp_path / "out"), "--epochs", "1",
                                              "--training-samples", "10", "--validation-samples", "10"], tmp_path)
    assert result.returncode == 2 and "line 2" in result.stderr and "Traceback" not in result.stderr


def test_word2vec_example_runs_at_small_scale(tmp_path):
    archive = make_archive(tmp_path / "tiny.tar.gz", np.random.default_rng(0), per_group=20)
    (tmp_path / "q.txt").write_text(": sentiment\ngreat awful wonderful boring\n")
    (tmp_path / "ws.tsv").write_text("great\twonderful\t9\ngreat\tawful\t1\nplot\tstory\t6\n")
    out = tmp_path / "out"
    result = run("word2vec_imdb.py", ["--data", str(archive), "--out", str(out), "--epochs", "2", "--min-count", "1",
                                      "--vector-size", "8", "--workers", "1", "--quiet", "--analogies",
                                      str(tmp_path / "q.txt"), "--similarities", str(tmp_path / "ws.tsv")], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["reviews"] == 80 and metrics["analogies"]["kept"] == 1 and metrics["wordsim353"]["pairs"] == 3
    words, table = vectors.load_word_vectors(out / "word2vec.txt")
    assert table.shape == (metrics["vocabulary"], 8) and "beautiful" in words
    assert "| beautiful |" in (out / "neighbors.md").read_text()
    assert (out / "neighbors.png").read_bytes().startswith(b"\x89PNG")
    # how the neighbours formed: a row per epoch (0: the random start, then 1 and 2) for each query word
    over_time = (out / "neighbors_over_time.md").read_text()
    assert all(f"| beautiful | {epoch} |" in over_time for epoch in (0, 1, 2))
    formation = metrics["formation"]["beautiful"]
    assert len(formation["similarity_by_epoch"]) == 3 and len(formation["similarity_by_epoch"][0]) == 6
    assert (out / "neighbors_formation.png").read_bytes().startswith(b"\x89PNG")
    assert '"epochs": [0, 1, 2]' in (out / "explorer.html").read_text(encoding="utf-8")
    from npembed.wordvectors import projector
    assert projector.load_projector(out)[1] == words
    bad = run("word2vec_imdb.py", ["--data", str(tmp_path / "q.txt"), "--out", str(out)], tmp_path)
    assert bad.returncode == 2 and "argument --data" in bad.stderr and "Traceback" not in bad.stderr

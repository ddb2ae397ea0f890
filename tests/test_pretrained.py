"""Pre-trained vs learned: the skip-gram cache, drift, and the study end to end on a generated corpus."""
import importlib.util
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from npembed.study import analysis
from npembed.wordvectors import pretrained
from npembed.wordvectors.word2vec import Word2Vec
from test_example import make_archive

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(vector_size=8, epochs=2, min_count=1, workers=1, seed=1)
STUDY = ["--sizes", "12", "40", "--seeds", "1", "2", "--validation", "20", "--num-words", "30", "--maxlen", "30",
         "--vector-size", "8", "--w2v-epochs", "2", "--min-count", "1", "--max-epochs", "4", "--patience", "1",
         "--quiet"]


@pytest.fixture
def archive(tmp_path, monkeypatch):
    monkeypatch.setenv("NPEMBED_CACHE", str(tmp_path / "cache"))
    return make_archive(tmp_path / "tiny.tar.gz", np.random.default_rng(0), per_group=40)


@pytest.fixture(scope="module")
def study():
    path = ROOT / "examples" / "pretrained_embeddings.py"
    spec = importlib.util.spec_from_file_location("pretrained_embeddings", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---- the cache ----------------------------------------------------------------------------------

def test_skipgram_vectors_are_trained_once_then_read_back(archive, monkeypatch):
    words, vectors, seconds, from_cache = pretrained.skipgram_vectors(archive, ("train",), verbose=0, **SMALL)
    assert vectors.shape == (len(words), 8) and vectors.dtype == np.float32 and "beautiful" in words
    assert seconds > 0 and not from_cache
    monkeypatch.setattr(Word2Vec, "fit", lambda *a, **k: pytest.fail("trained again instead of reading the cache"))
    again_words, again, again_seconds, from_cache = pretrained.skipgram_vectors(archive, ("train",), verbose=0,
                                                                                 **SMALL)
    assert again_words == words and again_seconds == seconds and from_cache
    np.testing.assert_array_equal(again, vectors)


def test_other_settings_or_splits_train_afresh(archive):
    vectors = pretrained.skipgram_vectors(archive, ("train",), verbose=0, **SMALL).vectors
    other_seed = pretrained.skipgram_vectors(archive, ("train",), verbose=0, **{**SMALL, "seed": 2}).vectors
    assert not np.array_equal(other_seed, vectors)
    pretrained.skipgram_vectors(archive, ("train", "test"), verbose=0, **SMALL)
    cached = sorted((Path(archive).parent / "cache").glob("skipgram-*.npz"))
    assert len(cached) == 3


@pytest.mark.parametrize("damage", ["truncate", "garbage", "wrong-shape"])
def test_a_damaged_cache_is_retrained_never_trusted(archive, damage):
    words, vectors, _, _ = pretrained.skipgram_vectors(archive, ("train",), verbose=0, **SMALL)
    cache_file, = (Path(archive).parent / "cache").glob("skipgram-*.npz")
    if damage == "truncate":
        cache_file.write_bytes(cache_file.read_bytes()[:200])
    elif damage == "garbage":
        cache_file.write_bytes(b"not a zip file at all")
    else:
        with np.load(cache_file) as saved:
            key, stored_words = saved["key"], saved["words"]
        np.savez(cache_file.with_suffix(""), key=key, words=stored_words, vectors=np.zeros((2, 8), np.float32),
                 train_seconds=np.array(1.0))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again_words, again, _, from_cache = pretrained.skipgram_vectors(archive, ("train",), verbose=0, **SMALL)
    assert not from_cache and any("skip-gram cache" in str(w.message) for w in caught)
    assert again_words == words
    np.testing.assert_array_equal(again, vectors)                   # workers=1: the same vectors again


def test_bad_settings_fail_before_reading_anything(tmp_path):
    with pytest.raises(ValueError, match="vector_size"):
        pretrained.skipgram_vectors(tmp_path / "missing.tar.gz", vector_size=0)


# ---- drift --------------------------------------------------------------------------------------

def test_drift_is_the_cosine_distance_row_by_row():
    start = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [2.0, 0.0]])
    end = np.array([[3.0, 0.0], [-1.0, 1.0], [1.0, 0.0], [-1.0, 0.0]])
    moved = analysis.drift(start, end)
    np.testing.assert_allclose(moved[[0, 1, 3]], [0.0, 1.0, 2.0], atol=1e-12)
    assert np.isnan(moved[2])
    with pytest.raises(ValueError, match="same shape"):
        analysis.drift(start, end[:2])


# ---- the study ----------------------------------------------------------------------------------

def test_subsets_are_drawn_by_seed_and_never_touch_validation(study):
    held, subset = study.split(100, 30, 50, seed=4)
    assert len(held) == 30 and len(subset) == 50 and len(set(subset)) == 50
    assert not set(held) & set(subset)
    held_again, other = study.split(100, 30, 50, seed=5)
    np.testing.assert_array_equal(held, held_again)                  # validation: the same for every run
    assert set(other) != set(subset)
    with pytest.raises(ValueError, match="--sizes 80"):
        study.split(100, 30, 80, seed=4)


def test_frozen_stays_put_and_fine_tuned_starts_at_the_vectors(study, archive):
    args = study.parse_args(["--data", str(archive)] + STUDY)
    data, words_by_id = study.load_reviews(args)
    matrix, info = study.skipgram_matrix(args, words_by_id)
    assert info["ids_with_a_vector"] > 10 and not matrix[:4].any()     # reserved ids: no vector
    row = words_by_id.index("beautiful")
    words, vectors, _, _ = pretrained.skipgram_vectors(archive, ("train", "unsup"), verbose=0, **SMALL)
    np.testing.assert_array_equal(matrix[row], vectors[words.index("beautiful")])
    for kind in ("frozen", "fine-tuned"):
        model = study.classifier(kind, matrix, args, seed=1)
        model.build((None, args.maxlen))
        np.testing.assert_array_equal(model.layers[0].get_weights()[0], matrix)    # the first step's weights
        model, _ = study.train_one(kind, matrix, data, 40, 1, args)
        embedding = model.layers[0].get_weights()[0]
        if kind == "frozen":
            np.testing.assert_array_equal(embedding, matrix)
        else:
            assert not np.array_equal(embedding, matrix)


def test_the_study_writes_its_table_plot_and_document_and_reruns_identically(study, archive, tmp_path):
    out, docs = tmp_path / "out", tmp_path / "docs"
    first = study.main(["--data", str(archive), "--out", str(out), "--docs", str(docs)] + STUDY)
    assert len(first["runs"]) == 2 * 3 * 2                                   # sizes x kinds x seeds
    assert {(r["size"], r["kind"]) for r in first["runs"]} == {(s, k) for s in (12, 40) for k in study.KINDS}
    for r in first["runs"]:
        assert 0 <= r["test_accuracy"] <= 1 and 1 <= r["best_epoch"] <= r["epochs_run"] <= 4
        assert r["capped"] == (r["epochs_run"] == 4 and r["best_epoch"] > 4 - 1 - 1)   # patience 1
    table = (out / "results.md").read_text()
    assert "| 12 |" in table and "| 40 |" in table and "fine-tuned" in table
    assert (out / "accuracy_vs_labels.png").read_bytes().startswith(b"\x89PNG")
    assert (docs / "img" / "pretrained_vs_learned.png").read_bytes().startswith(b"\x89PNG")
    document = (docs / "pretrained-vs-learned.md").read_text()
    assert "img/pretrained_vs_learned.png" in document and table.strip() in document
    drift = json.loads((out / "metrics.json").read_text())["drift"]
    assert drift["size"] == 40 and drift["words_seen"] > 0 and drift["median_drift_seen"] > 0
    second = study.main(["--data", str(archive), "--out", str(tmp_path / "again")] + STUDY)
    assert [r["test_accuracy"] for r in second["runs"]] == [r["test_accuracy"] for r in first["runs"]]


def test_impossible_sizes_fail_before_training(study, archive, capsys):
    with pytest.raises(ValueError, match="--sizes 500"):
        study.main(["--data", str(archive), "--out", "unused"] + STUDY + ["--sizes", "500"])
    with pytest.raises(SystemExit):
        study.parse_args(["--data", str(archive), "--sizes", "0"])
    assert "--sizes must be >= 2" in capsys.readouterr().err


def test_the_flatten_variant_runs_all_three_kinds(study, archive, tmp_path):
    metrics = study.main(["--data", str(archive), "--out", str(tmp_path / "flat"), "--flatten"] + STUDY
                         + ["--sizes", "40", "--seeds", "1"])
    assert metrics["settings"]["flatten"] and len(metrics["runs"]) == 3
    model = study.classifier("frozen", np.zeros((30, 8), np.float32), study.parse_args(
        ["--data", str(archive), "--flatten", "--maxlen", "30"]), seed=1)
    assert [type(layer).__name__ for layer in model.layers] == ["Embedding", "Flatten", "Dense", "Dense"]

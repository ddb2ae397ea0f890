"""Projector files always load with rows aligned; neighbours follow gensim's conventions."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npembed.wordvectors import projector

tricky = st.sampled_from(["", " ", "\t", "\n", "\r\n", "a\tb", "line\nbreak", "\\", "\\0", "\\u0041",
                          "😀", "שלום", "مرحبا", "\u2028", "\x0b", "\x85", "  \u3000 ", "<PAD>", "\ud800"])
words_strategy = st.lists(st.one_of(st.text(max_size=6), tricky), min_size=1, max_size=12)


@given(words=words_strategy, data=st.data())
def test_round_trip_keeps_rows_aligned(tmp_path_factory, words, data):
    out = tmp_path_factory.mktemp("projector")
    vectors = np.random.default_rng(len(words)).normal(size=(len(words), 3)).astype(np.float32)
    projector.export_projector(vectors, words, out)
    loaded_vectors, loaded_words = projector.load_projector(out)
    assert loaded_words == words
    np.testing.assert_allclose(loaded_vectors, vectors, rtol=1e-6)
    lines = (out / "meta.tsv").read_bytes().decode("utf-8").split("\n")
    assert len(lines) == len(words) + 1 and lines[-1] == ""
    assert all(line.strip() and "\t" not in line and "\r" not in line for line in lines[:-1])
    assert len((out / "vecs.tsv").read_text().splitlines()) == len(words)


def test_config_names_both_files(tmp_path):
    projector.export_projector(np.ones((2, 4)), ["a", "b"], tmp_path, tensor_name="emb")
    config = (tmp_path / "projector_config.pbtxt").read_text()
    for part in ('tensor_name: "emb"', 'tensor_path: "vecs.tsv"', 'metadata_path: "meta.tsv"',
                 "tensor_shape: 2", "tensor_shape: 4"):
        assert part in config


def test_export_bad_input(tmp_path):
    with pytest.raises(ValueError, match="pair up"):
        projector.export_projector(np.ones((2, 2)), ["a"], tmp_path)
    with pytest.raises(TypeError, match="words\\[1\\]"):
        projector.export_projector(np.ones((2, 2)), ["a", 3], tmp_path)
    with pytest.raises(ValueError, match="finite"):
        projector.export_projector(np.array([[np.nan, 1.0]]), ["a"], tmp_path)
    with pytest.raises(ValueError, match=r"vectors\[0, 1\] is 3.40282e\+38, beyond the largest float32"):
        projector.export_projector(np.array([[1.0, 3.40282357e38]]), ["a"], tmp_path)   # hypothesis found it
    assert not list(tmp_path.iterdir())                       # refused before anything was written
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        projector.export_projector(np.ones((1, 2)), ["a"], tmp_path / "file")


def test_load_detects_misaligned_files(tmp_path):
    projector.export_projector(np.ones((3, 2)), ["a", "b", "c"], tmp_path)
    (tmp_path / "meta.tsv").write_text("a\nb\n")
    with pytest.raises(ValueError, match="do not belong together"):
        projector.load_projector(tmp_path)
    (tmp_path / "projector_manifest.json").unlink()              # as written before manifests existed
    with pytest.raises(ValueError, match="3 rows but"):
        projector.load_projector(tmp_path)
    with pytest.raises(FileNotFoundError):
        projector.load_projector(tmp_path / "nowhere")


VECTORS = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0], [0.7, 0.7]])
WORDS = ["good", "great", "plot", "bad", "fine"]


def test_nearest_neighbors_cosine_excludes_query():
    result = projector.nearest_neighbors(VECTORS, WORDS, "good", topn=3)
    assert [w for w, _ in result] == ["great", "fine", "plot"]
    assert result[0][1] == pytest.approx(0.9 / np.hypot(0.9, 0.1))
    assert len(projector.nearest_neighbors(VECTORS, WORDS, "good", topn=50)) == 4


def test_analogy_uses_mean_of_unit_vectors():
    result = projector.analogy(VECTORS, WORDS, positive=["great", "plot"], negative=["bad"], topn=1)
    unit = VECTORS / np.linalg.norm(VECTORS, axis=1, keepdims=True)
    query = (unit[1] + unit[2] - unit[3]) / 3
    expected = unit @ (query / np.linalg.norm(query))
    expected[[1, 2, 3]] = -np.inf
    assert result[0][0] == WORDS[int(np.argmax(expected))]


def test_unknown_word_suggests_close_spellings():
    with pytest.raises(KeyError, match="'gret' is not in the vocabulary; did you mean 'great'"):
        projector.nearest_neighbors(VECTORS, WORDS, "gret")

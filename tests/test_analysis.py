"""analysis numbers, the dynamics plots, the command line, and examples/embedding_dynamics.py."""
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from npembed.study import analysis
from npembed.study import plotting
from npembed.wordvectors import projector
from test_example import ROOT, make_archive
from test_model import reviews, tutorial_model


@given(arrays(np.float64, st.tuples(st.integers(3, 12), st.integers(2, 5)),
              elements=st.floats(-10, 10, allow_nan=False)))
def test_pca_agrees_with_a_direct_svd_up_to_sign(vectors):
    projected, components, ratio = analysis.pca(vectors, 2)
    centred = vectors - vectors.mean(axis=0)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    if s[0] < 1e-6 or (len(s) > 2 and abs(s[1] - s[2]) < 1e-6) or abs(s[0] - s[1]) < 1e-6:
        return                                            # components not unique: nothing to compare
    for k in range(2):
        sign = np.sign(components[k] @ vt[k])
        np.testing.assert_allclose(components[k], sign * vt[k], atol=1e-8)
        np.testing.assert_allclose(projected[:, k], sign * u[:, k] * s[k], atol=1e-6)
    np.testing.assert_allclose(ratio, s[:2] ** 2 / (s ** 2).sum(), rtol=1e-9)


def test_sentiment_direction_separates_the_label_words(rng):
    x, y = reviews(rng, n=120)                            # id 3 marks positive reviews, id 4 negative
    model = tutorial_model(seed=0)
    model.fit(x, y, epochs=25, batch_size=16, verbose=0)
    direction = analysis.sentiment_direction(model)
    assert np.linalg.norm(direction) == pytest.approx(1.0)
    table = model.get_weights()[0]
    assert table[3] @ direction > 0 > table[4] @ direction
    scores = analysis.word_sentiment(model)
    assert scores[3] > 0 > scores[4]


def test_movement_and_neighbours_over_time():
    first, last = np.zeros((3, 2)), np.array([[3.0, 4.0], [0.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(analysis.movement([first, last]), [5, 0, 1])
    words = ["a", "b", "c"]
    tables = [np.array([[1.0, 0], [0.9, 0.1], [0, 1]]), np.array([[1.0, 0], [0, 1], [0.9, 0.1]])]
    assert analysis.neighbors_over_time(tables, words, "a", topn=1) == [["b"], ["c"]]


def test_plots_are_written_without_a_display(tmp_path, rng):
    from matplotlib.image import imread
    points = rng.normal(size=(30, 2))
    words = [f"w{i}" for i in range(30)]
    paths = [
        plotting.plot_word_map(points, words, rng.normal(size=30), tmp_path / "map.png", labelled=["w1", "zz"]),
        plotting.plot_trajectories(np.arange(4), rng.normal(size=(4, 3)), ["a", "b", "c"], tmp_path / "t.png"),
        plotting.plot_movement_vs_frequency(rng.integers(1, 1000, 30), rng.random(30), tmp_path / "m.png"),
    ]
    for path in paths:
        image = imread(path)
        assert image.shape[0] >= 500 and image.shape[1] >= 900 and image.std() > 0


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "npembed", *args], capture_output=True, text=True, cwd=ROOT)


def test_command_line_neighbors_and_analogy(tmp_path):
    vectors = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0]])
    projector.export_projector(vectors, ["good", "great", "plot", "bad"], tmp_path)
    result = run_cli("neighbors", str(tmp_path), "good", "--topn", "2")
    assert result.returncode == 0 and result.stdout.split()[1::2] == ["great", "plot"]
    result = run_cli("analogy", str(tmp_path), "--positive", "great", "--negative", "bad", "--topn", "1")
    assert result.returncode == 0 and result.stdout.split()[1] == "good"
    result = run_cli("neighbors", str(tmp_path), "gret")
    assert result.returncode == 1 and "'gret' is not in the vocabulary; did you mean 'great'" in result.stderr
    result = run_cli("neighbors", str(tmp_path / "missing"), "good")
    assert result.returncode == 1 and "no projector file" in result.stderr


def test_embedding_dynamics_example(tmp_path):
    archive = make_archive(tmp_path / "tiny.tar.gz", np.random.default_rng(1))
    out = tmp_path / "dynamics"
    import os
    env = dict(os.environ, NPEMBED_CACHE=str(tmp_path / "cache"))
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "embedding_dynamics.py"), "--data",
                             str(archive), "--out", str(out), "--epochs", "5", "--vocab-size", "30",
                             "--maxlen", "30", "--map-words", "20"], capture_output=True, text=True, env=env,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    for name in ("word_map.png", "trajectories.png", "movement.png", "neighbors.md", "snapshots.npz"):
        assert (out / name).stat().st_size > 0
    table = (out / "neighbors.md").read_text()
    assert "| 1 |" in table and "| 5 |" in table and "beautiful" in table
    with np.load(out / "snapshots.npz") as saved:
        assert saved["snapshots"].shape == (6, 30, 16)


def test_word_map_labels_do_not_overlap_when_a_spot_is_free(tmp_path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    figure = Figure(figsize=(4, 4))
    axis = figure.subplots()
    axis.set_xlim(-1, 1)
    axis.set_ylim(-1, 1)
    # four words on one point and two more right beside it: the worst case for fixed offsets
    marked = [(word, (0.0, 0.0)) for word in ("boring", "awful", "bad", "worst")]
    marked += [("waste", (0.01, 0.0)), ("dull", (0.0, 0.01))]
    texts = plotting.place_labels(axis, marked)
    renderer = FigureCanvasAgg(figure).get_renderer()
    boxes = [text.get_window_extent(renderer) for text in texts]
    assert [text.get_text() for text in texts] == [word for word, _ in marked]
    for i in range(len(boxes)):
        for j in range(i):
            assert not boxes[i].overlaps(boxes[j]), (marked[i][0], marked[j][0])


def test_similarity_over_time_is_the_cosine_in_each_snapshot():
    words = ["a", "b", "c"]
    first = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    second = np.array([[1.0, 0.0], [3.0, 0.0], [-1.0, 0.0]])
    similarities = analysis.similarity_over_time([first, second], words, "a", ["b", "c"])
    np.testing.assert_allclose(similarities, [[0.0, np.sqrt(0.5)], [1.0, -1.0]])
    with pytest.raises(KeyError, match="'zz' is not in the vocabulary"):
        analysis.similarity_over_time([first], words, "a", ["zz"])


def test_explore_command_refuses_bad_folders(tmp_path):
    words = [f"w{i}" for i in range(6)]
    projector.export_projector(np.eye(6, 3), words, tmp_path)

    def explore():
        return subprocess.run([sys.executable, "-m", "npembed", "explore", str(tmp_path)], capture_output=True,
                              text=True)
    missing = explore()
    assert missing.returncode == 1 and "snapshots.npz" in missing.stderr and "Traceback" not in missing.stderr
    np.savez(tmp_path / "snapshots.npz", snapshots=np.zeros((2, 3, 3)), epochs=np.arange(2), rows=np.array([0, 1, 9]))
    out_of_range = explore()
    assert out_of_range.returncode == 1 and "rows must be ids in [0, 6)" in out_of_range.stderr
    (tmp_path / "snapshots.npz").write_bytes(b"garbage")
    garbage = explore()
    assert garbage.returncode == 1 and "not a readable .npz" in garbage.stderr
    np.savez(tmp_path / "snapshots.npz", snapshots=np.ones((2, 3, 3)) + np.arange(3)[:, None], epochs=np.arange(2),
             rows=np.array([0, 2, 4]))
    fine = explore()
    assert fine.returncode == 0 and (tmp_path / "explorer.html").exists()

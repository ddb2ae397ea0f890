"""Pictures of training, drawn with matplotlib's object API on the Agg canvas (no display needed)."""
import io

import numpy as np

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..atomic import atomic_write


def save_figure(figure, path, dpi=120):
    """Render a Figure to PNG and write it atomically."""
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    with atomic_write(path) as handle:
        handle.write(buffer.getvalue())
    return path


def plot_history(history, path, title="Training and validation"):
    """Accuracy and loss by epoch, training vs validation, as in the tutorial's two plots."""
    logs = getattr(history, "history", history)
    epochs = range(1, len(logs["loss"]) + 1)
    figure = Figure(figsize=(11, 4.2))
    for axis, key in zip(figure.subplots(1, 2), ("accuracy", "loss")):
        if key in logs:
            axis.plot(epochs, logs[key], "o-", markersize=3, label=f"training {key}")
        if f"val_{key}" in logs:
            axis.plot(epochs, logs[f"val_{key}"], "s-", markersize=3, label=f"validation {key}")
        axis.set_xlabel("epoch")
        axis.set_ylabel(key)
        axis.set_title(f"{title}: {key}")
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    return save_figure(figure, path)


def plot_word_map(points, words, scores, path, labelled=(), title="Embedding map"):
    """Words at 2-D points (e.g. analysis.pca), coloured by score (blue negative, red positive)."""
    figure = Figure(figsize=(9, 7.5))
    axis = figure.subplots()
    limit = float(np.abs(scores).max()) or 1.0
    dots = axis.scatter(points[:, 0], points[:, 1], c=scores, cmap="coolwarm", vmin=-limit, vmax=limit,
                        s=9, alpha=0.8, linewidths=0)
    figure.colorbar(dots, ax=axis, label="sentiment score (along the learned direction)")
    position = {word: i for i, word in enumerate(words)}
    marked = [(word, points[position[word]]) for word in labelled if word in position]
    for _, point in marked:
        axis.scatter(*point, s=30, facecolors="none", edgecolors="black", linewidths=0.8)
    axis.set_xlabel("principal component 1")
    axis.set_ylabel("principal component 2")
    axis.set_title(title)
    figure.tight_layout()
    place_labels(axis, marked)
    return save_figure(figure, path)


# where a label may go around its point: offset in points, and the text's alignment there
_LABEL_SPOTS = [((4, 3), "left", "bottom"), ((4, -3), "left", "top"), ((-4, 3), "right", "bottom"),
                ((-4, -3), "right", "top"), ((4, 13), "left", "bottom"), ((4, -13), "left", "top"),
                ((-4, 13), "right", "bottom"), ((-4, -13), "right", "top")]


def place_labels(axis, marked, fontsize=9):
    """Label each (word, point) at the first spot around it that overlaps no label placed before.

    Greedy, in the given order; a label with no free spot takes the first one. Returns the texts.
    """
    renderer = FigureCanvasAgg(axis.figure).get_renderer()

    def label(word, point, spot):
        offset, ha, va = spot
        text = axis.annotate(word, point, fontsize=fontsize, xytext=offset, textcoords="offset points",
                             ha=ha, va=va)
        return text, text.get_window_extent(renderer)

    taken, texts = [], []
    for word, point in marked:
        for spot in _LABEL_SPOTS:
            text, box = label(word, point, spot)
            if not any(box.overlaps(other) for other in taken):
                break
            text.remove()
        else:
            text, box = label(word, point, _LABEL_SPOTS[0])
        taken.append(box)
        texts.append(text)
    return texts


def plot_trajectories(epochs, scores, words, path, title="Words along the sentiment direction"):
    """scores (snapshots, words): each word's score at each snapshot, one line per word."""
    figure = Figure(figsize=(9, 5))
    axis = figure.subplots()
    for j, word in enumerate(words):
        axis.plot(epochs, scores[:, j], "o-", markersize=3, label=word)
    axis.axhline(0, color="gray", linewidth=0.8)
    axis.set_xlabel("epoch")
    axis.set_ylabel("score along the final sentiment direction")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(ncol=2)
    figure.tight_layout()
    return save_figure(figure, path)


def plot_movement_vs_frequency(counts, distances, path, title="How far words moved, by frequency"):
    """Distance each word moved during training against how often it occurs (log scale)."""
    figure = Figure(figsize=(8, 5))
    axis = figure.subplots()
    axis.scatter(np.maximum(counts, 1), distances, s=5, alpha=0.5, linewidths=0)
    axis.set_xscale("log")
    axis.set_xlabel("occurrences in the training reviews (log scale)")
    axis.set_ylabel("distance moved (L2, first to last snapshot)")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    return save_figure(figure, path)


def plot_neighbor_comparison(neighbors, path, titles=("embedding A", "embedding B")):
    """For each query word, its nearest neighbours in two embeddings side by side, as bars of cosine
    similarity. neighbors: {word: ([(neighbour, cosine), ...], [(neighbour, cosine), ...])}."""
    words = list(neighbors)
    if not words:
        raise ValueError("neighbors is empty: give {word: (left pairs, right pairs)}")
    figure = Figure(figsize=(11, 2.1 * len(words) + 0.6))
    axes = figure.subplots(len(words), 2, squeeze=False)
    for row, word in enumerate(words):
        for column, pairs in enumerate(neighbors[word]):
            axis = axes[row, column]
            labels = [neighbour for neighbour, _ in pairs][::-1]
            axis.barh(range(len(pairs)), [similarity for _, similarity in pairs][::-1],
                      color="tab:blue" if column == 0 else "tab:orange")
            axis.set_yticks(range(len(pairs)), labels, fontsize=8)
            axis.set_xlim(0, 1)
            axis.set_title(f'"{word}": {titles[column]}', fontsize=10)
            axis.grid(axis="x", alpha=0.3)
    axes[-1, 0].set_xlabel("cosine similarity")
    axes[-1, 1].set_xlabel("cosine similarity")
    figure.tight_layout()
    return save_figure(figure, path)


def plot_neighbor_formation(epochs, formation, path, title="How the neighbours formed"):
    """One panel per query word: its cosine similarity to each of its final neighbours, epoch by epoch.

    formation: {word: (neighbours, similarities (snapshots, neighbours))} (analysis.similarity_over_time).
    """
    words = list(formation)
    if not words:
        raise ValueError("formation is empty: give {word: (neighbours, similarities)}")
    columns = min(len(words), 2)
    rows = -(-len(words) // columns)
    figure = Figure(figsize=(5.5 * columns, 3.4 * rows))
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for axis, word in zip(axes, words):
        neighbours, similarities = formation[word]
        for j, neighbour in enumerate(neighbours):
            axis.plot(epochs, np.asarray(similarities)[:, j], "o-", markersize=3, label=neighbour)
        axis.set_title(f'"{word}" and its final neighbours', fontsize=10)
        axis.set_xlabel("epoch")
        axis.set_ylabel("cosine similarity")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7, ncol=2)
    for axis in axes[len(words):]:
        axis.set_visible(False)
    figure.suptitle(title)
    figure.tight_layout()
    return save_figure(figure, path)


def plot_curves_with_spread(x, curves, path, xlabel, ylabel, title, log_x=True):
    """One line per curve: the mean over runs at each x, the range (min to max) shaded.

    x (points,); curves: {label: (points, runs) array}, e.g. test accuracy by labeled reviews x seed.
    """
    x = np.asarray(x, dtype=float)
    figure = Figure(figsize=(7.5, 4.8))
    axis = figure.subplots()
    for label, runs in curves.items():
        runs = np.asarray(runs, dtype=float).reshape(len(x), -1)
        line, = axis.plot(x, runs.mean(axis=1), "o-", markersize=4, label=label)
        axis.fill_between(x, runs.min(axis=1), runs.max(axis=1), color=line.get_color(), alpha=0.2, linewidth=0)
    if log_x:
        axis.set_xscale("log")
    axis.set_xticks(x, [f"{value:,.0f}" for value in x])
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    return save_figure(figure, path)

"""Pictures of training, drawn with matplotlib's object API on the Agg canvas (no display needed)."""
import io

import numpy as np

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ._io import atomic_write


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
    for word in labelled:
        if word in position:
            i = position[word]
            axis.annotate(word, points[i], fontsize=9, xytext=(3, 3), textcoords="offset points")
            axis.scatter(*points[i], s=30, facecolors="none", edgecolors="black", linewidths=0.8)
    axis.set_xlabel("principal component 1")
    axis.set_ylabel("principal component 2")
    axis.set_title(title)
    figure.tight_layout()
    return save_figure(figure, path)


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

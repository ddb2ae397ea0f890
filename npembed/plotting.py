"""Pictures of training, drawn with matplotlib's object API on the Agg canvas (no display needed)."""
import io

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

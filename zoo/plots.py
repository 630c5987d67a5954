"""Training curves as an image; matplotlib (Agg, no pyplot) is imported only when drawing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from zoo.atomic import atomic_path
from zoo.errors import UsageError, ZooError

IMAGE_FORMATS = ("png", "svg", "pdf")


def plot_training_curves(histories: Mapping[str, Sequence[Mapping[str, Any]]], path: Path) -> None:
    """Draw loss and accuracy per epoch, train (solid) and validation (dashed), one colour per history.

    ``histories`` maps a label (a run, a model) to its epochs: dicts with
    ``epoch``, ``train_loss``, ``train_accuracy`` and optionally ``val_loss``,
    ``val_accuracy`` (``EpochMetrics`` as dicts). The image format follows
    ``path``'s suffix (png, svg, pdf; png without one). The file is written
    atomically (``zoo.atomic.atomic_path``: a temporary file beside it, then a rename).
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".") or "png"
    if fmt not in IMAGE_FORMATS:
        raise UsageError(f"--plot writes {', '.join(IMAGE_FORMATS)}; got {path.name!r}, use e.g. curves.png")
    if not any(histories.values()):
        raise UsageError("nothing to plot: no epochs were recorded")
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ZooError("plotting needs matplotlib: pip install 'zoo[plot]'") from exc

    figure = Figure(figsize=(11, 4.2), layout="constrained")
    FigureCanvasAgg(figure)
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    for index, (label, epochs) in enumerate(histories.items()):
        color = f"C{index % 10}"
        for split, style in (("train", "-"), ("val", "--")):
            for axes, quantity in ((loss_axes, "loss"), (accuracy_axes, "accuracy")):
                points = [e for e in epochs if e.get(f"{split}_{quantity}") is not None]
                if points:
                    xs = [e["epoch"] for e in points]
                    ys = [e[f"{split}_{quantity}"] for e in points]
                    axes.plot(xs, ys, style, color=color, marker="o", markersize=3, label=f"{label} {split}")
    for axes, title in ((loss_axes, "loss"), (accuracy_axes, "accuracy")):
        axes.set_title(title)
        axes.set_xlabel("epoch")
        axes.grid(True, alpha=0.3)
        axes.xaxis.get_major_locator().set_params(integer=True)
    accuracy_axes.legend(fontsize="small", loc="best")
    try:
        with atomic_path(path) as temporary:
            figure.savefig(temporary, format=fmt, dpi=120)
    except OSError as exc:
        raise ZooError(f"cannot write {path}: {exc.strerror or exc}; choose a writable location") from exc

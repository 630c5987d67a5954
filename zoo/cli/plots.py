"""Figures people would rather look at: training curves, confusion matrices, comparisons.

matplotlib (Agg canvas, no pyplot) is imported only when drawing; every file
is written atomically (``zoo.atomic.atomic_path``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from zoo.api.atomic import atomic_path
from zoo.api.errors import UsageError, ZooError

IMAGE_FORMATS = ("png", "svg", "pdf")
# key prefix, line style, marker, legend name: the markers tell the splits apart where one epoch draws no line.
SPLIT_STYLES = (("train", "-", "o", "train"), ("val", "--", "s", "validation"))
ACCURACY_KEYS = ("train_accuracy", "val_accuracy")  # stored as fractions; drawn in percent like every output
# Where a point's label may go, in offset points from it: above right first, then the other corners.
LABEL_SPOTS = (((5, 5), "left", "bottom"), ((5, -5), "left", "top"), ((-5, 5), "right", "bottom"),
               ((-5, -5), "right", "top"))


def _image_format(path: Path) -> str:
    fmt = path.suffix.lower().lstrip(".") or "png"
    if fmt not in IMAGE_FORMATS:
        raise UsageError(f"--plot writes {', '.join(IMAGE_FORMATS)}; got {path.name!r}, use e.g. curves.png")
    return fmt


def check_plot_path(path: Path) -> None:
    """Refuse, before any work, a ``--plot`` path zoo could not draw into: an unknown format or no matplotlib."""
    import importlib.util

    _image_format(path)
    if importlib.util.find_spec("matplotlib") is None:
        raise ZooError("plotting needs matplotlib: pip install 'zoo[plot]'")


def _new_figure(width: float, height: float) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ZooError("plotting needs matplotlib: pip install 'zoo[plot]'") from exc
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Any, path: Path, fmt: str) -> None:
    try:
        with atomic_path(path) as temporary:
            figure.savefig(temporary, format=fmt, dpi=120)
    except OSError as exc:
        raise ZooError(f"cannot write {path}: {exc.strerror or exc}; choose a writable location") from exc


def _draw_curves(loss_axes: Any, accuracy_axes: Any, histories: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
    """One colour per history, solid for train and dashed for validation; the legend, outside the
    accuracy panel so it never hides a curve, names each history once and the two line styles."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    for index, epochs in enumerate(histories.values()):
        for split, style, marker, _ in SPLIT_STYLES:
            for axes, quantity in ((loss_axes, "loss"), (accuracy_axes, "accuracy")):
                points = [e for e in epochs if e.get(f"{split}_{quantity}") is not None]
                if points:
                    xs = [e["epoch"] for e in points]
                    scale = 100.0 if quantity == "accuracy" else 1.0
                    ys = [e[f"{split}_{quantity}"] * scale for e in points]
                    axes.plot(xs, ys, style, color=f"C{index % 10}", marker=marker,
                              markersize=3 if len(points) > 1 else 6,
                              markerfacecolor="none" if split == "val" else f"C{index % 10}")
    for axes, title, ylabel in ((loss_axes, "loss", "cross-entropy loss"),
                                (accuracy_axes, "accuracy", "top-1 accuracy (%)")):
        axes.set_title(title)
        axes.set_ylabel(ylabel)
        axes.set_xlabel("epoch")
        axes.grid(True, alpha=0.3)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # a 1-epoch run gets tick "1" only
    handles = [Line2D([], [], color=f"C{index % 10}", linewidth=4, label=label)
               for index, label in enumerate(histories)]
    handles += [Line2D([], [], color="grey", linestyle=style, marker=marker, markersize=5, label=name,
                       markerfacecolor="none" if split == "val" else "grey")
                for split, style, marker, name in SPLIT_STYLES]
    accuracy_axes.legend(handles=handles, fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1),
                         borderaxespad=0)


def plot_training_curves(histories: Mapping[str, Sequence[Mapping[str, Any]]], path: Path) -> None:
    """Draw loss and accuracy per epoch, train (solid) and validation (dashed), one colour per history.

    ``histories`` maps a label (a run, a model) to its epochs: dicts with
    ``epoch``, ``train_loss``, ``train_accuracy`` and optionally ``val_loss``,
    ``val_accuracy`` (``EpochMetrics`` as dicts). The image format follows
    ``path``'s suffix (png, svg, pdf; png without one).
    """
    path = Path(path)
    fmt = _image_format(path)
    if not any(histories.values()):
        raise UsageError("nothing to plot: no epochs were recorded")
    figure = _new_figure(11, 4.2)
    _draw_curves(*figure.subplots(1, 2), histories)
    _save(figure, path, fmt)


def plot_confusion(confusion: Sequence[Sequence[int]], classes: Sequence[str], path: Path, *, title: str = "") -> None:
    """A confusion matrix (rows: true class, columns: predicted), counts written in the cells."""
    path = Path(path)
    fmt = _image_format(path)
    size = max(5.0, 0.45 * len(classes) + 2)
    figure = _new_figure(size + 1, size)
    axes = figure.subplots()
    image = axes.imshow(confusion, cmap="Blues")
    figure.colorbar(image, ax=axes, shrink=0.8)
    ticks = range(len(classes))
    axes.set_xticks(list(ticks), labels=list(classes), rotation=60, ha="right", fontsize="small")
    axes.set_yticks(list(ticks), labels=list(classes), fontsize="small")
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    if len(classes) <= 20:
        peak = max((max(row) for row in confusion), default=0) or 1
        for i, row in enumerate(confusion):
            for j, count in enumerate(row):
                color = "white" if count > peak / 2 else "black"
                axes.text(j, i, str(count), ha="center", va="center", fontsize="x-small", color=color)
    axes.set_title(title or "confusion matrix")
    _save(figure, path, fmt)


def plot_comparison(rows: Sequence[Mapping[str, Any]], path: Path, *, title: str = "") -> None:
    """Left: test top-1 against inference throughput, one labelled point per model with its
    spread over seeds. Right two: every model's training curves (first seed)."""
    path = Path(path)
    fmt = _image_format(path)
    done = [row for row in rows if row.get("top1_pct") is not None]
    if not done:
        raise ZooError("nothing to plot: no model finished")
    figure = _new_figure(17, 5)
    scatter, loss_axes, accuracy_axes = figure.subplots(1, 3)
    labels = []
    for index, row in enumerate(done):
        x = row.get("infer_samples_per_sec") or 0.0
        y = row["top1_pct"]
        scatter.errorbar(x, y, yerr=row.get("top1_pct_std") or 0.0, fmt="o", color=f"C{index % 10}", capsize=4)
        labels.append(scatter.annotate(row["model"], (x, y), textcoords="offset points", xytext=LABEL_SPOTS[0][0],
                                       fontsize="small"))  # moved by _separate_labels if it covers another
    scatter.set_xscale("log")
    _label_counts(scatter.xaxis)
    scatter.margins(x=0.25, y=0.15)  # room for the labels
    scatter.set_xlabel("inference images/s (log scale)")
    scatter.set_ylabel("test top-1 (%)")
    scatter.set_title(title or "accuracy vs inference throughput")
    scatter.grid(True, alpha=0.3)
    histories = {
        row["model"]: next(iter(row["histories"].values()))
        for row in done
        if row.get("histories") and any(row["histories"].values())
    }
    _draw_curves(loss_axes, accuracy_axes, histories)
    _separate_labels(figure, labels)
    _save(figure, path, fmt)


def _label_counts(axis: Any) -> None:
    """Label a log axis of counts with short plain numbers ("600", "2k", "1.5M") on the ticks
    matplotlib's log formatter would label: its "3x10^3" style ran neighbours into each other."""
    from matplotlib.ticker import EngFormatter, LogFormatter

    short = EngFormatter(sep="")

    class CountFormatter(LogFormatter):
        def __call__(self, x: float, pos: int | None = None) -> str:
            if not super().__call__(x, pos):  # a tick the log formatter leaves bare stays bare
                return ""
            return short(x) if x >= 1 else f"{x:g}"  # EngFormatter would write 0.5 as "500m"

    axis.set_major_formatter(CountFormatter(labelOnlyBase=False))
    axis.set_minor_formatter(CountFormatter(labelOnlyBase=False))


def _separate_labels(figure: Any, labels: Sequence[Any]) -> None:
    """Move each label to the first corner of its point where it covers no other point and no label
    placed before it (models of about the same accuracy and speed); if every corner is taken, it
    stays above right."""
    from matplotlib.transforms import Bbox

    figure.draw_without_rendering()  # the final layout, so the measured boxes are the saved ones
    renderer = figure.canvas.get_renderer()
    points = [label.axes.transData.transform(label.xy) for label in labels]
    markers = [Bbox.from_extents(x - 4, y - 4, x + 4, y + 4) for x, y in points]  # a marker, in pixels
    placed: list[Any] = []
    for index, label in enumerate(labels):
        others = [*placed, *markers[:index], *markers[index + 1:]]
        frame = label.axes.get_window_extent(renderer)
        inside = []  # the corners where the label stays inside the panel's frame
        for spot in LABEL_SPOTS:
            _put_label(label, spot)
            box = label.get_window_extent(renderer)
            if frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1:
                inside.append(spot)
                if not any(box.overlaps(other) for other in others):
                    break
        else:
            _put_label(label, inside[0] if inside else LABEL_SPOTS[0])
        placed.append(label.get_window_extent(renderer))


def _put_label(label: Any, spot: tuple[tuple[int, int], str, str]) -> None:
    offset, horizontal, vertical = spot
    label.xyann = offset
    label.set_horizontalalignment(horizontal)
    label.set_verticalalignment(vertical)

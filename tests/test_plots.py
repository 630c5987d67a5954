"""What the training-curve panels show, read back from real matplotlib axes (the files themselves are checked
through the CLI in test_cli_runs and test_compare)."""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from zoo.plots import _draw_curves, _separate_labels


def epoch(number: int, loss: float, accuracy: float, validation: bool = True) -> dict[str, float | int | None]:
    return {"epoch": number, "train_loss": loss, "train_accuracy": accuracy,
            "val_loss": loss + 0.1 if validation else None, "val_accuracy": accuracy - 0.05 if validation else None}


def drawn(histories: dict[str, list[dict]]) -> tuple[object, object]:
    figure = Figure(layout="constrained")
    FigureCanvasAgg(figure)
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    _draw_curves(loss_axes, accuracy_axes, histories)
    figure.canvas.draw()
    return loss_axes, accuracy_axes


def visible_ticks(axes) -> list[float]:
    low, high = axes.get_xlim()
    return [tick for tick in axes.get_xticks() if low <= tick <= high]


def test_the_legend_names_each_history_once_and_the_two_line_styles_outside_the_panel() -> None:
    histories = {f"model-{n}": [epoch(1, 2.0, 0.3), epoch(2, 1.0, 0.6)] for n in range(8)}
    loss_axes, accuracy_axes = drawn(histories)
    legend = accuracy_axes.get_legend()
    assert [text.get_text() for text in legend.get_texts()] == [*histories, "train", "validation"]
    assert legend.get_window_extent().x0 >= accuracy_axes.get_window_extent().x1  # never over a curve
    assert len(accuracy_axes.get_lines()) == len(loss_axes.get_lines()) == 16  # train and validation per model
    assert [line.get_linestyle() for line in accuracy_axes.get_lines()[:2]] == ["-", "--"]


def test_epochs_are_whole_numbers_even_for_a_one_epoch_run() -> None:
    one = drawn({"short": [epoch(1, 2.0, 0.3)]})
    assert [visible_ticks(axes) for axes in one] == [[1.0], [1.0]]
    three = drawn({"long": [epoch(n, 2.0 / n, 0.3 * n, validation=False) for n in (1, 2, 3)]})
    assert all(tick == int(tick) for axes in three for tick in visible_ticks(axes))
    assert len(three[1].get_lines()) == 1  # no validation split: no dashed line


def test_labels_of_points_close_together_move_apart_and_a_lone_label_stays_above_right() -> None:
    figure = Figure(layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    axes.set_xscale("log")
    points = {"alexnet-torch": (150.0, 10.25), "alexnet-keras": (197.0, 9.70), "alexnet-torch-bn": (753.0, 88.65)}
    labels = [axes.annotate(name, xy, textcoords="offset points", xytext=(5, 5)) for name, xy in points.items()]
    axes.set_ylim(0, 100)
    axes.set_xlim(50, 2000)
    _separate_labels(figure, labels)
    renderer = figure.canvas.get_renderer()
    torch_box, keras_box, bn_box = (label.get_window_extent(renderer) for label in labels)
    assert not torch_box.overlaps(keras_box) and not keras_box.overlaps(bn_box)
    assert labels[0].xyann == (5, 5) and labels[2].xyann == (5, 5)  # nothing in the way: above right
    assert labels[1].xyann != (5, 5)


def test_a_label_does_not_cover_another_models_point() -> None:
    figure = Figure(layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    axes.set_xlim(0, 100)
    axes.set_ylim(0, 100)
    below = axes.annotate("alexnet-torch-bn", (40, 50), textcoords="offset points", xytext=(5, 5))
    above_right = axes.annotate("alexnet-keras-bn", (45, 51), textcoords="offset points", xytext=(5, 5))
    _separate_labels(figure, [below, above_right])
    renderer = figure.canvas.get_renderer()
    x, y = axes.transData.transform((45, 51))
    assert not below.get_window_extent(renderer).contains(x, y) and below.xyann != (5, 5)

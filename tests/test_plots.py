"""What zoo's pictures show, read back from real matplotlib axes: the training-curve panels, the compare
scatter's point labels and its throughput axis (the files themselves are checked through the CLI in
test_cli_runs and test_compare)."""

from __future__ import annotations

from itertools import pairwise

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from zoo.cli.plots import _draw_curves, _label_counts, _separate_labels


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


def test_a_throughput_axis_reads_as_short_numbers_with_room_between_them() -> None:
    figure = Figure(figsize=(17, 5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, 3)[0]  # the width the compare scatter gets
    for throughput in (940.3, 738.9, 908.1, 3998.0, 2690.0, 872.6):  # make demo's inference img/s
        axes.plot([throughput], [70.0], "o")
    axes.set_xscale("log")
    _label_counts(axes.xaxis)
    axes.margins(x=0.25)
    figure.draw_without_rendering()
    renderer = figure.canvas.get_renderer()
    low, high = axes.get_xlim()
    ticks = [*zip(axes.xaxis.get_majorticklocs(), axes.xaxis.get_ticklabels(), strict=True),
             *zip(axes.xaxis.get_minorticklocs(), axes.xaxis.get_ticklabels(minor=True), strict=True)]
    shown = [(label.get_window_extent(renderer), label.get_text())
              for location, label in ticks if low <= location <= high and label.get_text()]
    shown.sort(key=lambda box_and_text: box_and_text[0].x0)
    assert [text for _, text in shown] == ["600", "1k", "2k", "3k", "4k", "6k"]
    space = 0.5 * shown[0][0].height  # about a space's width at the label's size
    assert all(right.x0 - left.x1 >= space for (left, _), (right, _) in pairwise(shown))

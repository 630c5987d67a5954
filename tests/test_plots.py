"""What the training-curve panels show, read back from real matplotlib axes (the files themselves are checked
through the CLI in test_cli_runs and test_compare)."""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from zoo.plots import _draw_curves


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

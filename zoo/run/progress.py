"""Rich rendering of training progress on stderr: a bar per epoch, a line per finished epoch."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from zoo.api.backend import EpochMetrics


def epoch_line(metrics: EpochMetrics, epochs: int) -> str:
    """``epoch 3/10  loss 0.412  acc 85.1%  val_loss 0.390  val_acc 86.0%  1,234 img/s  12.3 s``; an epoch that
    began with warm-up steps adds ``(steady 1,310, warm-up 0.4 s)`` after its img/s."""
    parts = [
        f"epoch {metrics.epoch}/{epochs}",
        f"loss {metrics.train_loss:.4f}",
        f"acc {metrics.train_accuracy:.2%}",
    ]
    if metrics.val_accuracy is not None:
        parts += [f"val_loss {metrics.val_loss:.4f}", f"val_acc {metrics.val_accuracy:.2%}"]
    parts.append(f"{metrics.images_per_sec:,.0f} img/s")
    if metrics.warmup_steps and metrics.steady_images_per_sec is not None:
        parts.append(f"(steady {metrics.steady_images_per_sec:,.0f}, warm-up {metrics.warmup_seconds:.1f} s)")
    parts.append(f"{metrics.seconds:.1f} s")
    return "  ".join(parts)


class RichTrainingProgress:
    """A :class:`zoo.backend.TrainingProgress` that draws on a rich console."""

    def __init__(self, console: Console | None = None, label: str = "") -> None:
        self.console = console or Console(stderr=True)
        self.label = label
        self._progress: Progress | None = None
        self._task: int | None = None
        self._epochs = 0

    def start_epoch(self, epoch: int, epochs: int, steps: int) -> None:
        """Open a bar for this epoch."""
        self._close()
        self._epochs = epochs
        if not self.console.is_terminal:  # a log or a pipe gets the epoch lines only, not a bar's leftovers
            return
        self._progress = Progress(
            TextColumn(f"{self.label} epoch {epoch}/{epochs}".strip()),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task("train", total=steps)

    def advance(self, steps: int = 1) -> None:
        """Move the bar."""
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, steps)

    def end_epoch(self, metrics: EpochMetrics) -> None:
        """Close the bar and print the epoch's line."""
        self._close()
        prefix = f"{self.label}  " if self.label else ""
        self.console.print(prefix + epoch_line(metrics, self._epochs), highlight=False, soft_wrap=True)

    def _close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None

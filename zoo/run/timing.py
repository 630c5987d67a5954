"""Where a run's time went: steady-state throughput apart from compile/warm-up, and named phases.

``run_figures`` turns a run's epochs (:class:`zoo.backend.EpochMetrics`) into the run-level
figures the run store keeps (``docs/benchmarks.md``, "What each figure means"):

- ``train_steady_samples_per_sec``: images over seconds of every training step after the
  warm-up steps, validation excluded, over all epochs of the run;
- ``compile_seconds``: the warm-up steps' seconds (tracing, compilation, CUDA-graph capture,
  first allocations), summed;
- ``train_loop_seconds``: the epochs' training loops (warm-up included, validation not), summed;
- ``val_seconds``: the epochs' validation passes, summed.

``PhaseClock`` adds up wall seconds per named phase (data, fit, test, ...).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from zoo.api.backend import EpochMetrics


def epoch_images(train_count: int, batch_size: int, epoch: int, resumed_epoch: int | None, resumed_step: int) -> int:
    """Images trained in ``epoch``: all ``train_count``, except in the epoch a resume continued part-way
    (``resumed_epoch``, after ``resumed_step`` batches trained before the interruption)."""
    if epoch == resumed_epoch and resumed_step:
        return max(0, train_count - min(resumed_step * batch_size, train_count))
    return train_count


def run_figures(
    history: Sequence[EpochMetrics | Mapping[str, Any]],
    *,
    train_count: int,
    batch_size: int,
    resumed_epoch: int | None = None,
    resumed_step: int = 0,
) -> dict[str, float]:
    """The run-level figures of ``history`` (epochs as dataclasses or dicts) for ``train_count`` training
    images per epoch; ``resumed_epoch``/``resumed_step``: where a resume continued (epoch 1-based, batches done).

    Each epoch's training seconds are its images over its ``images_per_sec``; its steady part is that minus
    its ``warmup_seconds``, with ``steady_images_per_sec`` images per second. Epochs without a steady figure
    (too few steps after the warm-up) count towards ``compile_seconds`` only. ``train_steady_samples_per_sec``
    is absent when no epoch has a steady figure, and ``compile_seconds`` too when no epoch reported a warm-up
    or a steady figure (a backend, or a run stored, before these fields existed: not "no compile").
    """
    steady_images = steady_seconds = compile_seconds = val_seconds = loop_seconds = 0.0
    reported = False
    for item in history:
        epoch = _get(item, "epoch")
        images = epoch_images(train_count, batch_size, epoch, resumed_epoch, resumed_step)
        rate = _get(item, "images_per_sec")
        train_seconds = images / rate if rate else 0.0
        loop_seconds += train_seconds
        warmup_seconds = float(_get(item, "warmup_seconds") or 0.0)
        compile_seconds += warmup_seconds
        val_seconds += max(0.0, float(_get(item, "seconds") or 0.0) - train_seconds)
        steady_rate = _get(item, "steady_images_per_sec")
        reported = reported or bool(_get(item, "warmup_steps")) or steady_rate is not None
        seconds = train_seconds - warmup_seconds
        if steady_rate and seconds > 0 and math.isfinite(steady_rate):
            steady_seconds += seconds
            steady_images += steady_rate * seconds
    figures = {"train_loop_seconds": loop_seconds, "val_seconds": val_seconds}
    if reported:
        figures["compile_seconds"] = compile_seconds
    if steady_seconds > 0:
        figures["train_steady_samples_per_sec"] = steady_images / steady_seconds
    return figures


def _get(item: EpochMetrics | Mapping[str, Any], name: str) -> Any:
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)


class PhaseClock:
    """Wall seconds per named phase; a phase entered twice adds up."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the ``with`` block as ``name`` (also when it raises)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

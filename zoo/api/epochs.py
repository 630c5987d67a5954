"""What one epoch of training measured: the record backends report and the run store keeps."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EpochMetrics:
    """What one epoch measured; ``val_*`` are None without a validation split."""

    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    images_per_sec: float      # unchanged meaning: the epoch's trained images / its training seconds (end to end,
                               # compile and warm-up included, validation excluded)
    seconds: float
    lr: float
    warmup_steps: int = 0      # steps at the start of this epoch left out of the steady-state figure
    warmup_seconds: float = 0.0  # their wall seconds (tracing, compilation, CUDA-graph capture, first allocations)
    steady_images_per_sec: float | None = None  # trained images / seconds over this epoch's steps after the warm-up
                               # steps, validation excluded; None when too few steps remain to say

"""A property check of label smoothing shared by both backends' tests."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from zoo.api.backend import EpochMetrics

SMOOTHING = 0.5


def smoothed_target_entropy(smoothing: float, classes: int) -> float:
    """The least cross-entropy any prediction can reach against ``(1 - e) * one_hot + e / classes`` targets."""
    right, wrong = 1 - smoothing + smoothing / classes, smoothing / classes
    return -(right * math.log(right) + (classes - 1) * wrong * math.log(wrong))


def check_label_smoothing_floor(fit: Callable[[float], Sequence[EpochMetrics]], classes: int = 10) -> None:
    """Trained on a few images validated on themselves, the plain loss falls below the smoothed targets'
    entropy while the smoothed run's training and validation losses never do (so both use the smoothed
    targets), and the smoothed run still learns."""
    floor = smoothed_target_entropy(SMOOTHING, classes)
    plain, smoothed = fit(0.0), fit(SMOOTHING)
    assert plain[-1].train_loss < floor and plain[-1].val_loss < floor, (floor, plain[-1])
    for metrics in smoothed:
        assert metrics.train_loss >= floor - 1e-4 and metrics.val_loss >= floor - 1e-4, (floor, metrics)
    assert smoothed[-1].val_accuracy > 0.5, smoothed[-1]

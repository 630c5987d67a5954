"""Scores computed from class probabilities, identically for every backend."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Evaluation:
    """Test-split scores: top-k accuracy, mean cross-entropy, per-class accuracy, confusion matrix.

    ``confusion[i][j]`` counts images of true class ``i`` predicted as ``j``.
    """

    count: int
    top1: float
    top5: float
    loss: float
    per_class: tuple[float, ...]
    confusion: tuple[tuple[int, ...], ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return asdict(self)


def evaluate_probabilities(probabilities: np.ndarray, labels: np.ndarray, num_classes: int) -> Evaluation:
    """Score ``probabilities`` (N, classes) against integer ``labels`` (N,)."""
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    count = int(labels.shape[0])
    if count == 0:
        empty = tuple(0 for _ in range(num_classes))
        return Evaluation(0, 0.0, 0.0, 0.0, tuple(0.0 for _ in range(num_classes)), tuple(empty for _ in empty))
    predicted = probabilities.argmax(axis=1)
    k = min(5, num_classes)
    top_k = np.argsort(-probabilities, axis=1)[:, :k]
    top5 = float((top_k == labels[:, None]).any(axis=1).mean())
    top1 = float((predicted == labels).mean())
    picked = probabilities[np.arange(count), labels]
    loss = float(-np.log(np.clip(picked, 1e-12, 1.0)).mean())
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    totals = confusion.sum(axis=1)
    per_class = np.divide(np.diag(confusion), totals, out=np.zeros(num_classes), where=totals > 0)
    return Evaluation(
        count=count,
        top1=top1,
        top5=top5,
        loss=loss,
        per_class=tuple(float(v) for v in per_class),
        confusion=tuple(tuple(int(v) for v in row) for row in confusion),
    )

"""Scoring a saved checkpoint on a dataset's test split."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from zoo.checkpoint import load_checkpoint
from zoo.errors import UsageError
from zoo.metrics import Evaluation, evaluate_probabilities


@dataclass(frozen=True)
class CheckpointEvaluation:
    """A checkpoint's scores on one dataset."""

    model: str
    dataset: str
    classes: tuple[str, ...]
    evaluation: Evaluation


def evaluate_checkpoint(
    path: str | Path,
    *,
    dataset: str | None = None,
    data_dir: str | Path | None = None,
    limit_test: int | None = None,
    device: str = "auto",
    batch_size: int = 256,
) -> CheckpointEvaluation:
    """Load the checkpoint, then score it on the test split of ``dataset`` (default: its own)."""
    from zoo.data import load_dataset

    checkpoint, spec, backend, model = load_checkpoint(path)
    name = dataset or checkpoint.metadata["dataset"]
    arrays = load_dataset(name, data_dir=data_dir)
    image_shape = tuple(arrays.test.images.shape[1:])
    if len(arrays.spec.classes) != len(checkpoint.classes) or image_shape != checkpoint.image_shape:
        raise UsageError(
            f"{spec.name} was trained on {checkpoint.metadata['dataset']} "
            f"({len(checkpoint.classes)} classes, images {checkpoint.image_shape}); {name} has "
            f"{len(arrays.spec.classes)} classes and images {image_shape}"
        )
    test = arrays.test.head(limit_test)
    probabilities = backend.predict_proba(
        model, test.images, checkpoint.preprocessing, batch_size=batch_size, device=device
    )
    return CheckpointEvaluation(
        spec.name, name, checkpoint.classes, evaluate_probabilities(probabilities, test.labels, len(checkpoint.classes))
    )

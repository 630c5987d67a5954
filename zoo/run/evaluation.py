"""Scoring a saved checkpoint on a dataset's test split."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from zoo.api.config import positive_int
from zoo.api.errors import UsageError
from zoo.api.specs import DatasetSpec
from zoo.run.checkpoint import Checkpoint, load_checkpoint, read_checkpoint
from zoo.run.memory import out_of_memory
from zoo.run.metrics import Evaluation, evaluate_probabilities


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
    allow_class_mismatch: bool = False,
) -> CheckpointEvaluation:
    """Load the checkpoint, then score it on the test split of ``dataset`` (default: its own).

    A dataset whose classes are not the checkpoint's (a Fashion-MNIST model on MNIST) is
    refused unless ``allow_class_mismatch``: label i would be read as another class i.
    """
    from zoo.data import load_dataset
    from zoo.data.datasets import find_dataset

    if limit_test is not None:
        positive_int("limit_test", limit_test)
    positive_int("batch_size", batch_size)
    checkpoint = read_checkpoint(path)
    spec_of_data = find_dataset(dataset or checkpoint.metadata["dataset"]).spec
    check_dataset_fits(checkpoint, spec_of_data, allow_class_mismatch=allow_class_mismatch)
    checkpoint, spec, backend, model = load_checkpoint(checkpoint)
    name = spec_of_data.name
    arrays = load_dataset(name, data_dir=data_dir)
    image_shape = tuple(arrays.test.images.shape[1:])
    if image_shape != checkpoint.image_shape:
        raise UsageError(f"{spec.name} was trained on images {checkpoint.image_shape}; {name}'s are {image_shape}")
    test = arrays.test.head(limit_test)
    with out_of_memory(batch_size=batch_size, what=f"scoring {len(test):,} images"):
        probabilities = backend.predict_proba(
            model, test.images, checkpoint.preprocessing, batch_size=batch_size, device=device
        )
    return CheckpointEvaluation(
        spec.name, name, checkpoint.classes, evaluate_probabilities(probabilities, test.labels, len(checkpoint.classes))
    )


def check_dataset_fits(checkpoint: Checkpoint, data: DatasetSpec, *, allow_class_mismatch: bool) -> None:
    """Refuse a dataset of another shape or class count; a dataset with other class names unless allowed
    (then warn on stderr), before any data or framework is loaded."""
    trained = checkpoint.metadata["dataset"]
    if len(data.classes) != len(checkpoint.classes) or tuple(data.shape) != checkpoint.image_shape:
        raise UsageError(
            f"{checkpoint.model} was trained on {trained} ({len(checkpoint.classes)} classes, images "
            f"{checkpoint.image_shape}); {data.name} has {len(data.classes)} classes and images {tuple(data.shape)}"
        )
    if tuple(data.classes) == checkpoint.classes:
        return
    differ = next(i for i, (a, b) in enumerate(zip(checkpoint.classes, data.classes, strict=True)) if a != b)
    clash = f"its class {differ} is {checkpoint.classes[differ]!r}, {data.name}'s is {data.classes[differ]!r}"
    if not allow_class_mismatch:
        raise UsageError(f"{checkpoint.model} was trained on {trained}, whose classes are not {data.name}'s ({clash}); "
                         f"its score there would mean nothing: pass `allow_class_mismatch` to score it anyway")
    print(f"zoo: warning: {checkpoint.model} was trained on {trained}, not {data.name} ({clash}); "
          "scoring label i as class i (--allow-class-mismatch)", file=sys.stderr, flush=True)

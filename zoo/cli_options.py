"""Recipe options that ``zoo train`` and ``zoo compare`` share, declared once so both say the same.

Each is ``None`` when not given, so that the model's recipe (``zoo info MODEL``) and the
dataset's default augmentation apply; :meth:`zoo.config.TrainConfig.build` checks the values.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from zoo.config import AUGMENTATIONS, OPTIMIZERS, PRECISIONS, SCHEDULERS

Opt = typer.Option

Epochs = Annotated[Optional[int], Opt(help="Epochs \\[model's recipe, see zoo info].")]  # noqa: UP045
BatchSize = Annotated[Optional[int], Opt(help="Batch size \\[recipe: 128].")]  # noqa: UP045
LearningRate = Annotated[Optional[float], Opt("--lr", help="Learning rate \\[recipe: 1e-3].")]  # noqa: UP045
Optimizer = Annotated[Optional[str], Opt(help=f"{', '.join(OPTIMIZERS)} \\[recipe: adam].")]  # noqa: UP045
WeightDecay = Annotated[Optional[float], Opt(help="Weight decay \\[recipe: 0].")]  # noqa: UP045
LabelSmoothing = Annotated[
    Optional[float],  # noqa: UP045
    Opt(help="Label smoothing e in [0, 1): targets (1 - e) one-hot + e / classes "
        "\\[model's recipe, see zoo info; else 0]."),
]
Scheduler = Annotated[
    Optional[str], Opt(help=f"{', '.join(SCHEDULERS)} \\[model's recipe, see zoo info].")  # noqa: UP045
]
Augment = Annotated[Optional[str], Opt(help=f"{', '.join(AUGMENTATIONS)} \\[dataset default].")]  # noqa: UP045
ImageSize = Annotated[
    Optional[int],  # noqa: UP045
    Opt(help="Train and test at NxN pixels, resized on the device; overrides --min-image-size \\[the data's "
        "own size, or the model's native size when the data is below its minimum]."),
]
MinImageSize = Annotated[
    Optional[int],  # noqa: UP045
    Opt(help="Resize smaller images up, aspect kept, until the shorter side has N pixels; larger ones keep "
        "their size \\[model's recipe, see zoo info; else none]."),
]
Device = Annotated[Optional[str], Opt(help="auto, cpu, cuda or cuda:N \\[auto].")]  # noqa: UP045
Precision = Annotated[Optional[str], Opt(help=f"{' or '.join(PRECISIONS)} \\[fp32].")]  # noqa: UP045
Limit = Annotated[Optional[int], Opt(help="Train on the first N training images.")]  # noqa: UP045
LimitTest = Annotated[Optional[int], Opt(help="Score on the first N test images.")]  # noqa: UP045

"""Recipe options that ``zoo train`` and ``zoo compare`` share, declared once so both say the same.

Each is ``None`` when not given, so that the model's recipe (``zoo info MODEL``) and the
dataset's default augmentation apply; :meth:`zoo.config.TrainConfig.build` checks the values.
``--keras-backend`` is not a recipe option: it chooses where Keras models run, for every command
that runs one.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Optional

import typer

from zoo.config import AUGMENTATIONS, OPTIMIZERS, PRECISIONS, SCHEDULERS
from zoo.errors import UsageError

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


KERAS_BACKENDS = ("tensorflow", "jax", "torch")


def select_keras_backend(value: Optional[str]) -> Optional[str]:  # noqa: UP045
    """Check ``--keras-backend`` and export it as ``KERAS_BACKEND`` before anything imports Keras.

    The choice is read once, when Keras is imported; exporting it also hands it to
    ``zoo compare``'s and ``zoo bench``'s workers, which inherit the environment.
    """
    if value is None:
        return None
    name = value.strip().lower()
    if name not in KERAS_BACKENDS:
        raise UsageError(f"--keras-backend {value!r} is not a Keras backend; choose {', '.join(KERAS_BACKENDS)}")
    keras = sys.modules.get("keras")
    loaded = getattr(getattr(keras, "backend", None), "backend", None)
    if callable(loaded) and loaded() != name:
        raise UsageError(
            f"--keras-backend {name}: Keras is already imported on {loaded()} in this process, and its backend "
            "is fixed when it is imported; run zoo in a new process"
        )
    os.environ["KERAS_BACKEND"] = name
    return name


KerasBackend = Annotated[
    Optional[str],  # noqa: UP045
    Opt("--keras-backend", metavar="NAME", callback=select_keras_backend,
        help=f"Run Keras models on {', '.join(KERAS_BACKENDS[:-1])} or {KERAS_BACKENDS[-1]} "
             "\\[KERAS_BACKEND, else tensorflow]."),
]

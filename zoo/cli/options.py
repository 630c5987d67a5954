"""Recipe options that ``zoo train`` and ``zoo compare`` share, declared once so both say the same.

Each is ``None`` when not given, so that the model's recipe (``zoo info MODEL``) and the
dataset's default augmentation apply; :meth:`zoo.api.TrainConfig.build` checks the values.
``--keras-backend`` is not a recipe option: it chooses where Keras models run, for every command
that runs one.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Annotated, Any, Optional

import typer

from zoo.api.config import AUGMENTATIONS, COMPILE_MODES, MAX_IMAGE_SIDE, OPTIMIZERS, PRECISIONS, SCHEDULERS
from zoo.api.errors import UsageError

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
Pretrained = Annotated[
    Optional[bool],  # noqa: UP045
    Opt("--pretrained", help="Start from the model's pretrained weights, read from a local copy (the Hugging Face "
        "cache for timm/*, ~/.keras/models for keras/*) or --weights; never downloaded, never unpickled."),
]
Weights = Annotated[
    Optional[str],  # noqa: UP045
    Opt("--weights", metavar="FILE", help="Pretrained weights to start from: .safetensors (timm/*), .keras or "
        ".h5 (keras/*); implies --pretrained."),
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


MAX_CHANNELS = 64  # of a synthetic input (zoo info --input, zoo bench --input)


def parse_input_size(text: str) -> tuple[int, int, int]:
    """``--input 3x32x32`` (C x H x W) as a tuple, or a usage error showing the form."""
    match = re.fullmatch(r"\s*(\d+)\s*[x,]\s*(\d+)\s*[x,]\s*(\d+)\s*", text)
    if not match or min(int(g) for g in match.groups()) < 1:
        raise UsageError(f"--input must look like 3x32x32 (channels x height x width), got {text!r}")
    c, h, w = (int(g) for g in match.groups())
    if max(h, w) > MAX_IMAGE_SIDE or c > MAX_CHANNELS:
        raise UsageError(f"--input {text} is too large: at most {MAX_CHANNELS} channels and {MAX_IMAGE_SIDE} "
                         "pixels a side")
    return c, h, w


def compile_mode_help() -> str:
    """The ``--compile-mode`` help text, from :data:`COMPILE_MODES`."""
    return (f"torch.compile mode: {', '.join(COMPILE_MODES)}; implies --compile (torch models; Keras "
            "uses XLA).")


# A yes/no/unset setting as two flags, the negative one hidden from the option table: a visible
# "--no-channels-last" column would take 20 of a 100-column help page's width from every description.
Compile = Annotated[bool, Opt("--compile", help="torch.compile / XLA (--no-compile: eager) \\[the backend "
                                              "chooses; see docs/torch.md].")]
NoCompile = Annotated[bool, Opt("--no-compile", hidden=True)]
ChannelsLast = Annotated[bool, Opt("--channels-last", help="NHWC memory layout (--no-channels-last: NCHW) "
                                                         "\\[torch on CPU and CUDA: on].")]
NoChannelsLast = Annotated[bool, Opt("--no-channels-last", hidden=True)]


def tri_state(name: str, yes: bool, no: bool) -> bool | None:
    """``--NAME`` (True), ``--no-NAME`` (False), neither (None: the default decides); both is a usage error."""
    if yes and no:
        raise UsageError(f"--{name} and --no-{name} contradict each other; drop one")
    return True if yes else False if no else None


def compile_settings(compile_: bool | None, compile_mode: str | None) -> dict[str, Any]:
    """``--compile/--no-compile`` (None when neither is given) and ``--compile-mode`` as setting overrides:
    naming a mode implies compiling; neither leaves the choice to the backend."""
    if compile_ is False and compile_mode is not None:
        raise UsageError(f"--no-compile and --compile-mode {compile_mode} contradict each other; drop one")
    return {"compile": True if compile_ or compile_mode is not None else compile_, "compile_mode": compile_mode}

"""The backend contract: what a framework plugin does for the core.

The core owns the orchestration (data, splits, metrics, checkpoints' sidecars,
the run store, reports). A backend only does framework work: build, fit,
predict, save/load weights, time throughput. Everything crossing this seam is
numpy or a plain dataclass below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from zoo.api.augment import Augmentation
from zoo.api.config import TrainConfig
from zoo.api.data import Split
from zoo.api.epochs import EpochMetrics
from zoo.api.specs import ModelSpec

# EpochMetrics lives in zoo.api.epochs (RunControl needs it too); it is exported here as well.
__all__ = [
    "Backend", "BenchConfig", "EpochMetrics", "FitResult", "LayerRow", "ModelSummary", "Preprocessing",
    "SilentProgress", "Throughput", "TrainingData", "TrainingProgress",
]

if TYPE_CHECKING:
    import numpy as np

    from zoo.api.control import RunControl


@dataclass(frozen=True)
class Preprocessing:
    """How uint8 NHWC images become model inputs, identically in every backend.

    ``x = (image / 255 - mean) / std`` per channel, then resized (bilinear)
    to ``img_size`` (H, W) when that differs from the image's own size.
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]
    img_size: tuple[int, int]

    @property
    def in_chans(self) -> int:
        """Channels the model sees."""
        return len(self.mean)

    @property
    def input_size(self) -> tuple[int, int, int]:
        """What the model sees, (C, H, W)."""
        return (self.in_chans, *self.img_size)


@dataclass(frozen=True)
class TrainingData:
    """Everything a backend's ``fit`` needs about the data."""

    dataset: str
    classes: tuple[str, ...]
    train: Split
    val: Split | None
    preprocessing: Preprocessing
    augmentation: Augmentation = Augmentation()

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)


@dataclass
class FitResult:
    """A trained model (framework object) and how the training went.

    ``extra`` is recorded as the run's ``fit_details``. Keys zoo reads: ``execution`` (how the steps ran:
    ``eager``, ``compiled``, ``cuda-graphs``), ``compile_cache`` (``{"hits": H, "misses": M}``: programs a
    persistent compilation cache loaded and compiled during the fit; ``zoo compare`` reports the share
    loaded), ``distributed``, ``resumed_from``; a backend may add its own.
    """

    model: Any
    history: list[EpochMetrics]
    device: str
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class TrainingProgress(Protocol):
    """Callbacks a backend calls during ``fit``; the core renders them."""

    def start_epoch(self, epoch: int, epochs: int, steps: int) -> None:
        """Epoch ``epoch`` (1-based) of ``epochs`` begins, with ``steps`` batches."""

    def advance(self, steps: int = 1) -> None:
        """``steps`` more batches are done."""

    def end_epoch(self, metrics: EpochMetrics) -> None:
        """The epoch is over and measured."""


class SilentProgress:
    """A :class:`TrainingProgress` that shows nothing (library use, workers)."""

    def start_epoch(self, epoch: int, epochs: int, steps: int) -> None:
        pass

    def advance(self, steps: int = 1) -> None:
        pass

    def end_epoch(self, metrics: EpochMetrics) -> None:
        pass


@dataclass(frozen=True)
class LayerRow:
    """One row of a model's layer table."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int


@dataclass(frozen=True)
class ModelSummary:
    """A built model, measured: layers, trainable parameters and MACs.

    ``macs`` counts multiply-accumulates of one forward pass of one image of
    ``input_size`` (C, H, W).
    """

    input_size: tuple[int, int, int]
    layers: tuple[LayerRow, ...]
    param_count: int
    macs: int


@dataclass(frozen=True)
class BenchConfig:
    """What to time, per ``../shared/guide/benchmarks.md``."""

    input_size: tuple[int, int, int]
    num_classes: int
    batch_size: int
    device: str = "auto"
    precision: str = "fp32"
    compile: bool = False
    compile_mode: str = "default"
    channels_last: bool | None = None
    warmup_steps: int = 10
    timed_steps: int = 40
    train: bool = True
    infer: bool = True
    execution: str | None = None  # run the steps as a training run did (its FitResult.extra["execution"])


@dataclass(frozen=True)
class Throughput:
    """One timed mode (``train`` or ``infer``) with its conditions."""

    mode: str
    samples_per_sec: float
    median_step_seconds: float
    batch_size: int
    steps: int
    device: str
    precision: str
    compiled: bool
    channels_last: bool
    note: str = ""
    step_seconds: tuple[float, ...] = ()  # every timed step, in order: the spread zoo bench reports


@runtime_checkable
class Backend(Protocol):
    """What a backend plugin's factory returns. Heavy imports happen inside methods."""

    name: str

    def environment(self, device: str) -> dict[str, str]:
        """Framework versions and the resolved device's name, for run records."""

    def build(self, spec: ModelSpec, *, num_classes: int, in_chans: int, img_size: tuple[int, int]) -> Any:
        """A fresh model for images of ``img_size`` (H, W); raises ``ZooError`` for a size it cannot take."""

    def summarize(self, spec: ModelSpec, *, num_classes: int, input_size: tuple[int, int, int]) -> ModelSummary:
        """Build the model for ``input_size`` (C, H, W) and measure its layers, parameters and MACs."""

    def fit(
        self,
        spec: ModelSpec,
        data: TrainingData,
        config: TrainConfig,
        progress: TrainingProgress,
        control: RunControl | None = None,
    ) -> FitResult:
        """Train on ``data.train``, validating on ``data.val`` each epoch.

        With ``control`` (see :class:`zoo.api.RunControl`): save resumable
        states as it asks, stop between steps when it says so (saving a state
        and raising :class:`zoo.api.TrainingInterrupted`), continue from
        ``control.resume`` when set, and raise :class:`zoo.api.NonFiniteLoss`
        when the loss becomes NaN or infinite. ``FitResult.history`` covers all
        epochs, resumed ones included.
        """

    def predict_proba(
        self, model: Any, images: np.ndarray, preprocessing: Preprocessing, *, batch_size: int, device: str
    ) -> np.ndarray:
        """Class probabilities, float32 (N, num_classes), for uint8 NHWC ``images``."""

    def save(self, model: Any, directory: Path) -> Path:
        """Write the weights into ``directory`` atomically; return the file written."""

    def load(
        self, spec: ModelSpec, weights: Path, *, num_classes: int, in_chans: int, img_size: tuple[int, int]
    ) -> Any:
        """Rebuild the model and load ``weights`` without running untrusted code."""

    def benchmark(self, spec: ModelSpec, config: BenchConfig) -> list[Throughput]:
        """Time training and/or inference steps on synthetic data."""

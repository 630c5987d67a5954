"""``KerasBackend``: zoo's :class:`~zoo.backend.Backend` for Keras 3.

A thin facade; each job lives in its own module: :mod:`zoo_keras.training`
(fit, predict), :mod:`zoo_keras.checkpoint` (save, load), :mod:`zoo_keras.summary`,
:mod:`zoo_keras.bench`, :mod:`zoo_keras.runtime` (import, devices, versions).
Keras (and TensorFlow) are imported when this module is, which zoo does
only when a Keras model is built, trained or measured.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from zoo.api import (
    BenchConfig,
    FitResult,
    ModelSpec,
    ModelSummary,
    Preprocessing,
    RunControl,
    Throughput,
    TrainConfig,
    TrainingData,
    TrainingProgress,
    call_builder,
    load_pretrained,
)
from zoo_keras import bench, checkpoint, convert, runtime, summary, training


class KerasBackend:
    """Builds, trains, measures, saves and loads zoo's Keras models."""

    name = "keras"
    layout = "keras"  # zoo.api.ConvertibleBackend: NHWC, HWIO kernels, (in, out) dense kernels

    def environment(self, device: str) -> dict[str, str]:
        """Keras, its backend and TensorFlow versions; the resolved device, its name and threads."""
        return runtime.environment(device)

    def build(self, spec: ModelSpec, *, num_classes: int, in_chans: int, img_size: tuple[int, int]) -> Any:
        """A fresh ``keras.Model``; ``UsageError`` below the spec's minimum input size."""
        return call_builder(spec.builder, num_classes=num_classes, in_chans=in_chans, img_size=img_size)

    def summarize(self, spec: ModelSpec, *, num_classes: int, input_size: tuple[int, int, int]) -> ModelSummary:
        """Layer table with (C, H, W) shapes, trainable parameters and MACs for ``input_size``."""
        channels, height, width = input_size
        model = self.build(spec, num_classes=num_classes, in_chans=channels, img_size=(height, width))
        return summary.summarize(model, input_size)

    def fit(
        self,
        spec: ModelSpec,
        data: TrainingData,
        config: TrainConfig,
        progress: TrainingProgress,
        control: RunControl | None = None,
    ) -> FitResult:
        """``model.fit`` on tf.data (TensorFlow) or numpy batches (JAX, PyTorch), validating each epoch;
        saves, stops and resumes as ``control`` says; ``NonFiniteLoss`` on a NaN or infinite loss."""
        build = functools.partial(self.build, spec)
        if config.pretrained and (control is None or control.resume is None):  # a resumed state has its weights
            build = functools.partial(self._build_pretrained, spec, config.weights)
        return training.fit(build, data, config, progress, control)

    def _build_pretrained(self, spec: ModelSpec, weights: str | None, **sizes: Any) -> Any:
        model = self.build(spec, **sizes)
        load_pretrained(spec, model, weights)
        return model

    def predict_proba(
        self, model: Any, images: np.ndarray, preprocessing: Preprocessing, *, batch_size: int, device: str
    ) -> np.ndarray:
        """Softmax probabilities, float32 (N, num_classes), inference mode."""
        return training.predict_proba(model, images, preprocessing, batch_size=batch_size, device=device)

    def save(self, model: Any, directory: Path) -> Path:
        """``directory/model.keras`` (architecture and weights, no optimizer state), written atomically."""
        return checkpoint.save(model, Path(directory))

    def load(
        self, spec: ModelSpec, weights: Path, *, num_classes: int, in_chans: int, img_size: tuple[int, int]
    ) -> Any:
        """Read a ``.keras`` file in safe mode; ``ZooError`` if unsafe, corrupt or another network/shape."""
        expected = self.build(spec, num_classes=num_classes, in_chans=in_chans, img_size=img_size)
        description = f"{spec.name} for {num_classes} classes, {in_chans}x{img_size[0]}x{img_size[1]}"
        return checkpoint.load(Path(weights), expected, description)

    def benchmark(self, spec: ModelSpec, config: BenchConfig) -> list[Throughput]:
        """Median-step throughput of training and/or inference on synthetic data on the device."""
        return bench.benchmark(functools.partial(self.build, spec), config)

    # zoo.api.ConvertibleBackend: zoo convert and zoo export.

    def get_weights(self, model: Any) -> dict[str, np.ndarray]:
        """Every weight as numpy, keyed ``layer/path/variable``."""
        return convert.get_weights(model)

    def set_weights(self, model: Any, weights: Any) -> None:
        """Assign exactly these weights."""
        convert.set_weights(model, weights)

    def feature_shape(self, model: Any, layer: str) -> tuple[int, ...]:
        """Input shape (H, W, C) of a top-level layer."""
        return convert.feature_shape(model, layer)

    def batchnorm_conventions(self, model: Any) -> dict[str, tuple[float, float]]:
        """``{layer path: (1 - momentum, epsilon)}`` of the BatchNormalization layers."""
        return convert.batchnorm_conventions(model)

    def logits(self, model: Any, inputs: np.ndarray, *, batch_size: int) -> np.ndarray:
        """Logits for NHWC float inputs, inference mode."""
        return convert.logits(model, inputs, batch_size=batch_size)

    def export_onnx(self, model: Any, path: Path, *, example: np.ndarray, opset: int) -> None:
        """Keras 3's ONNX export on the active Keras backend, NHWC input."""
        convert.export_onnx(model, path, example=example, opset=opset)

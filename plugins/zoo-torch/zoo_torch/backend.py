"""``TorchBackend``: zoo's :class:`zoo.backend.Backend` for PyTorch.

Creating the backend imports nothing heavy; each method imports the module
that does its one job (``train``, ``bench``, ``summary``, ``checkpoint``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

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
)

if TYPE_CHECKING:
    from torch import nn


class TorchBackend:
    """Device-resident uint8 data, bf16 autocast, channels_last, optional ``torch.compile``,
    fused optimizers from timm, safetensors checkpoints."""

    name = "torch"
    layout = "torch"  # zoo.api.ConvertibleBackend: NCHW, OIHW kernels, (out, in) dense weights

    def environment(self, device: str) -> dict[str, str]:
        """Framework versions, the resolved device, its name and the CPU thread count (timm's version from its
        metadata: importing timm, and torchvision with it, costs seconds a reused run does not need)."""
        from importlib.metadata import version

        import torch

        from zoo_torch import runtime

        resolved = runtime.resolve_device(device)
        return {
            "framework": "torch",
            "torch": torch.__version__,
            "timm": version("timm"),
            "device": runtime.device_label(resolved),
            "device_name": runtime.device_name(resolved),
            "threads": str(torch.get_num_threads()),
        }

    def build(self, spec: ModelSpec, *, num_classes: int, in_chans: int, img_size: tuple[int, int]) -> nn.Module:
        """A fresh ``nn.Module`` on the CPU; ``UsageError`` below the model's minimum input."""
        from zoo_torch.train import build

        return build(spec, num_classes=num_classes, in_chans=in_chans, img_size=img_size)

    def summarize(self, spec: ModelSpec, *, num_classes: int, input_size: tuple[int, int, int]) -> ModelSummary:
        """Stage table with (C, H, W) output shapes, trainable parameters and conv+linear MACs."""
        from zoo_torch.summary import summarize

        model = self.build(spec, num_classes=num_classes, in_chans=input_size[0], img_size=input_size[1:])
        return summarize(model, input_size)

    def fit(
        self,
        spec: ModelSpec,
        data: TrainingData,
        config: TrainConfig,
        progress: TrainingProgress,
        control: RunControl | None = None,
    ) -> FitResult:
        """Train a fresh model, or continue ``control.resume``, saving and stopping as ``control`` asks
        (see ``docs/torch.md``); the returned model is in eval mode on the training device."""
        from zoo_torch.train import fit

        return fit(spec, data, config, progress, control)

    def predict_proba(
        self, model: Any, images: np.ndarray, preprocessing: Preprocessing, *, batch_size: int, device: str
    ) -> np.ndarray:
        """Softmax probabilities, float32 (N, num_classes); moves ``model`` to ``device``."""
        from zoo_torch.train import predict_proba

        return predict_proba(model, images, preprocessing, batch_size=batch_size, device=device)

    def save(self, model: Any, directory: Path) -> Path:
        """Write ``directory/model.safetensors`` atomically; return its path."""
        from zoo_torch.checkpoint import save_weights

        return save_weights(model, directory)

    def load(
        self, spec: ModelSpec, weights: Path, *, num_classes: int, in_chans: int, img_size: tuple[int, int]
    ) -> nn.Module:
        """Rebuild ``spec`` and load ``weights`` (a file, or a directory holding model.safetensors);
        ``ZooError`` when the file is missing, unreadable or of another model/shape. Eval mode, CPU."""
        from zoo_torch.checkpoint import load_weights

        model = self.build(spec, num_classes=num_classes, in_chans=in_chans, img_size=img_size)
        load_weights(model, weights, spec.name)
        return model.eval()

    def benchmark(self, spec: ModelSpec, config: BenchConfig) -> list[Throughput]:
        """Median-step throughput for each requested mode, synthetic data on the device."""
        from zoo_torch.bench import benchmark

        return benchmark(spec, config)

    # zoo.api.ConvertibleBackend: zoo convert and zoo export.

    def get_weights(self, model: Any) -> dict[str, np.ndarray]:
        """Every ``state_dict`` entry as numpy."""
        from zoo_torch import convert

        return convert.get_weights(model)

    def set_weights(self, model: Any, weights: Any) -> None:
        """Load exactly these ``state_dict`` arrays."""
        from zoo_torch import convert

        convert.set_weights(model, weights)

    def batchnorm_conventions(self, model: Any) -> dict[str, tuple[float, float]]:
        """``{module path: (momentum, eps)}`` of the BatchNorm modules."""
        from zoo_torch import convert

        return convert.batchnorm_conventions(model)

    def logits(self, model: Any, inputs: np.ndarray, *, batch_size: int) -> np.ndarray:
        """fp32 logits on the CPU for NHWC float inputs."""
        from zoo_torch import convert

        return convert.logits(model, inputs, batch_size=batch_size)

    def export_onnx(self, model: Any, path: Path, *, example: np.ndarray, opset: int) -> None:
        """``torch.onnx.export`` (TorchScript exporter), NCHW input ``image``, dynamic batch."""
        from zoo_torch import convert

        convert.export_onnx(model, path, example=example, opset=opset)

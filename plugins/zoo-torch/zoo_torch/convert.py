"""Weights as numpy, BatchNorm settings, logits and ONNX export, for ``zoo convert`` and ``zoo export``.

Names are the ``state_dict``'s (``conv1.weight``, ``bn1.running_var``); see
:class:`zoo.api.ConvertibleBackend` and ``docs/convert.md``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

from zoo.api import ZooError, atomic_path


def get_weights(model: nn.Module) -> dict[str, np.ndarray]:
    """Every parameter and buffer of ``model``, copied to numpy."""
    model = getattr(model, "_orig_mod", model)
    return {name: value.detach().cpu().numpy().copy() for name, value in model.state_dict().items()}


def set_weights(model: nn.Module, weights: Mapping[str, np.ndarray]) -> None:
    """Load exactly ``weights`` (every key of the ``state_dict``, same shapes) into ``model``."""
    expected = model.state_dict()
    if set(weights) != set(expected):
        odd = sorted(set(weights) ^ set(expected))
        raise ZooError(f"converted weights do not fit the torch model ({', '.join(odd[:4])})")
    tensors = {}
    for name, value in expected.items():
        array = np.asarray(weights[name])
        if tuple(array.shape) != tuple(value.shape):
            raise ZooError(f"converted {name} is {array.shape}, the torch model's is {tuple(value.shape)}")
        tensors[name] = torch.from_numpy(np.ascontiguousarray(array)).to(value.dtype)
    model.load_state_dict(tensors, strict=True)


def batchnorm_conventions(model: nn.Module) -> dict[str, tuple[float, float]]:
    """``{module path: (momentum, eps)}`` of every BatchNorm module."""
    return {
        name: (float(module.momentum), float(module.eps))
        for name, module in model.named_modules()
        if isinstance(module, nn.modules.batchnorm._BatchNorm)
    }


def logits(model: nn.Module, inputs: np.ndarray, *, batch_size: int) -> np.ndarray:
    """Logits float32 for NHWC ``inputs``, on the CPU in fp32 and eval mode."""
    model = model.cpu().eval()
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(inputs), batch_size):
            x = torch.from_numpy(np.ascontiguousarray(inputs[start:start + batch_size])).permute(0, 3, 1, 2)
            outputs.append(model(x.contiguous()).float().numpy())
    return np.concatenate(outputs).astype(np.float32, copy=False)


def export_onnx(model: nn.Module, path: Path, *, example: np.ndarray, opset: int) -> None:
    """Trace ``model`` with TorchScript's ONNX exporter (``dynamo=False``: offline, no onnxscript,
    deterministic) to ``path``, written atomically; input ``image`` NCHW with a dynamic batch."""
    model = model.cpu().eval()
    x = torch.from_numpy(np.ascontiguousarray(example.transpose(0, 3, 1, 2)))
    with atomic_path(Path(path)) as partial, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (x,), str(partial), dynamo=False, opset_version=opset, input_names=["image"],
            output_names=["logits"], dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
        )

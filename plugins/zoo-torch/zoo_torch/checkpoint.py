"""Weights on disk: ``model.safetensors``, written atomically, read without running code.

No pickle anywhere (no ``torch.load``): a checkpoint is tensors plus a JSON
header, so loading one from a stranger cannot execute anything.
"""

from __future__ import annotations

from pathlib import Path

import safetensors.torch
from safetensors import SafetensorError
from torch import nn

from zoo.api import ZooError, atomic_path

WEIGHTS_FILE = "model.safetensors"


def save_weights(model: nn.Module, directory: Path) -> Path:
    """Write ``model``'s state dict to ``directory/model.safetensors`` through the core's
    :func:`zoo.atomic.atomic_path` (temporary file beside it, fsync, ``os.replace``): a
    reader sees the old file or the whole new one."""
    model = getattr(model, "_orig_mod", model)  # a torch.compile wrapper shares the weights
    tensors = {name: value.detach().cpu().contiguous() for name, value in model.state_dict().items()}
    target = Path(directory) / WEIGHTS_FILE
    with atomic_path(target) as temporary:
        safetensors.torch.save_file(tensors, temporary, metadata={"format": "pt"})
    return target


def load_weights(model: nn.Module, weights: Path, model_name: str) -> nn.Module:
    """Load ``weights`` into ``model`` (strict), or a one-line :class:`ZooError` saying why not."""
    weights = Path(weights)
    if weights.is_dir():
        weights = weights / WEIGHTS_FILE

    def mismatch(reason: str, fix: str) -> ZooError:
        return ZooError(f"checkpoint {weights} does not match {model_name} ({reason}); {fix}")

    if not weights.is_file():
        raise mismatch("no such file", "check the path, or train the model again")
    try:
        tensors = safetensors.torch.load_file(weights, device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        detail = " ".join(str(exc).split())[:120]
        raise mismatch(
            f"not a readable safetensors file: {detail}", "the file is truncated or corrupt; save or train it again"
        ) from exc
    expected = model.state_dict()
    problems = [f"missing {name}" for name in expected if name not in tensors]
    problems += [f"unexpected {name}" for name in tensors if name not in expected]
    problems += [
        f"{name} is {_shape(tensors[name].shape)}, expected {_shape(value.shape)}"
        for name, value in expected.items()
        if name in tensors and tuple(tensors[name].shape) != tuple(value.shape)
    ]
    if problems:
        shown = ", ".join(problems[:3]) + (f" and {len(problems) - 3} more" if len(problems) > 3 else "")
        raise mismatch(shown, "it was saved from another model, number of classes, channels or input size")
    model.load_state_dict(tensors, strict=True)
    return model


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape) or "scalar"

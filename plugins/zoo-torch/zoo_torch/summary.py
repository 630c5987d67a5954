"""Measure a built model: its stage table, trainable parameters and MACs.

MACs are the multiply-accumulates of every convolution and linear layer for
one image, read from the shapes seen by forward hooks (conv: output elements
x input channels per group x kernel area; linear: output elements x in features,
so a linear layer over tokens or channels-last maps counts every position). Bias
additions, BatchNorm, pooling and activations are not counted; zoo-keras
counts the same way, so the two backends agree exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from zoo.api import LayerRow, ModelSummary

KINDS: dict[type[nn.Module], str] = {
    nn.Conv2d: "conv",
    nn.BatchNorm2d: "batchnorm",
    nn.MaxPool2d: "maxpool",
    nn.AvgPool2d: "avgpool",
    nn.Flatten: "flatten",
    nn.Linear: "dense",
}


def kind_of(module: nn.Module) -> str:
    """A framework-neutral kind: conv, batchnorm, maxpool, avgpool, flatten, dense, or the class name."""
    for cls, kind in KINDS.items():
        if isinstance(module, cls):
            return kind
    return type(module).__name__.lower()


def trainable(module: nn.Module) -> int:
    """Trainable parameters of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def summarize(model: nn.Module, input_size: tuple[int, int, int]) -> ModelSummary:
    """Run one zero image of ``input_size`` (C, H, W) through ``model`` on the CPU, in eval
    mode, and record its stages' output shapes and parameters, and the MACs.

    The stages are the model's own children (``named_children``), whatever the model's class: those
    with parameters or that change the shape. Element-wise children (activations, dropout, LRN) and
    children the forward pass never calls are left out."""
    shapes: dict[str, tuple[int, ...]] = {}
    reshapes: set[str] = set()
    macs = [0]

    def record_stage(name: str) -> Callable[..., None]:
        def hook(_module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            if not isinstance(output, Tensor):
                return
            shapes.setdefault(name, tuple(output.shape[1:]))
            if not inputs or not isinstance(inputs[0], Tensor) or inputs[0].shape != output.shape:
                reshapes.add(name)

        return hook

    def count_macs(module: nn.Module, _inputs: tuple[Tensor, ...], output: Tensor) -> None:
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            macs[0] += output[0].numel() * (module.in_channels // module.groups) * kh * kw
        elif isinstance(module, nn.Linear):  # once per position when applied to a map or tokens (ConvNeXt, ViT)
            macs[0] += output[0].numel() * module.in_features

    stages = list(model.named_children())
    handles = [module.register_forward_hook(record_stage(name)) for name, module in stages]
    handles += [m.register_forward_hook(count_macs) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    try:
        model.eval()
        with torch.inference_mode():
            model(torch.zeros((1, *input_size), device=next(model.parameters()).device))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    layers = tuple(
        LayerRow(name=name, kind=kind_of(module), output_shape=shapes[name], params=trainable(module))
        for name, module in stages
        if name in shapes and (name in reshapes or trainable(module) > 0)
    )
    return ModelSummary(input_size=tuple(input_size), layers=layers, param_count=trainable(model), macs=macs[0])

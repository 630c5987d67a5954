"""Measuring a built Keras model: its layer table, trainable parameters and MACs.

MACs are counted from layer shapes with the convention zoo-torch uses, so the
two backends agree exactly: a convolution costs ``out_h * out_w * out_c *
k_h * k_w * in_c / groups`` multiply-accumulates per image, a dense layer
``in_features * units``; biases, BatchNorm, pooling and activations are free.
Shapes are reported as (C, H, W), PyTorch's order, so tables line up. The
table lists the model's own layers (``model.layers``) that have parameters or change
the shape, with framework-neutral kinds; element-wise layers (activations, LRN,
dropout) are left out, as in zoo-torch.
"""

from __future__ import annotations

import math
from typing import Any

from zoo.api import LayerRow, ModelSummary
from zoo_keras.runtime import keras


def kind_of(layer: Any) -> str:
    """conv, batchnorm, maxpool, avgpool, flatten, dense, bottleneck (a nested block), or the class name."""
    kinds = (
        (keras.layers.Conv2D, "conv"),
        (keras.layers.BatchNormalization, "batchnorm"),
        (keras.layers.MaxPooling2D, "maxpool"),
        (keras.layers.AveragePooling2D, "avgpool"),
        (keras.layers.Flatten, "flatten"),
        (keras.layers.Dense, "dense"),
        (keras.Model, "bottleneck"),  # the only nested models zoo-keras builds are alexnet_res' blocks
    )
    for cls, kind in kinds:
        if isinstance(layer, cls):
            return kind
    return type(layer).__name__.lower()


def trainable_params(layer: Any) -> int:
    """Number of trainable scalars in ``layer`` (a layer or a whole model)."""
    return sum(math.prod(weight.shape) for weight in layer.trainable_weights)


def chw(shape: tuple[int | None, ...]) -> tuple[int, ...]:
    """A Keras output shape without its batch axis, channels-last turned to (C, H, W)."""
    dims = tuple(int(d) for d in shape[1:])
    if len(dims) == 3:
        return dims[2], dims[0], dims[1]
    return dims


def layer_macs(layer: Any) -> int:
    """Multiply-accumulates of one image through ``layer``, recursing into nested models."""
    if isinstance(layer, keras.Model):
        return sum(layer_macs(inner) for inner in layer.layers)
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        _, out_h, out_w, out_c = layer.output.shape
        k_h, k_w = layer.kernel_size
        return int(out_h * out_w * out_c * k_h * k_w)
    if isinstance(layer, keras.layers.SeparableConv2D):
        _, out_h, out_w, out_c = layer.output.shape
        k_h, k_w = layer.kernel_size
        depthwise = layer.input.shape[-1] * layer.depth_multiplier
        return int(out_h * out_w * depthwise * (k_h * k_w + out_c))
    if isinstance(layer, keras.layers.Conv2D):
        _, out_h, out_w, out_c = layer.output.shape
        k_h, k_w = layer.kernel_size
        in_c = layer.input.shape[-1]
        return int(out_h * out_w * out_c * k_h * k_w * in_c // layer.groups)
    if isinstance(layer, keras.layers.Dense):  # once per position when applied to a map (ConvNeXt's MLPs)
        return int(layer.input.shape[-1] * layer.units * math.prod(layer.output.shape[1:-1]))
    return 0


def is_stage(layer: Any) -> bool:
    """Whether ``layer`` belongs in the table: it has parameters or changes the shape (not the input)."""
    if isinstance(layer, keras.layers.InputLayer):
        return False
    if trainable_params(layer) > 0:
        return True
    inputs = layer.input if not isinstance(layer.input, list) else layer.input[0]
    return tuple(inputs.shape) != tuple(layer.output.shape)


def summarize(model: Any, input_size: tuple[int, int, int]) -> ModelSummary:
    """The stage table, trainable parameters and MACs of ``model`` for one ``input_size`` (C, H, W) image."""
    rows = tuple(
        LayerRow(
            name=layer.name,
            kind=kind_of(layer),
            output_shape=chw(tuple(layer.output.shape)),
            params=trainable_params(layer),
        )
        for layer in model.layers
        if is_stage(layer)
    )
    return ModelSummary(
        input_size=tuple(int(d) for d in input_size),
        layers=rows,
        param_count=trainable_params(model),
        macs=sum(layer_macs(layer) for layer in model.layers),
    )

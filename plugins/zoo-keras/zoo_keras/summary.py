"""Measuring a built Keras model: its layer table, trainable parameters and MACs.

MACs are counted from layer shapes with the convention zoo-torch uses, so the
two backends agree exactly: a convolution costs ``out_h * out_w * out_c *
k_h * k_w * in_c / groups`` multiply-accumulates per image, a dense layer
``in_features * units``; biases, BatchNorm, pooling and activations are free.
Shapes are reported as (C, H, W), PyTorch's order, so tables line up.
"""

from __future__ import annotations

import math
from typing import Any

from zoo.backend import LayerRow, ModelSummary
from zoo_keras.runtime import keras


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
    if isinstance(layer, keras.layers.Conv2D):
        _, out_h, out_w, out_c = layer.output.shape
        k_h, k_w = layer.kernel_size
        in_c = layer.input.shape[-1]
        return int(out_h * out_w * out_c * k_h * k_w * in_c // layer.groups)
    if isinstance(layer, keras.layers.Dense):
        return int(layer.input.shape[-1] * layer.units)
    return 0


def summarize(model: Any, input_shape: tuple[int, int, int]) -> ModelSummary:
    """The layer table (top-level layers, Input excluded), parameters and MACs of ``model``."""
    rows = tuple(
        LayerRow(
            name=layer.name,
            kind=type(layer).__name__,
            output_shape=chw(tuple(layer.output.shape)),
            params=trainable_params(layer),
        )
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer)
    )
    return ModelSummary(
        input_shape=tuple(int(d) for d in input_shape),
        layers=rows,
        param_count=trainable_params(model),
        macs=sum(layer_macs(layer) for layer in model.layers),
    )

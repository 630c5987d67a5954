"""The tensor arithmetic of moving weights between PyTorch's and Keras' conventions, in numpy.

A :class:`zoo.api.WeightMap` says which torch module is which Keras layer; this
module turns one side's arrays into the other's, exactly (transposes and
permutations only, so a round trip is bit-identical):

=================  ==========================  ===========================
what               PyTorch                     Keras
=================  ==========================  ===========================
conv kernel        ``weight`` (O, I, kH, kW)   ``kernel`` (kH, kW, I, O)
dense kernel       ``weight`` (out, in)        ``kernel`` (in, out)
flatten order      (C, H, W)                   (H, W, C): fc1's rows permuted
BatchNorm          weight, bias,               gamma, beta,
                   running_mean, running_var   moving_mean, moving_variance
BN counter         num_batches_tracked         none (set to 0 on the way back)
=================  ==========================  ===========================

BatchNorm's momentum (PyTorch 0.1 is Keras 0.9) and epsilon are the models'
build settings, not weights: :func:`check_batchnorm` refuses twins whose
settings differ. LRN, padding, pooling and dropout carry no weights.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from zoo.api.backend import Preprocessing
from zoo.api.conversion import LayerMap, WeightMap
from zoo.api.errors import PluginError

TORCH_BN = ("weight", "bias", "running_mean", "running_var")
KERAS_BN = ("gamma", "beta", "moving_mean", "moving_variance")
TORCH_BN_COUNTER = "num_batches_tracked"
TORCH_DENSE = ("weight", "bias")
KERAS_DENSE = ("kernel", "bias")

Arrays = dict[str, np.ndarray]
FeatureShapes = Mapping[str, tuple[int, int, int]]  # Keras Flatten layer path -> its input (H, W, C)


def conv_to_keras(weight: np.ndarray) -> np.ndarray:
    """A torch conv weight (O, I, kH, kW) as a Keras kernel (kH, kW, I, O)."""
    return np.ascontiguousarray(weight.transpose(2, 3, 1, 0))


def conv_to_torch(kernel: np.ndarray) -> np.ndarray:
    """A Keras conv kernel (kH, kW, I, O) as a torch weight (O, I, kH, kW)."""
    return np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))


def dense_to_keras(weight: np.ndarray, feature_hwc: tuple[int, int, int] | None = None) -> np.ndarray:
    """A torch linear weight (out, in) as a Keras kernel (in, out).

    With ``feature_hwc``, the layer reads a flattened (H, W, C) map: torch's input index
    ``c*H*W + h*W + w`` becomes Keras' ``h*W*C + w*C + c``.
    """
    if feature_hwc is not None:
        h, w, c = feature_hwc
        weight = weight.reshape(weight.shape[0], c, h, w).transpose(0, 2, 3, 1).reshape(weight.shape[0], -1)
    return np.ascontiguousarray(weight.T)


def dense_to_torch(kernel: np.ndarray, feature_hwc: tuple[int, int, int] | None = None) -> np.ndarray:
    """A Keras dense kernel (in, out) as a torch linear weight (out, in); the inverse of :func:`dense_to_keras`."""
    weight = kernel.T
    if feature_hwc is not None:
        h, w, c = feature_hwc
        weight = weight.reshape(weight.shape[0], h, w, c).transpose(0, 3, 1, 2).reshape(weight.shape[0], -1)
    return np.ascontiguousarray(weight)


def _feature(layer: LayerMap, shapes: FeatureShapes) -> tuple[int, int, int] | None:
    if not layer.flatten:
        return None
    shape = shapes.get(layer.flatten)
    if shape is None or len(shape) != 3:
        raise PluginError(f"weight map: {layer.keras} follows {layer.flatten!r}, which is not a Flatten of a "
                          f"(H, W, C) map in the Keras model (input {shape})")
    return shape


class _Source:
    """One side's arrays, handed out once each, so what no entry took can be named."""

    def __init__(self, arrays: Mapping[str, np.ndarray], side: str) -> None:
        self.arrays, self.side, self.taken = arrays, side, set()

    def take(self, key: str) -> np.ndarray:
        if key not in self.arrays:
            raise PluginError(f"weight map names {key!r}, which the {self.side} model does not have")
        self.taken.add(key)
        return self.arrays[key]

    def optional(self, key: str) -> np.ndarray | None:
        return self.take(key) if key in self.arrays else None

    def check_all_taken(self, ignore: tuple[str, ...] = ()) -> None:
        left = sorted(k for k in self.arrays if k not in self.taken and k.rsplit(".", 1)[-1] not in ignore)
        if left:
            shown = ", ".join(left[:4]) + (f" and {len(left) - 4} more" if len(left) > 4 else "")
            raise PluginError(f"the weight map leaves {self.side} weights unmapped: {shown}; add them to the map")


def to_keras(torch_arrays: Mapping[str, np.ndarray], weight_map: WeightMap, shapes: FeatureShapes) -> Arrays:
    """Torch ``state_dict`` arrays (``conv1.weight``) as Keras weights (``conv1/kernel``)."""
    source, out = _Source(torch_arrays, "torch"), {}
    for layer in weight_map.layers:
        t, k = layer.torch, layer.keras
        if layer.kind == "batchnorm":
            for tname, kname in zip(TORCH_BN, KERAS_BN, strict=True):
                out[f"{k}/{kname}"] = np.array(source.take(f"{t}.{tname}"))
            source.optional(f"{t}.{TORCH_BN_COUNTER}")
            continue
        weight = source.take(f"{t}.weight")
        if layer.kind == "conv":
            out[f"{k}/kernel"] = conv_to_keras(weight)
        else:
            out[f"{k}/kernel"] = dense_to_keras(weight, _feature(layer, shapes))
        bias = source.optional(f"{t}.bias")
        if bias is not None:
            out[f"{k}/bias"] = np.array(bias)
    source.check_all_taken()
    return out


def to_torch(keras_arrays: Mapping[str, np.ndarray], weight_map: WeightMap, shapes: FeatureShapes) -> Arrays:
    """Keras weights (``conv1/kernel``) as torch ``state_dict`` arrays (``conv1.weight``);
    ``num_batches_tracked`` (no Keras counterpart, unused with a set momentum) is 0."""
    source, out = _Source(keras_arrays, "keras"), {}
    for layer in weight_map.layers:
        t, k = layer.torch, layer.keras
        if layer.kind == "batchnorm":
            for tname, kname in zip(TORCH_BN, KERAS_BN, strict=True):
                out[f"{t}.{tname}"] = np.array(source.take(f"{k}/{kname}"))
            out[f"{t}.{TORCH_BN_COUNTER}"] = np.zeros((), dtype=np.int64)
            continue
        kernel = source.take(f"{k}/kernel")
        if layer.kind == "conv":
            out[f"{t}.weight"] = conv_to_torch(kernel)
        else:
            out[f"{t}.weight"] = dense_to_torch(kernel, _feature(layer, shapes))
        bias = source.optional(f"{k}/bias")
        if bias is not None:
            out[f"{t}.bias"] = np.array(bias)
    source.check_all_taken()
    return out


def check_batchnorm(
    weight_map: WeightMap, torch_bn: Mapping[str, tuple[float, float]], keras_bn: Mapping[str, tuple[float, float]]
) -> None:
    """Refuse twins whose BatchNorm layers differ in momentum (PyTorch's convention: Keras 0.9 is
    PyTorch 0.1) or epsilon: the same statistics would normalise differently."""
    for layer in weight_map.layers:
        if layer.kind != "batchnorm":
            continue
        t, k = torch_bn.get(layer.torch), keras_bn.get(layer.keras)
        if t is None or k is None:
            raise PluginError(f"weight map: {layer.torch} / {layer.keras} is not a BatchNorm layer in both models")
        if not all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(t, k, strict=True)):
            raise PluginError(f"BatchNorm {layer.torch} has momentum {t[0]:g}, epsilon {t[1]:g} in torch but "
                              f"{k[0]:g}, {k[1]:g} in Keras (PyTorch's convention); the twins are not the same network")


def model_inputs(images: np.ndarray, preprocessing: Preprocessing) -> np.ndarray:
    """uint8 NHWC images as float32 NHWC model inputs: ``(x / 255 - mean) / std``, then a bilinear
    resize (half-pixel centres, no antialiasing, as both backends) to ``preprocessing.img_size``."""
    mean = np.asarray(preprocessing.mean, np.float32)
    std = np.asarray(preprocessing.std, np.float32)
    x = (images.astype(np.float32) / np.float32(255) - mean) / std
    height, width = preprocessing.img_size
    if x.shape[1:3] != (height, width):
        x = _resize_axis(_resize_axis(x, height, axis=1), width, axis=2)
    return np.ascontiguousarray(x, dtype=np.float32)


def _resize_axis(x: np.ndarray, size: int, axis: int) -> np.ndarray:
    old = x.shape[axis]
    centres = np.clip((np.arange(size, dtype=np.float64) + 0.5) * old / size - 0.5, 0, old - 1)
    low = np.floor(centres).astype(np.int64)
    high = np.minimum(low + 1, old - 1)
    frac = (centres - low).astype(np.float32)
    shape = [1] * x.ndim
    shape[axis] = size
    frac = frac.reshape(shape)
    return np.take(x, low, axis=axis) * (1 - frac) + np.take(x, high, axis=axis) * frac

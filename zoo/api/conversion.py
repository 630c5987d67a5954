"""Weight maps: how a family's PyTorch and Keras twins name the same parameters.

A family that builds one network in both frameworks declares, once, which
torch module holds the weights of which Keras layer and what kind of layer it
is; ``zoo convert`` (``docs/convert.md``) does the tensor arithmetic (kernel
layouts, transposes, the flatten order, BatchNorm's names). A model points at
its map through :attr:`zoo.api.ModelSpec.weight_map`, a lazy
``"package.module:attribute"`` reference, so registering stays free of
frameworks::

    LENET5 = WeightMap(layers=(
        LayerMap("conv1", "conv1", "conv"),
        LayerMap("conv2", "conv2", "conv"),
        LayerMap("fc1", "fc1", "dense", flatten="flatten"),  # first dense after the NCHW/NHWC flatten
        LayerMap("fc2", "fc2", "dense"),
        LayerMap("fc3", "fc3", "dense"),
    ))

Two models are twins when they share ``family`` and ``variant`` and their
backends are ``torch`` and ``keras``. Every parameter and buffer of both must be
covered by the map (layers without weights, such as pools, LRN, padding and
dropout, need no entry), or the conversion is refused naming what is left over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from zoo.api.errors import PluginError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    import numpy as np

LayerKind = Literal["conv", "dense", "batchnorm"]
LAYER_KINDS: tuple[str, ...] = ("conv", "dense", "batchnorm")


@dataclass(frozen=True)
class LayerMap:
    """One layer with weights, as each framework names it.

    Attributes:
        torch: module path in the torch model's ``state_dict`` (``"conv1"``, ``"block1.shortcut.0"``).
        keras: layer path in the Keras model, nested models joined by ``/`` (``"block1/proj_conv"``).
        kind: ``"conv"`` (2-D convolution, optional bias), ``"dense"`` (fully connected, optional bias)
            or ``"batchnorm"`` (scale, shift, running mean and variance).
        flatten: for a dense layer fed by a flatten of a feature map: the Keras path of that
            ``Flatten`` layer, whose input shape gives the permutation between PyTorch's (C, H, W) and
            Keras' (H, W, C) flatten orders. ``""`` for every other layer.
    """

    torch: str
    keras: str
    kind: LayerKind
    flatten: str = ""

    def __post_init__(self) -> None:
        if self.kind not in LAYER_KINDS:
            raise PluginError(f"LayerMap {self.torch!r}: kind {self.kind!r} is not one of {', '.join(LAYER_KINDS)}")
        if self.flatten and self.kind != "dense":
            raise PluginError(f"LayerMap {self.torch!r}: only a dense layer follows a flatten")


@dataclass(frozen=True)
class WeightMap:
    """Every layer with weights of one network, in both frameworks' names.

    Attributes:
        layers: one :class:`LayerMap` per layer with weights, each torch and Keras name once.
    """

    layers: tuple[LayerMap, ...]

    def __post_init__(self) -> None:
        for side in ("torch", "keras"):
            names = [getattr(layer, side) for layer in self.layers]
            twice = sorted({name for name in names if names.count(name) > 1})
            if twice:
                raise PluginError(f"WeightMap names {side} layer(s) {', '.join(twice)} more than once")


class ConvertibleBackend(Protocol):
    """What a backend offers beyond :class:`zoo.api.Backend` for ``zoo convert`` and ``zoo export``.

    ``layout`` says which side of a :class:`LayerMap` the backend's names and tensors follow:
    ``"torch"`` (NCHW, conv kernels OIHW, dense weights (out, in)) or ``"keras"`` (NHWC, kernels
    HWIO, dense kernels (in, out)). Arrays cross the seam as numpy. zoo checks for the methods
    it needs by name (a torch-layout backend need not offer ``feature_shape``).
    """

    layout: str

    def get_weights(self, model: Any) -> dict[str, np.ndarray]:
        """Every parameter and buffer, keyed ``"<layer path><sep><name>"`` in the framework's own naming."""

    def set_weights(self, model: Any, weights: Mapping[str, np.ndarray]) -> None:
        """Assign exactly these arrays (same keys and shapes as :meth:`get_weights`)."""

    def feature_shape(self, model: Any, layer: str) -> tuple[int, ...]:
        """Shape of ``layer``'s input without the batch axis; asked of the ``"keras"`` layout side only."""

    def batchnorm_conventions(self, model: Any) -> dict[str, tuple[float, float]]:
        """``{layer path: (momentum in PyTorch's convention, epsilon)}`` of every BatchNorm layer."""

    def logits(self, model: Any, inputs: np.ndarray, *, batch_size: int) -> np.ndarray:
        """Logits float32 (N, classes) in inference mode for preprocessed NHWC float32 ``inputs``."""

    def export_onnx(self, model: Any, path: Path, *, example: np.ndarray, opset: int) -> None:
        """Write an ONNX graph taking inputs in the backend's layout (batch axis dynamic) and giving logits."""

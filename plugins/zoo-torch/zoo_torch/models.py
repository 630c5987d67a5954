"""The four AlexNet variants, as ``nn.Sequential`` networks with named stages.

Every builder has the signature ``fn(*, num_classes, in_chans, img_size)``
and refuses an input below the model's ``min_input_size`` (from
``zoo.families``) with a :class:`zoo.errors.UsageError`. Flatten sizes are
computed from ``img_size``. Stages are named ``conv1..conv5``, ``bn1..``,
``pool1..``, ``block1..``, ``flatten``, ``fc1``, ``fc2``, ``fc3`` (the head),
as in zoo-keras; activations, LRN and dropout have other names and no
parameters. Outputs are logits.

``alexnet_res`` follows the CIFAR-10 tutorial's intent, not its code: the
tutorial called its residual-block function with ``inputs=None`` inside a
``Sequential`` model, which cannot run (a Sequential layer sees one tensor,
and a shortcut needs the block's input twice). Here each bottleneck block is
a module (:class:`zoo_torch.layers.Bottleneck`) that keeps its own input for
the shortcut: identity when the channels match, else a 1x1 projection plus
BatchNorm, as in ResNet.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from zoo.api import ModelSpec, alexnet_specs, check_input_size
from zoo_torch.layers import (
    Bottleneck,
    LocalResponseNorm,
    avg_pool,
    batch_norm,
    conv,
    init_glorot,
    max_pool,
    out_size,
)

SPECS: dict[str, ModelSpec] = {
    spec.builder.rsplit(":", 1)[1]: spec for spec in alexnet_specs("torch", "zoo_torch.models")
}


class AlexNet(nn.Sequential):
    """An AlexNet variant: ``nn.Sequential`` of named stages, plus what it was built for."""

    def __init__(
        self,
        stages: OrderedDict[str, nn.Module],
        *,
        variant: str,
        num_classes: int,
        in_chans: int,
        img_size: tuple[int, int],
    ) -> None:
        super().__init__(stages)
        self.variant = variant
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.img_size = img_size

    def __getitem__(self, index: int | slice) -> nn.Module:
        """A stage, or a slice of stages as a plain ``nn.Sequential`` sharing their weights."""
        if isinstance(index, slice):
            return nn.Sequential(OrderedDict(list(self._modules.items())[index]))
        return super().__getitem__(index)


def _checked(builder: str, img_size: tuple[int, int]) -> tuple[int, int]:
    spec = SPECS[builder]
    size = (int(img_size[0]), int(img_size[1]))
    check_input_size(spec, size)
    return size


def _head(features: int, width: int, num_classes: int, *, dropout_first: bool) -> list[tuple[str, nn.Module]]:
    """flatten, fc1, fc2 (``width``, ReLU, dropout 0.5 before or after each), fc3."""
    layers: list[tuple[str, nn.Module]] = [("flatten", nn.Flatten())]
    for i, (n_in, n_out) in enumerate(((features, width), (width, width)), start=1):
        fc = [(f"fc{i}", nn.Linear(n_in, n_out)), (f"act_fc{i}", nn.ReLU(inplace=True))]
        drop = [(f"drop{i}", nn.Dropout(0.5))]
        layers += drop + fc if dropout_first else fc + drop
    layers.append(("fc3", nn.Linear(width, num_classes)))
    return layers


def _build(builder: str, layers: list[tuple[str, nn.Module]], num_classes: int, in_chans: int,
           size: tuple[int, int]) -> AlexNet:
    model = AlexNet(
        OrderedDict(layers), variant=SPECS[builder].variant, num_classes=num_classes,
        in_chans=in_chans, img_size=size,
    )
    init_glorot(model)
    return model


def alexnet(*, num_classes: int, in_chans: int, img_size: tuple[int, int]) -> AlexNet:
    """Classic single-tower AlexNet (Krizhevsky 2012) with LRN; native 227x227, minimum 67x67."""
    size = _checked("alexnet", img_size)
    h, w = size
    for kernel, stride, padding in ((11, 4, "valid"), (3, 2, "valid"), (3, 2, "valid"), (3, 2, "valid")):
        h, w = out_size(h, kernel, stride, padding), out_size(w, kernel, stride, padding)

    def lrn() -> nn.Module:
        return LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)

    layers: list[tuple[str, nn.Module]] = [
        ("conv1", conv(in_chans, 96, 11, stride=4, padding="valid", bias=True)),
        ("act1", nn.ReLU(inplace=True)),
        ("lrn1", lrn()),
        ("pool1", max_pool(padding="valid")),
        ("conv2", conv(96, 256, 5, bias=True)),
        ("act2", nn.ReLU(inplace=True)),
        ("lrn2", lrn()),
        ("pool2", max_pool(padding="valid")),
        ("conv3", conv(256, 384, 3, bias=True)),
        ("act3", nn.ReLU(inplace=True)),
        ("conv4", conv(384, 384, 3, bias=True)),
        ("act4", nn.ReLU(inplace=True)),
        ("conv5", conv(384, 256, 3, bias=True)),
        ("act5", nn.ReLU(inplace=True)),
        ("pool5", max_pool(padding="valid")),
        *_head(256 * h * w, 4096, num_classes, dropout_first=True),
    ]
    return _build("alexnet", layers, num_classes, in_chans, size)


def alexnet_bn(*, num_classes: int, in_chans: int, img_size: tuple[int, int]) -> AlexNet:
    """The MNIST tutorial's AlexNet: conv + ReLU then BatchNorm, average-pool head; minimum 25x25."""
    size = _checked("alexnet_bn", img_size)
    h, w = size
    for kernel, stride, padding in ((11, 4, "same"), (3, 2, "valid"), (3, 2, "valid")):
        h, w = out_size(h, kernel, stride, padding), out_size(w, kernel, stride, padding)
    layers: list[tuple[str, nn.Module]] = []
    widths = (in_chans, 96, 256, 384, 384, 256)
    for i, (kernel, stride) in enumerate(((11, 4), (5, 1), (3, 1), (3, 1), (3, 1)), start=1):
        layers += [
            (f"conv{i}", conv(widths[i - 1], widths[i], kernel, stride=stride, bias=True)),
            (f"act{i}", nn.ReLU(inplace=True)),
            (f"bn{i}", batch_norm(widths[i])),
        ]
        if i == 2:
            layers.append(("pool2", max_pool(padding="valid")))
    layers.append(("pool5", avg_pool()))
    layers += _head(256 * h * w, 4096, num_classes, dropout_first=False)
    return _build("alexnet_bn", layers, num_classes, in_chans, size)


def alexnet_res(*, num_classes: int, in_chans: int, img_size: tuple[int, int]) -> AlexNet:
    """The CIFAR-10 tutorial's AlexNet: stride-4 stem, four bottleneck residual blocks; minimum 25x25."""
    size = _checked("alexnet_res", img_size)
    h, w = size
    for kernel, stride, padding in ((11, 4, "same"), (3, 2, "valid"), (3, 2, "valid")):
        h, w = out_size(h, kernel, stride, padding), out_size(w, kernel, stride, padding)
    layers: list[tuple[str, nn.Module]] = [
        ("conv1", conv(in_chans, 96, 11, stride=4, bias=False)),
        ("bn1", batch_norm(96)),
        ("act1", nn.ReLU(inplace=True)),
        ("pool1", max_pool(padding="valid")),
    ]
    widths = (96, 256, 384, 384, 256)
    layers += [(f"block{i}", Bottleneck(widths[i - 1], widths[i])) for i in range(1, 5)]
    layers.append(("pool5", max_pool(padding="valid")))
    layers += _head(256 * h * w, 4096, num_classes, dropout_first=False)
    return _build("alexnet_res", layers, num_classes, in_chans, size)


def alexnet_small(*, num_classes: int, in_chans: int, img_size: tuple[int, int]) -> AlexNet:
    """AlexNet's 5-conv/3-FC shape for 28-32 px: stride-1 5x5 stem, conv-BN-ReLU, "same" pools; minimum 8x8."""
    size = _checked("alexnet_small", img_size)
    h, w = size
    for _ in range(3):
        h, w = out_size(h, 3, 2, "same"), out_size(w, 3, 2, "same")
    layers: list[tuple[str, nn.Module]] = []
    widths = (in_chans, 96, 256, 384, 384, 256)
    for i, kernel in enumerate((5, 5, 3, 3, 3), start=1):
        layers += [
            (f"conv{i}", conv(widths[i - 1], widths[i], kernel, bias=False)),
            (f"bn{i}", batch_norm(widths[i])),
            (f"act{i}", nn.ReLU(inplace=True)),
        ]
        if i in (1, 2, 5):
            layers.append((f"pool{i}", max_pool(padding="same")))
    layers += _head(256 * h * w, 1024, num_classes, dropout_first=True)
    return _build("alexnet_small", layers, num_classes, in_chans, size)

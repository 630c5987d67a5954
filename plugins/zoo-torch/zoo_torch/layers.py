"""Building blocks shared by zoo-torch's AlexNet variants.

Every choice here is one half of a parity contract with zoo-keras (see
``docs/torch.md``): TensorFlow's "same" padding (timm's ``Conv2dSame`` /
``MaxPool2dSame`` pad the extra pixel bottom/right, as TF does), BatchNorm
momentum 0.1 / epsilon 1e-5 (Keras: 0.9 / 1e-5), glorot-uniform weights and
zero biases (Keras' defaults, not PyTorch's).
"""

from __future__ import annotations

import math

from timm.layers import create_conv2d, create_pool2d
from torch import Tensor, nn

BN_MOMENTUM = 0.1
BN_EPSILON = 1e-5


def conv(
    in_chans: int, out_chans: int, kernel: int, *, stride: int = 1, padding: str = "same", bias: bool
) -> nn.Conv2d:
    """A conv with TF semantics: ``padding`` is ``"same"`` (TF's, also for stride > 1) or ``"valid"``."""
    return create_conv2d(in_chans, out_chans, kernel, stride=stride, padding=padding, bias=bias)


def max_pool(*, padding: str) -> nn.Module:
    """AlexNet's overlapping 3x3/2 max pool, ``"same"`` (TF's) or ``"valid"``."""
    return create_pool2d("max", 3, stride=2, padding=padding)


def avg_pool() -> nn.Module:
    """A 3x3/2 average pool without padding (the MNIST tutorial's head)."""
    return create_pool2d("avg", 3, stride=2, padding="valid")


def batch_norm(channels: int) -> nn.BatchNorm2d:
    """BatchNorm with the constants both backends share."""
    return nn.BatchNorm2d(channels, eps=BN_EPSILON, momentum=BN_MOMENTUM)


def out_size(size: int, kernel: int, stride: int, padding: str) -> int:
    """Output length of a conv/pool along one axis, TF's arithmetic (0 when the input is too small)."""
    if padding == "same":
        return math.ceil(size / stride)
    return max((size - kernel) // stride + 1, 0)


class Bottleneck(nn.Module):
    """A bottleneck residual block: 1x1 reduce to ``out/4``, 3x3, 1x1 expand to ``out``,
    each followed by BatchNorm; the shortcut is the identity when the channels match,
    else a 1x1 projection plus BatchNorm; ReLU after the sum. Stride 1, size kept."""

    def __init__(self, in_chans: int, out_chans: int) -> None:
        super().__init__()
        mid = out_chans // 4
        self.conv1 = conv(in_chans, mid, 1, bias=False)
        self.bn1 = batch_norm(mid)
        self.conv2 = conv(mid, mid, 3, bias=False)
        self.bn2 = batch_norm(mid)
        self.conv3 = conv(mid, out_chans, 1, bias=False)
        self.bn3 = batch_norm(out_chans)
        self.shortcut: nn.Module = (
            nn.Identity()
            if in_chans == out_chans
            else nn.Sequential(conv(in_chans, out_chans, 1, bias=False), batch_norm(out_chans))
        )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        """Residual branch plus shortcut, then ReLU."""
        y = self.act(self.bn1(self.conv1(x)))
        y = self.act(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.act(y + self.shortcut(x))


def init_glorot(model: nn.Module) -> None:
    """Glorot/xavier-uniform weights and zero biases for every conv and linear layer
    (Keras' defaults); BatchNorm keeps gamma 1, beta 0."""
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)

"""Building blocks shared by zoo-torch's AlexNet variants.

Every choice here is one half of a parity contract with zoo-keras (see
``docs/torch.md``): TensorFlow's "same" padding (timm's ``Conv2dSame`` /
``MaxPool2dSame`` pad the extra pixel bottom/right, as TF does), BatchNorm
momentum 0.1 / epsilon 1e-5 (Keras: 0.9 / 1e-5), glorot-uniform weights and
zero biases (Keras' defaults, not PyTorch's). :class:`LocalResponseNorm` is
``torch.nn.LocalResponseNorm``'s maths with a hand-written backward, several
times faster (``benchmarks/bench_lrn.py``).
"""

from __future__ import annotations

import math

import torch
from timm.layers import create_conv2d, create_pool2d
from torch import Tensor, nn
from torch.autograd.function import FunctionCtx, once_differentiable

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


def _channel_window_sum(t: Tensor, before: int, after: int) -> Tensor:
    """``out[:, c] = sum(t[:, c - before .. c + after])``, channels outside the tensor counting as zero."""
    out = t.clone()
    for offset in range(1, before + 1):
        out[:, offset:] += t[:, :-offset]
    for offset in range(1, after + 1):
        out[:, :-offset] += t[:, offset:]
    return out


class _LocalResponseNormFn(torch.autograd.Function):
    """LRN whose backward is written out, so autograd keeps three tensors instead of a chain of temporaries.

    With ``d_c = k + alpha / size * sum_{j in window(c)} x_j ** 2`` and ``y_c = x_c * d_c ** -beta``:
    ``dL/dx_j = g_j * d_j ** -beta - 2 * alpha * beta / size * x_j * sum_{c: j in window(c)} g_c * y_c / d_c``.
    """

    @staticmethod
    def forward(ctx: FunctionCtx, x: Tensor, size: int, alpha: float, beta: float, k: float) -> Tensor:
        before, after = size // 2, (size - 1) // 2
        denom = _channel_window_sum(x * x, before, after).mul_(alpha / size).add_(k)
        scale = denom.pow(-beta)
        ctx.save_for_backward(x, denom, scale)
        ctx.window = (before, after)
        ctx.coefficient = 2.0 * alpha * beta / size
        return x * scale

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, grad: Tensor) -> tuple[Tensor | None, ...]:
        x, denom, scale = ctx.saved_tensors
        before, after = ctx.window
        grad_scaled = grad * scale
        # The transpose of a window reaching `before` down and `after` up reaches `after` down and `before` up.
        spread = _channel_window_sum((grad_scaled * x).div_(denom), after, before)
        grad_x = grad_scaled.sub_(spread.mul_(x).mul_(ctx.coefficient))
        return grad_x, None, None, None, None


class LocalResponseNorm(nn.LocalResponseNorm):
    """``torch.nn.LocalResponseNorm`` (same arguments, same output, no parameters) with a faster backward."""

    def forward(self, input: Tensor) -> Tensor:
        """Normalise ``input`` (N, C, ...) across channels."""
        if input.dim() < 3:
            return super().forward(input)  # torch's own error for a tensor without channels
        return _LocalResponseNormFn.apply(input, self.size, self.alpha, self.beta, self.k)


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

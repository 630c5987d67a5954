"""zoo-torch's four AlexNet variants: shapes, parameter counts, minima, parity constants."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from zoo.api.errors import UsageError  # noqa: E402
from zoo.api.families import alexnet_specs  # noqa: E402
from zoo_torch import models  # noqa: E402
from zoo_torch.layers import LocalResponseNorm  # noqa: E402
from zoo_torch.runtime import create_optimizer  # noqa: E402

SMALL_VARIANTS = ("alexnet_bn", "alexnet_res", "alexnet_small")
SPECS = {spec.builder.rsplit(":", 1)[1]: spec for spec in alexnet_specs("torch", "zoo_torch.models")}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def build(name: str, in_chans: int, size: int, num_classes: int = 10) -> nn.Module:
    return getattr(models, name)(num_classes=num_classes, in_chans=in_chans, img_size=(size, size))


def trainable(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def train_step(model: nn.Module, in_chans: int, size: int) -> None:
    """Forward, loss, backward and a real Adam step; the weights must move."""
    torch.manual_seed(0)
    model.train()
    optimizer = create_optimizer(model, "adam", 1e-3, 0.0)
    x = torch.randn(4, in_chans, size, size)
    y = torch.tensor([0, 1, 2, 3])
    before = model.fc3.weight.detach().clone()
    logits = model(x)
    assert logits.shape == (4, 10)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)
    assert not torch.equal(before, model.fc3.weight)


@pytest.mark.parametrize("name", SMALL_VARIANTS)
@pytest.mark.parametrize(("in_chans", "size"), [(1, 28), (3, 32)])
def test_small_variants_train_at_28_and_32(name: str, in_chans: int, size: int) -> None:
    train_step(build(name, in_chans, size), in_chans, size)


def test_classic_alexnet_trains_at_its_minimum() -> None:
    train_step(build("alexnet", 3, 67), 3, 67)


@pytest.mark.parametrize(("in_chans", "size"), [(1, 28), (3, 32)])
def test_classic_alexnet_refuses_small_images_clearly(in_chans: int, size: int) -> None:
    with pytest.raises(UsageError) as error:
        build("alexnet", in_chans, size)
    message = str(error.value)
    assert "alexnet-torch" in message and "67x67" in message and f"{size}x{size}" in message
    assert "\n" not in message


@pytest.mark.parametrize("name", [*SMALL_VARIANTS, "alexnet"])
def test_builders_refuse_one_pixel_below_the_minimum(name: str) -> None:
    low_h, low_w = SPECS[name].min_img_size
    build(name, 3, low_h)
    with pytest.raises(UsageError, match=f"needs inputs of at least {low_h}x{low_w}"):
        getattr(models, name)(num_classes=10, in_chans=3, img_size=(low_h - 1, low_w))


@pytest.mark.parametrize("name", ["alexnet", "alexnet_bn", "alexnet_res"])
def test_minimum_is_tight(name: str) -> None:
    """One pixel less and the last pool has nothing left: the minimum is not arbitrary."""
    low = SPECS[name].min_img_size[0]
    model = build(name, 1, low).eval()
    features = model[: list(dict(model.named_children())).index("flatten")]
    with torch.inference_mode():
        assert features(torch.zeros(1, 1, low, low)).shape[-2:] == (1, 1)
        with pytest.raises(RuntimeError):
            features(torch.zeros(1, 1, low - 1, low - 1))


def test_minimum_sizes_in_metadata() -> None:
    assert SPECS["alexnet"].min_img_size == (67, 67)
    assert SPECS["alexnet_bn"].min_img_size == (25, 25)
    assert SPECS["alexnet_res"].min_img_size == (25, 25)
    assert SPECS["alexnet_small"].min_img_size == (8, 8)


def test_alexnet_bn_parameter_count_by_hand() -> None:
    conv = (
        11 * 11 * 1 * 96 + 96  # conv1 11,712
        + 5 * 5 * 96 * 256 + 256  # conv2 614,656
        + 3 * 3 * 256 * 384 + 384  # conv3 885,120
        + 3 * 3 * 384 * 384 + 384  # conv4 1,327,488
        + 3 * 3 * 384 * 256 + 256  # conv5 884,992
    )
    batch_norm = 2 * (96 + 256 + 384 + 384 + 256)  # gamma and beta: 192 + 512 + 768 + 768 + 512
    dense = (256 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 10 + 10)  # 1,052,672 + 16,781,312 + 40,970
    assert conv + batch_norm + dense == 21_601_674
    assert trainable(build("alexnet_bn", 1, 28)) == 21_601_674


def test_alexnet_small_parameter_count_by_hand() -> None:
    conv = 5 * 5 * 3 * 96 + 5 * 5 * 96 * 256 + 3 * 3 * 256 * 384 + 3 * 3 * 384 * 384 + 3 * 3 * 384 * 256  # no biases
    batch_norm = 2 * (96 + 256 + 384 + 384 + 256)
    dense = (256 * 4 * 4 * 1024 + 1024) + (1024 * 1024 + 1024) + (1024 * 10 + 10)
    assert conv + batch_norm + dense == 8_976_106
    assert trainable(build("alexnet_small", 3, 32)) == 8_976_106
    assert trainable(build("alexnet_small", 3, 28)) == 8_976_106  # 4x4 before flatten at 28 px too


def test_alexnet_res_parameter_count_by_hand() -> None:
    def bottleneck(n_in: int, n_out: int) -> int:
        mid = n_out // 4
        convs = n_in * mid + 3 * 3 * mid * mid + mid * n_out  # 1x1, 3x3, 1x1, no biases
        norms = 2 * (mid + mid + n_out)
        projection = 0 if n_in == n_out else n_in * n_out + 2 * n_out  # 1x1 conv + BatchNorm
        return convs + norms + projection

    stem = 11 * 11 * 3 * 96 + 2 * 96
    blocks = bottleneck(96, 256) + bottleneck(256, 384) + bottleneck(384, 384) + bottleneck(384, 256)
    dense = (256 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 10 + 10)
    assert stem + blocks + dense == 18_575_082
    assert trainable(build("alexnet_res", 3, 32)) == 18_575_082


def test_classic_alexnet_parameter_count_by_hand() -> None:
    conv = (
        11 * 11 * 3 * 96 + 96
        + 5 * 5 * 96 * 256 + 256
        + 3 * 3 * 256 * 384 + 384
        + 3 * 3 * 384 * 384 + 384
        + 3 * 3 * 384 * 256 + 256
    )
    dense = (256 * 6 * 6 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 10 + 10)  # 6x6 after pool5 at 227
    assert conv + dense == 58_322_314
    assert trainable(build("alexnet", 3, 227)) == 58_322_314


def test_tensorflow_same_padding_puts_the_extra_pixel_bottom_right() -> None:
    model = build("alexnet_bn", 1, 28)
    conv1 = model.conv1
    x = torch.randn(1, 1, 28, 28)
    # TF: out = ceil(28 / 4) = 7; total padding (7 - 1) * 4 + 11 - 28 = 7 -> 3 top/left, 4 bottom/right.
    expected = F.conv2d(F.pad(x, (3, 4, 3, 4)), conv1.weight, conv1.bias, stride=4)
    assert torch.allclose(conv1(x), expected, atol=1e-6)


def test_local_response_norm_formula() -> None:
    """The formula zoo-keras reproduces: b = a / (k + alpha / size * sum_{5 channels} a^2) ** beta."""
    lrn = build("alexnet", 3, 67).lrn1
    a = torch.randn(1, 8, 3, 3)
    squares = F.pad(a.pow(2), (0, 0, 0, 0, 2, 2))  # zero channels beyond the edges
    window = sum(squares[:, i : i + 8] for i in range(5))
    expected = a / (2.0 + 1e-4 / 5 * window) ** 0.75
    assert torch.allclose(lrn(a), expected, atol=1e-6)


@pytest.mark.parametrize("size", [5, 4, 2, 1])
@pytest.mark.parametrize("shape", [(2, 9, 4, 3), (2, 9, 5), (2, 9, 3, 2, 2)])
def test_fast_local_response_norm_equals_torch_in_value_and_gradient(size: int, shape: tuple[int, ...]) -> None:
    """The hand-written backward against autograd through torch's own LRN (float64; even sizes
    have a lopsided window, so the backward must use its mirror image)."""
    x = (torch.randn(*shape, dtype=torch.float64) * 5).requires_grad_()
    fast = LocalResponseNorm(size, alpha=1e-2, beta=0.75, k=2.0)
    reference = nn.LocalResponseNorm(size, alpha=1e-2, beta=0.75, k=2.0)
    assert torch.autograd.gradcheck(fast, (x,))
    grad_out = torch.randn(shape, dtype=torch.float64)
    (fast_grad,) = torch.autograd.grad(fast(x), x, grad_out)
    (reference_grad,) = torch.autograd.grad(reference(x), x, grad_out)
    assert torch.allclose(fast(x), reference(x), rtol=1e-12, atol=1e-12)
    assert torch.allclose(fast_grad, reference_grad, rtol=1e-10, atol=1e-12)


def test_fast_local_response_norm_keeps_channels_last_and_is_what_alexnet_uses() -> None:
    model = build("alexnet", 3, 67)
    assert isinstance(model.lrn1, LocalResponseNorm) and isinstance(model.lrn2, LocalResponseNorm)
    x = torch.relu(torch.randn(2, 96, 7, 7)).contiguous(memory_format=torch.channels_last).requires_grad_()
    y = model.lrn1(x)
    y.sum().backward()
    assert y.is_contiguous(memory_format=torch.channels_last)
    assert x.grad is not None and x.grad.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(y, nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0)(x), atol=1e-6)


def test_fast_local_response_norm_compiles() -> None:
    """torch.compile traces the custom autograd function (the GPU path compiles classic AlexNet)."""
    torch._dynamo.reset()
    lrn = LocalResponseNorm(5, alpha=1e-2, beta=0.75, k=2.0)
    x = (torch.randn(2, 8, 3, 3) * 5).requires_grad_()
    compiled = torch.compile(lrn, fullgraph=True)
    (compiled_grad,) = torch.autograd.grad(compiled(x).square().sum(), x)
    (eager_grad,) = torch.autograd.grad(lrn(x).square().sum(), x)
    assert torch.allclose(compiled(x), lrn(x), atol=1e-6)
    assert torch.allclose(compiled_grad, eager_grad, atol=1e-6)


def test_parity_constants_and_initialisation() -> None:
    model = build("alexnet_res", 3, 32)
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert norms and all(m.momentum == 0.1 and m.eps == 1e-5 for m in norms)
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            if module.bias is not None:
                assert torch.count_nonzero(module.bias) == 0
            fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(module.weight)
            limit = (6 / (fan_in + fan_out)) ** 0.5  # glorot uniform
            assert module.weight.abs().max() <= limit


def test_stage_names_are_the_shared_ones() -> None:
    names = [name for name, _ in build("alexnet_res", 3, 32).named_children()]
    assert [n for n in names if not n.startswith(("act", "drop"))] == [
        "conv1", "bn1", "pool1", "block1", "block2", "block3", "block4", "pool5", "flatten", "fc1", "fc2", "fc3",
    ]  # fmt: skip

"""zoo-lenet's own tests: the plugin through zoo's in-process plugin manager, no install needed.

Run from this directory with ``pytest``. The torch and keras tests are skipped
when that framework is not installed.
"""

from __future__ import annotations

import numpy as np
import pytest
from packaging.specifiers import SpecifierSet
from zoo.api import PLUGIN_API_VERSION, UsageError, call_builder
from zoo.testing import Registry, registry_of

from zoo_lenet import digits, plugin

LENET5_PARAMS_10 = 156 + 2_416 + 48_120 + 10_164 + 850  # conv1, conv2, fc1, fc2, fc3 at 32x32


@pytest.fixture(scope="module")
def registry() -> Registry:
    """A registry holding only this plugin, exactly as zoo builds one from installed plugins."""
    return registry_of(lenet=plugin)


def _builder(registry: Registry, name: str):
    spec = registry.model(name).spec
    return lambda **kwargs: call_builder(spec.builder, **kwargs)


def test_registers_models_and_dataset(registry: Registry) -> None:
    assert registry.failures == []
    assert sorted(registry.models) == ["lenet5-keras", "lenet5-torch"]
    assert list(registry.datasets) == ["digits"]
    assert registry.model("lenet5-torch").spec.min_img_size == (28, 28)


def test_declares_a_compatible_api() -> None:
    assert SpecifierSet(plugin.zoo_plugin_api).contains(PLUGIN_API_VERSION)


def test_digits_loader_matches_its_spec(tmp_path) -> None:
    arrays = digits.load(tmp_path)
    train, test = arrays["train"], arrays["test"]
    assert train[0].shape == (1_438, 32, 32, 1) and test[0].shape == (359, 32, 32, 1)
    assert train[0].dtype == np.uint8 and train[0].max() == 255
    assert sorted(set(test[1].tolist())) == list(range(10))
    pixels = train[0] / 255.0
    assert pixels.mean() == pytest.approx(plugin.DIGITS.mean[0], abs=1e-4)
    assert pixels.std() == pytest.approx(plugin.DIGITS.std[0], abs=1e-4)
    again = digits.load(tmp_path)
    assert np.array_equal(again["test"][0], test[0])  # the split is fixed


@pytest.mark.parametrize("size", [(32, 32), (28, 28), (40, 36)])
def test_torch_forward(registry: Registry, size: tuple[int, int]) -> None:
    torch = pytest.importorskip("torch")
    model = _builder(registry, "lenet5-torch")(num_classes=10, in_chans=1, img_size=size)
    logits = model(torch.zeros(2, 1, *size))
    assert tuple(logits.shape) == (2, 10)
    if size == (32, 32):
        assert sum(p.numel() for p in model.parameters()) == LENET5_PARAMS_10


def test_keras_forward(registry: Registry) -> None:
    pytest.importorskip("keras")
    build = _builder(registry, "lenet5-keras")
    model = build(num_classes=10, in_chans=1, img_size=(32, 32))
    assert model.count_params() == LENET5_PARAMS_10
    small = build(num_classes=3, in_chans=1, img_size=(28, 28))
    logits = np.asarray(small(np.zeros((2, 28, 28, 1), "float32")))
    assert logits.shape == (2, 3)


def test_refuses_inputs_below_28(registry: Registry) -> None:
    with pytest.raises(UsageError, match="at least 28x28"):
        _builder(registry, "lenet5-torch")(num_classes=10, in_chans=1, img_size=(27, 32))

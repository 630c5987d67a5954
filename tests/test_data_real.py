"""The built-in catalog through the registry, and real Fashion-MNIST from Debian's package."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

from tests.data_fixtures import isolate
from zoo.data import load_dataset, split_validation, verify_dataset
from zoo.data.arrays import Dataset
from zoo.plugins.registry import get_registry

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
needs_fashion = pytest.mark.skipif(
    not (FASHION_DIR / "train-images-idx3-ubyte.gz").exists(),
    reason="Debian's dataset-fashion-mnist is not installed (make data)",
)


def test_catalog_registers_the_four_datasets_as_a_plugin() -> None:
    registry = get_registry()
    for name in ("mnist", "fashion-mnist", "cifar10", "cifar100"):
        entry = registry.dataset(name)
        assert entry.plugin.name == "datasets" and entry.plugin.distribution == "zoo"
    specs = {name: registry.dataset(name).spec for name in ("mnist", "fashion-mnist", "cifar10", "cifar100")}
    assert [s.num_classes for s in specs.values()] == [10, 10, 10, 100]
    assert specs["mnist"].shape == specs["fashion-mnist"].shape == (28, 28, 1)
    assert specs["cifar10"].shape == specs["cifar100"].shape == (32, 32, 3)
    assert specs["cifar10"].augment == specs["cifar100"].augment == "crop-flip"
    assert specs["mnist"].augment == specs["fashion-mnist"].augment == "shift"
    assert specs["fashion-mnist"].system_dirs == ("/usr/share/datasets/fashion-mnist",)
    assert specs["cifar10"].files[0].md5 == "c58f30108f718f92721af3b95e74349a"
    assert specs["cifar100"].files[0].md5 == "eb9058c3a382ffc7106e4002c42a8d85"
    assert len(set(specs["cifar100"].classes)) == 100
    for spec in specs.values():
        assert all(len(f.md5) == 32 for f in spec.files)
        urls = [f.url for f in spec.files] + list(spec.mirrors)
        assert all(urlsplit(u).scheme == "https" for u in urls), spec.name


def test_missing_fashion_mnist_points_at_the_debian_package() -> None:
    from zoo.data.locate import how_to_provide

    hint = how_to_provide(get_registry().dataset("fashion-mnist").spec)
    assert "install the Debian package dataset-fashion-mnist" in hint and "`data_dir`" in hint
    assert "Debian" not in how_to_provide(get_registry().dataset("cifar10").spec)


@pytest.fixture(scope="module")
def fashion(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dataset]:
    """Real Fashion-MNIST, parsed once for the module into a private cache."""
    if not (FASHION_DIR / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("Debian's dataset-fashion-mnist is not installed (make data)")
    with pytest.MonkeyPatch.context() as patch:
        isolate(patch, tmp_path_factory.mktemp("fashion"))
        patch.setenv("ZOO_OFFLINE", "1")
        yield load_dataset("fashion-mnist", progress=False)


@needs_fashion
def test_real_fashion_mnist_counts_and_shapes(fashion: Dataset) -> None:
    assert fashion.train.images.shape == (60_000, 28, 28, 1)
    assert fashion.test.images.shape == (10_000, 28, 28, 1)
    assert fashion.train.images.dtype == np.uint8 and fashion.train.labels.dtype == np.int64
    assert np.bincount(fashion.train.labels).tolist() == [6_000] * 10
    assert np.bincount(fashion.test.labels).tolist() == [1_000] * 10
    histogram = np.bincount(np.asarray(fashion.train.images).ravel(), minlength=256)
    values = np.arange(256) / 255
    mean = (histogram * values).sum() / histogram.sum()
    std = np.sqrt((histogram * (values - mean) ** 2).sum() / histogram.sum())
    assert mean == pytest.approx(fashion.spec.mean[0], abs=1e-3)
    assert std == pytest.approx(fashion.spec.std[0], abs=1e-3)


@needs_fashion
def test_real_fashion_mnist_cached_load_is_a_memory_map(fashion: Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    start = time.perf_counter()
    again = load_dataset("fashion-mnist", progress=False)
    assert time.perf_counter() - start < 0.5
    assert isinstance(again.train.images, np.memmap)
    assert np.array_equal(again.test.labels, fashion.test.labels)


@needs_fashion
def test_real_fashion_mnist_debian_copy_verifies_by_content(fashion: Dataset) -> None:
    statuses = [s for s in verify_dataset("fashion-mnist") if s.place.kind == "system"]
    assert [s.state for s in statuses] == ["ok"] * 4
    assert all("recompressed" in s.detail for s in statuses)


@needs_fashion
def test_real_fashion_mnist_validation_split(fashion: Dataset) -> None:
    train, val = split_validation(fashion.train, 0.1, seed=0)
    assert val is not None and (len(train), len(val)) == (54_000, 6_000)
    again, _ = split_validation(fashion.train, 0.1, seed=0)
    assert np.array_equal(train.labels, again.labels)
    assert np.bincount(fashion.test.labels).tolist() == [1_000] * 10  # test is never touched

"""The core's input-size decision (data's own, model's native, --min-image-size or --image-size) and the augmentation
that follows it, on the real Fashion-MNIST arrays; no framework is imported."""

from __future__ import annotations

from pathlib import Path

import pytest

from zoo.api.augment import Augmentation
from zoo.api.config import TrainConfig
from zoo.api.errors import UsageError
from zoo.api.sizes import training_img_size
from zoo.plugins.registry import get_registry
from zoo.run.plan import prepare_data

FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
pytestmark = pytest.mark.skipif(not FASHION.exists(), reason="needs Debian's dataset-fashion-mnist (make setup)")


@pytest.fixture(scope="module")
def fashion():
    from zoo.data import load_dataset

    return load_dataset("fashion-mnist", progress=False)


def prepared(model: str, fashion, **settings):
    data, _ = prepare_data(get_registry().model(model).spec, fashion, TrainConfig(limit=100, **settings))
    return data


def test_data_at_its_own_size_keeps_the_named_augmentation(fashion) -> None:
    data = prepared("alexnet-torch-bn", fashion, augment="crop-flip-cutout")
    assert data.preprocessing.img_size == (28, 28)
    assert data.augmentation == Augmentation.named("crop-flip-cutout")


def test_image_size_resizes_and_scales_the_augmentation_with_it(fashion) -> None:
    data = prepared("alexnet-torch-bn", fashion, augment="crop-flip-cutout", image_size=56)
    assert data.preprocessing.img_size == (56, 56)
    assert data.augmentation == Augmentation(crop_padding=8, horizontal_flip=True, cutout=28)
    assert prepared("alexnet-keras-bn", fashion, augment="shift", image_size=42).augmentation.crop_padding == 3


def test_min_image_size_resizes_smaller_data_up_and_scales_the_augmentation(fashion) -> None:
    data = prepared("alexnet-torch-bn", fashion, augment="shift", min_image_size=56)
    assert data.preprocessing.img_size == (56, 56)
    assert data.augmentation == Augmentation.named("shift").scaled(2) == Augmentation(crop_padding=4)
    assert prepared("alexnet-torch-bn", fashion, min_image_size=20).preprocessing.img_size == (28, 28)


def test_image_size_overrides_min_image_size(fashion) -> None:
    data = prepared("alexnet-keras-bn", fashion, image_size=28, min_image_size=56)
    assert data.preprocessing.img_size == (28, 28)


def test_min_image_size_keeps_larger_images_and_the_aspect_of_smaller_ones() -> None:
    spec = get_registry().model("alexnet-torch-bn").spec
    assert training_img_size(spec, (64, 96), None, 56) == (64, 96)
    assert training_img_size(spec, (28, 42), None, 56) == (56, 84)
    assert training_img_size(spec, (40, 25), None, 56) == (90, 56)


def test_the_bn_recipe_upsizes_28_px_data_to_56(fashion) -> None:
    spec = get_registry().model("alexnet-torch-bn").spec
    data, _ = prepare_data(spec, fashion, TrainConfig.build(spec.recipe, {"limit": 100}))
    assert data.preprocessing.img_size == (56, 56)


def test_data_below_the_minimum_goes_to_the_native_size_with_scaled_augmentation(fashion) -> None:
    data = prepared("alexnet-torch", fashion, augment="crop-flip")
    assert data.preprocessing.img_size == (227, 227)
    assert data.augmentation.crop_padding == 32  # 4 of 28 pixels is 32 of 227


def test_image_size_below_the_model_minimum_is_refused_with_the_fix(fashion) -> None:
    with pytest.raises(UsageError, match=r"`image_size` 32 is below alexnet-keras's minimum input of 67x67 pixels; "
                                         r"pass `image_size` 67 or more"):
        prepared("alexnet-keras", fashion, image_size=32)


def test_a_downscaled_augmentation_keeps_at_least_a_pixel() -> None:
    shift = Augmentation.named("shift")
    assert shift.scaled(0.25) == Augmentation(crop_padding=1)  # 0.5 px would round to no shift at all
    assert Augmentation.named("none").scaled(0.25) == Augmentation() and shift.scaled(1) is shift

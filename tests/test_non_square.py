"""Non-square images end to end in both backends: the core's size decision, a real training epoch, the checkpoint
and ``zoo predict`` at the data's own aspect.

No dataset in the zoo is non-square, so the data here is real Fashion-MNIST padded to 28x42 (7 zero columns each
side); the BN recipe's ``min_image_size=56`` then trains at 56x84.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from zoo import get_spec
from zoo.api.backend import SilentProgress
from zoo.api.config import TrainConfig
from zoo.api.data import Split
from zoo.data.arrays import Dataset
from zoo.plugins.backends import get_backend
from zoo.run.checkpoint import save_checkpoint
from zoo.run.plan import prepare_data

FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
pytestmark = pytest.mark.skipif(not FASHION.exists(), reason="needs Debian's dataset-fashion-mnist (make setup)")
FRAMEWORK = {"alexnet-torch-bn": "torch", "alexnet-keras-bn": "keras"}


def widened(split: Split, count: int) -> Split:
    """The first ``count`` images of ``split``, padded from 28x28 to 28x42."""
    return Split(np.pad(split.images[:count], ((0, 0), (0, 0), (7, 7), (0, 0))), split.labels[:count])


@pytest.fixture(scope="module")
def wide_fashion() -> Dataset:
    from zoo.data import load_dataset

    fashion = load_dataset("fashion-mnist", progress=False)
    return Dataset(fashion.spec, widened(fashion.train, 128), widened(fashion.test, 8))


@pytest.mark.parametrize("model", sorted(FRAMEWORK))
def test_non_square_data_trains_checkpoints_and_predicts_at_its_aspect(
    model: str, wide_fashion: Dataset, run_zoo, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if importlib.util.find_spec(FRAMEWORK[model]) is None:  # not imported here: zoo-keras loads TensorFlow its way
        pytest.skip(f"{FRAMEWORK[model]} is not installed")
    if FRAMEWORK[model] == "torch":
        request.getfixturevalue("one_torch_thread")
    from PIL import Image

    spec = get_spec(model)
    config = TrainConfig.build(spec.recipe, {"epochs": 1, "batch_size": 32, "device": "cpu"})
    data, test = prepare_data(spec, wide_fashion, config)
    assert data.preprocessing.img_size == (56, 84)  # shorter side to 56, aspect kept
    backend = get_backend(spec.backend)
    fit = backend.fit(spec, data, config, SilentProgress())
    assert np.isfinite(fit.history[-1].train_loss)
    probabilities = backend.predict_proba(fit.model, test.images, data.preprocessing, batch_size=4, device="cpu")
    assert probabilities.shape == (8, 10) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-4)

    checkpoint = save_checkpoint(
        tmp_path / "ckpt", backend=backend, model=fit.model, spec=spec, dataset="fashion-mnist",
        classes=wide_fashion.spec.classes, image_shape=wide_fashion.train.images.shape[1:],
        preprocessing=data.preprocessing, recipe=config.recipe(), environment={}, metrics={},
    )
    paths = []
    for index, image in enumerate(test.images):
        paths.append(str(tmp_path / f"wide{index}.png"))
        Image.fromarray(image[:, :, 0]).save(paths[-1])
    result = run_zoo("predict", str(checkpoint.directory), *paths, "--top", "1", "--device", "cpu", "-f", "json")
    assert result.returncode == 0, result.stderr
    predicted = json.loads(result.stdout)
    classes = wide_fashion.spec.classes
    assert [item["predictions"][0]["class"] for item in predicted] == [classes[i] for i in probabilities.argmax(1)]
    np.testing.assert_allclose([item["predictions"][0]["probability"] for item in predicted],
                               probabilities.max(axis=1), rtol=1e-3, atol=1e-5)

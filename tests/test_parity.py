"""The Keras and PyTorch backends build the same networks and train them with the same recipe.

Each variant name must mean one network in both frameworks (design notes:
"Parity between the Keras and PyTorch backends"), or ``zoo compare`` would
compare defaults instead of frameworks. Measured here through the public
``zoo.models.summarize_model`` of each backend: trainable parameters, MACs and
every named stage's output shape; then the pieces where the frameworks'
defaults differ: LRN, preprocessing (normalise + bilinear resize),
optimizers with weight decay, and the learning-rate schedules.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from zoo import get_spec
from zoo.api.backend import Preprocessing
from zoo.api.config import TrainConfig
from zoo.api.errors import UsageError
from zoo.run.building import summarize_model

zoo_torch_models = pytest.importorskip("zoo_torch.models", reason="zoo-torch is not installed")

import torch  # noqa: E402 - only once zoo-torch is known to be there

from zoo_keras.runtime import keras, quiet_numpy_copy_warning  # noqa: E402

VARIANTS = ["", "-bn", "-res", "-small"]
INPUTS = [(1, 28, 28), (3, 32, 32), (3, 67, 67)]
SHARED_STAGES = {"conv1", "flatten", "fc1", "fc2", "fc3"}


def accepts(variant: str, shape: tuple[int, int, int]) -> bool:
    min_h, min_w = get_spec(f"alexnet-keras{variant}").min_img_size
    return shape[1] >= min_h and shape[2] >= min_w


CASES = [(variant, shape) for variant in VARIANTS for shape in INPUTS if accepts(variant, shape)]


@pytest.mark.parametrize(("variant", "shape"), CASES, ids=[f"alexnet{v}-{'x'.join(map(str, s))}" for v, s in CASES])
def test_same_parameters_macs_and_stage_shapes(variant: str, shape: tuple[int, int, int]) -> None:
    k = summarize_model(f"alexnet-keras{variant}", shape)
    t = summarize_model(f"alexnet-torch{variant}", shape)
    assert k.param_count == t.param_count
    assert k.macs == t.macs
    keras_rows = {row.name: row for row in k.layers}
    torch_rows = {row.name: row for row in t.layers}
    assert list(keras_rows) == list(torch_rows), "both backends name the same stages, in the same order"
    assert set(keras_rows) >= SHARED_STAGES
    for name, row in keras_rows.items():
        other = torch_rows[name]
        assert (row.output_shape, row.params, row.kind) == (other.output_shape, other.params, other.kind), name


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)], ids=["1x28x28", "3x32x32"])
def test_classic_alexnet_refuses_small_inputs_in_both(shape: tuple[int, int, int]) -> None:
    for backend in ("keras", "torch"):
        with pytest.raises(UsageError, match="67x67"):
            summarize_model(f"alexnet-{backend}", shape)


def test_classic_alexnet_at_its_native_size() -> None:
    k = summarize_model("alexnet-keras", (3, 227, 227))
    t = summarize_model("alexnet-torch", (3, 227, 227))
    assert (k.param_count, k.macs) == (t.param_count, t.macs)
    assert [(r.name, r.output_shape) for r in k.layers] == [(r.name, r.output_shape) for r in t.layers]


@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_metadata_is_identical(variant: str) -> None:
    ignore = {"name", "backend", "builder"}
    k = {key: value for key, value in dataclasses.asdict(get_spec(f"alexnet-keras{variant}")).items()
         if key not in ignore}
    t = {key: value for key, value in dataclasses.asdict(get_spec(f"alexnet-torch{variant}")).items()
         if key not in ignore}
    assert k == t


def test_lrn_matches_torch() -> None:
    from zoo_keras.layers import LocalResponseNormalization

    x = np.random.default_rng(0).normal(scale=20.0, size=(2, 5, 6, 96)).astype(np.float32)
    ours = np.asarray(LocalResponseNormalization(5, alpha=1e-4, beta=0.75, k=2.0)(x))
    reference = torch.nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)(torch.from_numpy(x).permute(0, 3, 1, 2))
    np.testing.assert_allclose(ours, reference.permute(0, 2, 3, 1).numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("size", [(28, 28), (67, 67), (227, 227)])
def test_preprocessing_matches_torch(size: tuple[int, int]) -> None:
    from zoo_keras import data as tfdata
    from zoo_keras import device_data
    from zoo_keras.runtime import keras
    from zoo_torch.data import DeviceImages

    images = np.random.default_rng(1).integers(0, 256, (4, 28, 28, 3), dtype=np.uint8)
    prep = Preprocessing((0.49, 0.48, 0.45), (0.25, 0.24, 0.26), size)
    expected = DeviceImages(images, None, prep, torch.device("cpu")).inputs(slice(0, 4)).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(tfdata.normalize(images, prep).numpy(), expected, rtol=1e-5, atol=2e-5)
    on_device = keras.ops.convert_to_numpy(device_data.normalize(images, prep))
    np.testing.assert_allclose(on_device, expected, rtol=1e-5, atol=2e-5)


def quadratic_steps_keras(name: str, start: np.ndarray, target: np.ndarray, steps: int) -> np.ndarray:
    from zoo_keras.optim import make_optimizer

    variable = keras.Variable(start.copy())
    optimizer = make_optimizer(TrainConfig(optimizer=name, lr=0.01, weight_decay=0.05), steps_per_epoch=steps)
    for _ in range(steps):
        optimizer.apply([keras.ops.convert_to_tensor(variable) - target], [variable])  # d/dw of |w - t|^2 / 2
    with quiet_numpy_copy_warning():
        return keras.ops.convert_to_numpy(variable)


def quadratic_steps_torch(name: str, start: np.ndarray, target: np.ndarray, steps: int) -> np.ndarray:
    from zoo_torch.runtime import create_optimizer

    layer = torch.nn.Linear(start.shape[1], start.shape[0], bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(start))
    optimizer = create_optimizer(layer, name, lr=0.01, weight_decay=0.05)
    goal = torch.from_numpy(target)
    for _ in range(steps):
        optimizer.zero_grad()
        (0.5 * ((layer.weight - goal) ** 2).sum()).backward()
        optimizer.step()
    return layer.weight.detach().numpy()


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd", "rmsprop"])
def test_optimizers_with_weight_decay_take_the_same_steps(name: str) -> None:
    rng = np.random.default_rng(2)
    start = rng.normal(size=(3, 4)).astype(np.float32)
    target = rng.normal(size=(3, 4)).astype(np.float32)
    ours = quadratic_steps_keras(name, start, target, steps=6)
    theirs = quadratic_steps_torch(name, start, target, steps=6)
    assert not np.allclose(ours, start)
    # Adam and RMSprop place epsilon differently (inside/outside the square root, before/after bias
    # correction); with gradients of order 1 that moves the result by far less than 1e-4.
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("scheduler", ["cosine", "step"])
def test_schedules_give_the_same_rate_each_epoch(scheduler: str) -> None:
    from zoo_keras.optim import learning_rate
    from zoo_torch.runtime import create_optimizer, create_scheduler

    epochs, steps_per_epoch = 7, 3
    schedule = learning_rate(TrainConfig(epochs=epochs, scheduler=scheduler, lr=0.1), steps_per_epoch)
    ours = [float(keras.ops.convert_to_numpy(schedule(epoch * steps_per_epoch))) for epoch in range(epochs)]
    optimizer = create_optimizer(torch.nn.Linear(2, 2), "sgd", lr=0.1, weight_decay=0.0)
    torch_schedule = create_scheduler(optimizer, scheduler, epochs)
    theirs = []
    for epoch in range(1, epochs + 1):  # as zoo_torch.train.fit steps it
        theirs.append(optimizer.param_groups[0]["lr"])
        torch_schedule.step(epoch)
    assert ours == pytest.approx(theirs, rel=1e-5, abs=1e-9)
    assert not math.isclose(ours[0], ours[-1])


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_training_losses_agree_with_and_without_label_smoothing(smoothing: float) -> None:
    from zoo_keras.losses import training_loss

    rng = np.random.default_rng(3)
    logits = (3 * rng.normal(size=(16, 10))).astype(np.float32)
    labels = rng.integers(0, 10, 16)
    loss = training_loss(smoothing)
    with quiet_numpy_copy_warning():
        ours = float(keras.ops.convert_to_numpy(loss(labels, keras.ops.convert_to_tensor(logits))))
    theirs = torch.nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(labels),
                                               label_smoothing=smoothing).item()
    assert ours == pytest.approx(theirs, rel=1e-5)
    if smoothing:
        plain = torch.nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(labels)).item()
        assert not math.isclose(ours, plain, rel_tol=1e-3)

"""zoo-keras' KerasBackend end to end: real training, checkpoints, refusals, data pipeline, benchmark."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.augment_checks import check_cutout
from tests.loss_checks import check_label_smoothing_floor
from zoo import get_spec
from zoo.api.backend import (
    Augmentation,
    BenchConfig,
    EpochMetrics,
    FitResult,
    Preprocessing,
    SilentProgress,
    TrainingData,
)
from zoo.api.config import TrainConfig
from zoo.api.control import RunControl
from zoo.api.data import Split
from zoo.api.errors import NonFiniteLoss, TrainingInterrupted, UsageError, ZooError
from zoo.api.sizes import model_img_size
from zoo.data.arrays import split_validation
from zoo.plugins.backends import get_backend
from zoo.run.states import load_resume_point, run_control
from zoo_keras import data as tfdata
from zoo_keras import device_data
from zoo_keras.optim import learning_rate, make_optimizer
from zoo_keras.runtime import keras, quiet_numpy_copy_warning, resolve_device
from zoo_keras.training import jit_compile, precision_policy

REPO = Path(__file__).resolve().parent.parent
FASHION_TRAIN = 2000  # 1,800 train + 200 validation: 57 steps of 32, enough for BatchNorm's statistics


@pytest.fixture(scope="module")
def backend():
    return get_backend("keras")


@pytest.fixture(scope="module")
def fashion():
    """The real Fashion-MNIST, through zoo's dataset layer."""
    from zoo.data import load_dataset

    return load_dataset("fashion-mnist", progress=False)


@dataclass
class RecordedProgress:
    """A TrainingProgress that remembers every call."""

    starts: list[tuple[int, int, int]] = field(default_factory=list)
    advanced: list[int] = field(default_factory=list)
    ended: list[EpochMetrics] = field(default_factory=list)

    def start_epoch(self, epoch: int, epochs: int, steps: int) -> None:
        self.starts.append((epoch, epochs, steps))
        self.advanced.append(0)

    def advance(self, steps: int = 1) -> None:
        self.advanced[-1] += steps

    def end_epoch(self, metrics: EpochMetrics) -> None:
        self.ended.append(metrics)


def fashion_data(fashion, count: int) -> TrainingData:
    train, val = split_validation(fashion.train.head(count), 0.1, seed=0)
    spec = fashion.spec
    return TrainingData(spec.name, spec.classes, train, val, Preprocessing(spec.mean, spec.std, (28, 28)))


@pytest.fixture(scope="module")
def trained(backend, fashion) -> tuple[FitResult, TrainingData, RecordedProgress]:
    """alexnet-keras-res trained for one epoch on 1,800 real Fashion-MNIST images (the cheapest variant)."""
    data = fashion_data(fashion, FASHION_TRAIN)
    progress = RecordedProgress()
    config = TrainConfig(epochs=1, batch_size=32, seed=0)
    return backend.fit(get_spec("alexnet-keras-res"), data, config, progress), data, progress


def random_data(count: int = 48, size: int = 28, channels: int = 1, **prep) -> TrainingData:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (count, size, size, channels), dtype=np.uint8)
    labels = rng.integers(0, 10, count)
    preprocessing = Preprocessing((0.5,) * channels, (0.25,) * channels, prep.get("img_size", (size, size)))
    split = count * 3 // 4
    return TrainingData("random", tuple("abcdefghij"), Split(images[:split], labels[:split]),
                        Split(images[split:], labels[split:]), preprocessing, prep.get("augmentation", Augmentation()))


def one_line(error: BaseException) -> str:
    message = str(error)
    assert message and "\n" not in message, message
    return message


# --- environment and execution settings -------------------------------------------------------


def test_environment_names_keras_its_backend_and_the_device(backend) -> None:
    env = backend.environment("auto")
    assert env["framework"] == "keras" and env["keras"] == keras.__version__
    assert env["keras_backend"] == "tensorflow" and env["tensorflow"]
    assert env["device"] == "cpu" and env["device_name"] and int(env["threads"]) >= 1
    assert env["onednn"] == "on"  # zoo's default, whatever TensorFlow would choose on this CPU


def test_a_users_onednn_setting_is_kept_and_recorded() -> None:
    result = run_python("""
        from zoo_keras import runtime
        print(runtime.environment("cpu")["onednn"])
    """, TF_ENABLE_ONEDNN_OPTS="0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["off"]


def test_a_gpu_that_is_not_there_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--device cuda"):
        resolve_device("cuda")


def test_execution_settings_per_device() -> None:
    assert jit_compile(False, "cpu") is False and jit_compile(True, "cpu") is True
    assert jit_compile(False, "cuda:0") is True
    assert precision_policy("bf16", "cuda:0") == precision_policy("bf16", "cpu") == "mixed_bfloat16"
    assert precision_policy("fp32", "cuda:0") == precision_policy("fp32", "cpu") == "float32"


def test_bf16_trains_with_float32_logits_and_restores_the_global_policy(backend) -> None:
    data = random_data(count=40, size=8)
    fit = backend.fit(get_spec("alexnet-keras-small"), data, TrainConfig(epochs=1, batch_size=16, precision="bf16"),
                      SilentProgress())
    assert fit.extra["dtype_policy"] == "mixed_bfloat16"
    assert fit.model.get_layer("conv1").dtype_policy.compute_dtype == "bfloat16"
    assert fit.model.get_layer("fc3").dtype_policy.name == "float32"
    assert keras.config.dtype_policy().name == "float32"
    proba = backend.predict_proba(fit.model, data.val.images, data.preprocessing, batch_size=8, device="cpu")
    assert proba.dtype == np.float32 and np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)


# --- real training ------------------------------------------------------------------------------


def test_fit_on_real_fashion_mnist_beats_chance_widely(backend, trained, fashion) -> None:
    fit, data, _ = trained
    test = fashion.test.head(1000)
    proba = backend.predict_proba(fit.model, test.images, data.preprocessing, batch_size=256, device="auto")
    assert proba.shape == (1000, 10) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    accuracy = float((proba.argmax(axis=1) == test.labels).mean())
    assert accuracy > 0.4, f"test accuracy {accuracy:.3f} after one epoch (chance is 0.1)"
    [metrics] = fit.history
    assert metrics.val_accuracy is not None and metrics.val_accuracy > 0.4
    assert math.isfinite(metrics.train_loss) and metrics.images_per_sec > 0 and metrics.seconds > 0
    assert metrics.lr == pytest.approx(1e-3)
    assert fit.device == "cpu" and fit.extra["data_pipeline"] == "tf.data"


def test_label_smoothing_smooths_the_training_and_validation_targets(backend, fashion) -> None:
    """64 real images, validated on themselves, 60 steps a run."""
    train = fashion.train.head(64)
    data = TrainingData(fashion.spec.name, fashion.spec.classes, train, train,
                        Preprocessing(fashion.spec.mean, fashion.spec.std, (28, 28)))

    def fit(smoothing: float) -> list[EpochMetrics]:
        config = TrainConfig(epochs=15, batch_size=16, label_smoothing=smoothing)
        return backend.fit(get_spec("alexnet-keras-res"), data, config, RecordedProgress()).history

    check_label_smoothing_floor(fit)


def test_fit_reports_progress_once_per_step(trained) -> None:
    fit, data, progress = trained
    steps = math.ceil(len(data.train) / 32)
    assert progress.starts == [(1, 1, steps)]
    assert progress.advanced == [steps]
    assert progress.ended == fit.history


def tf_functions(step: Any) -> list[Any]:
    """The ``tf.function``s behind one of Keras-on-TensorFlow's step functions (``model.train_function``...):
    the function itself or those it closes over, one wrapper deep."""
    if hasattr(step, "experimental_get_tracing_count"):
        return [step]
    found = []
    for cell in step.__closure__ or ():
        value = cell.cell_contents
        if hasattr(value, "experimental_get_tracing_count"):
            found.append(value)
        elif callable(value) and getattr(value, "__closure__", None):
            inner = [c.cell_contents for c in value.__closure__]
            found += [f for f in inner if hasattr(f, "experimental_get_tracing_count")]
    return found


@pytest.fixture(scope="module")
def lenet_uneven(backend, fashion) -> tuple[FitResult, TrainingData]:
    """lenet5-keras, 2 epochs on 990 real images in batches of 32 (the last of 30), 110 validation images,
    one step per execution (with several, TensorFlow's while loop traces the per-step function twice as it
    settles the loop's output spec, whatever the data: a count that says nothing about shapes)."""
    data = fashion_data(fashion, 1100)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZOO_KERAS_STEPS_PER_EXECUTION", "1")
        fit = backend.fit(get_spec("lenet5-keras"), data, TrainConfig(epochs=2, batch_size=32), SilentProgress())
    return fit, data


def tracing_counts(fit: FitResult) -> list[int]:
    """How often each tf.function behind the model's train, test and predict functions was traced."""
    steps = (fit.model.train_function, fit.model.test_function, fit.model.predict_function)
    return [f.experimental_get_tracing_count() for step in steps for f in tf_functions(step)]


def test_tensorflow_traces_the_same_whatever_the_data_size(backend, lenet_uneven, fashion) -> None:
    fit, data = lenet_uneven
    for count in (50, 70):  # two predictions, neither a multiple of the batch: one trace
        proba = backend.predict_proba(fit.model, fashion.test.images[:count], data.preprocessing, batch_size=32,
                                      device="cpu")
        assert proba.shape == (count, 10)
    even = fashion_data(fashion, 1280)  # 1,152 training and 128 validation images: whole batches of 32
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZOO_KERAS_STEPS_PER_EXECUTION", "1")
        fit_even = backend.fit(get_spec("lenet5-keras"), even, TrainConfig(epochs=1, batch_size=32), SilentProgress())
    backend.predict_proba(fit_even.model, fashion.test.images[:64], even.preprocessing, batch_size=32, device="cpu")
    # Keras' outer function per step function traced once; its per-step function as often whatever the size.
    assert tracing_counts(fit) == tracing_counts(fit_even) and tracing_counts(fit)[0] == 1
    # Static shapes, so XLA (on a GPU, or --compile) compiles once too: every batch is 32 long.
    train = tfdata.training_dataset(data.train.images, data.train.labels, data.preprocessing, Augmentation(),
                                    batch_size=32, seed=0, epoch=0)
    val = tfdata.evaluation_dataset(data.val.images, data.val.labels, data.preprocessing, batch_size=32)
    for spec in (*train.element_spec, *val.element_spec):
        assert spec.shape.is_fully_defined() and spec.shape[0] == 32


def test_the_filled_last_batch_counts_every_image_once(backend, fashion) -> None:
    """A learning rate of 1e-12 leaves the weights as they were and lenet5 has no dropout or BatchNorm, so
    the epoch's training loss and accuracy must be those of predicting the 297 images, 41 filler rows or not."""
    data = fashion_data(fashion, 330)
    config = TrainConfig(epochs=1, batch_size=64, optimizer="sgd", lr=1e-12)  # 5 batches, the last 41 + 23 filler
    fit = backend.fit(get_spec("lenet5-keras"), data, config, SilentProgress())
    [metrics] = fit.history
    for split, loss, accuracy in ((data.train, metrics.train_loss, metrics.train_accuracy),
                                  (data.val, metrics.val_loss, metrics.val_accuracy)):
        proba = backend.predict_proba(fit.model, split.images, data.preprocessing, batch_size=64, device="cpu")
        assert accuracy == pytest.approx(float((proba.argmax(axis=1) == split.labels).mean()), abs=1e-6)
        picked = proba[np.arange(len(split)), split.labels]
        assert loss == pytest.approx(float(-np.log(picked).mean()), rel=1e-4)
    assert metrics.images_per_sec > 0 and fit.extra["steps_per_execution"] >= 1


def test_epoch_metrics_leave_the_warm_up_out_of_the_steady_figure(lenet_uneven) -> None:
    from zoo_keras.progress import WARMUP_STEPS

    fit, _ = lenet_uneven
    first, second = fit.history
    execution = fit.extra["steps_per_execution"]  # the warm-up ends with an execution (1 step here)
    assert first.warmup_steps == max(WARMUP_STEPS, execution) < 31 and 0 < first.warmup_seconds < first.seconds
    assert first.steady_images_per_sec is not None and first.steady_images_per_sec > first.images_per_sec
    assert (second.warmup_steps, second.warmup_seconds) == (0, 0.0)  # compiled already: no warm-up
    assert second.steady_images_per_sec == pytest.approx(second.images_per_sec)


def test_checkpoint_round_trip_predicts_identically(backend, trained, tmp_path: Path) -> None:
    fit, data, _ = trained
    path = backend.save(fit.model, tmp_path)
    assert path == tmp_path / "model.keras"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]  # no temporary left behind
    model = backend.load(get_spec("alexnet-keras-res"), path, num_classes=10, in_chans=1, img_size=(28, 28))
    images = data.val.images[:64]
    before = backend.predict_proba(fit.model, images, data.preprocessing, batch_size=32, device="cpu")
    after = backend.predict_proba(model, images, data.preprocessing, batch_size=32, device="cpu")
    np.testing.assert_array_equal(before, after)


def test_a_checkpoint_of_another_model_or_shape_is_refused(backend, trained, tmp_path: Path) -> None:
    fit, _, _ = trained
    path = backend.save(fit.model, tmp_path)
    with pytest.raises(ZooError, match="different network") as other:
        backend.load(get_spec("alexnet-keras-small"), path, num_classes=10, in_chans=1, img_size=(28, 28))
    one_line(other.value)
    with pytest.raises(ZooError, match="5 classes") as classes:
        backend.load(get_spec("alexnet-keras-res"), path, num_classes=5, in_chans=1, img_size=(28, 28))
    one_line(classes.value)
    with pytest.raises(ZooError, match="3x32x32") as shape:
        backend.load(get_spec("alexnet-keras-res"), path, num_classes=10, in_chans=3, img_size=(32, 32))
    one_line(shape.value)


def test_corrupt_truncated_or_missing_checkpoints_are_one_line_errors(backend, trained, tmp_path: Path) -> None:
    fit, _, _ = trained
    good = backend.save(fit.model, tmp_path / "good").read_bytes()
    spec = get_spec("alexnet-keras-res")
    cases = {
        "truncated.keras": good[: len(good) // 2],
        "garbage.keras": os.urandom(4096),
        "empty.keras": b"",
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ZooError, match="cannot read checkpoint") as info:
            backend.load(spec, path, num_classes=10, in_chans=1, img_size=(28, 28))
        assert name in one_line(info.value)
    with pytest.raises(ZooError, match="does not exist"):
        backend.load(spec, tmp_path / "missing.keras", num_classes=10, in_chans=1, img_size=(28, 28))


def lambda_model(function) -> keras.Model:
    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Dense(10)(keras.layers.Flatten()(keras.layers.Lambda(function)(inputs)))
    return keras.Model(inputs, outputs)


def test_a_checkpoint_with_a_lambda_layer_is_refused_without_running_it(backend, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    # The code a malicious file would carry, saved as bytecode; it leaves a marker when it runs.
    evil = lambda_model(lambda x, p=str(marker): (__import__("pathlib").Path(p).write_text("ran"), x)[1])
    named = lambda_model(keras.activations.relu)  # a Lambda holding a function reference is refused too
    for name, model in (("bytecode.keras", evil), ("reference.keras", named)):
        path = tmp_path / name
        with quiet_numpy_copy_warning():
            model.save(path)
        marker.unlink(missing_ok=True)  # building and saving called it
        with pytest.raises(ZooError, match="Lambda layer") as info:
            backend.load(get_spec("alexnet-keras-bn"), path, num_classes=10, in_chans=1, img_size=(28, 28))
        assert one_line(info.value).startswith(f"refusing checkpoint {path}: it contains a Lambda layer")
        assert not marker.exists()


def test_predict_proba_refuses_images_the_model_cannot_take(backend, trained) -> None:
    fit, data, _ = trained
    rgb = np.zeros((2, 28, 28, 3), np.uint8)
    with pytest.raises(ZooError, match="takes 1x28x28"):
        backend.predict_proba(fit.model, rgb, data.preprocessing, batch_size=2, device="cpu")
    empty = backend.predict_proba(fit.model, np.zeros((0, 28, 28, 1), np.uint8), data.preprocessing,
                                  batch_size=2, device="cpu")
    assert empty.shape == (0, 10)


def test_small_data_is_resized_on_the_fly_for_classic_alexnet(backend) -> None:
    spec = get_spec("alexnet-keras")
    size = model_img_size(spec, (28, 28))
    assert size == (227, 227)
    data = random_data(count=8, size=28, channels=3, img_size=size)
    fit = backend.fit(spec, data, TrainConfig(epochs=1, batch_size=3), SilentProgress())
    assert fit.model.input_shape == (None, 227, 227, 3)
    proba = backend.predict_proba(fit.model, data.val.images, data.preprocessing, batch_size=4, device="cpu")
    assert proba.shape == (2, 10) and np.isfinite(proba).all()


def test_a_diverging_loss_raises_non_finite_loss(backend) -> None:
    data = random_data(count=64, size=8)
    config = TrainConfig(epochs=2, batch_size=16, lr=1e12, optimizer="sgd")
    with pytest.raises(NonFiniteLoss) as info:
        backend.fit(get_spec("alexnet-keras-small"), data, config, SilentProgress())
    assert info.value.epoch >= 1 and info.value.step >= 1
    one_line(info.value)


class StopAfter:
    """A progress that asks the run to stop after ``steps`` steps, as Ctrl-C would."""

    def __init__(self, control: RunControl, steps: int) -> None:
        self.control, self.steps, self.done = control, steps, 0

    def start_epoch(self, epoch: int, epochs: int, steps: int) -> None:
        pass

    def advance(self, steps: int = 1) -> None:
        self.done += steps
        if self.done >= self.steps:
            self.control.stop.set()

    def end_epoch(self, metrics: EpochMetrics) -> None:
        pass


def test_stop_and_resume_mid_epoch_ends_where_an_uninterrupted_run_ends(backend, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_KERAS_STEPS_PER_EXECUTION", "1")  # a stop at any step (else 16 steps a call here)
    spec = get_spec("alexnet-keras-small")  # at 8x8 px, its minimum: the cheapest network with dropout and BN
    data = random_data(count=86, size=8, augmentation=Augmentation(4, True))  # 64 train: 4 steps of 16 per epoch
    config = TrainConfig(epochs=2, batch_size=16, optimizer="sgd", weight_decay=1e-3, scheduler="cosine")
    straight = backend.fit(spec, data, config, SilentProgress(), run_control(tmp_path / "a"))
    assert sorted(p.name for p in (tmp_path / "a").iterdir())[:2] == ["best.json", "last.json"]

    control = run_control(tmp_path / "b")
    with pytest.raises(TrainingInterrupted) as info:
        backend.fit(spec, data, config, StopAfter(control, 6), control)
    assert (info.value.epoch, info.value.step) == (1, 2)
    point = load_resume_point(tmp_path / "b")
    assert (point.epoch, point.step, len(point.history)) == (1, 2, 1)
    resumed = backend.fit(spec, data, config, SilentProgress(), run_control(tmp_path / "b", resume=point))
    assert [m.epoch for m in resumed.history] == [1, 2]
    learnt = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr")
    assert [getattr(resumed.history[0], k) for k in learnt] == [getattr(straight.history[0], k) for k in learnt]
    images = data.val.images
    expected = backend.predict_proba(straight.model, images, data.preprocessing, batch_size=16, device="cpu")
    got = backend.predict_proba(resumed.model, images, data.preprocessing, batch_size=16, device="cpu")
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_benchmark_returns_plausible_rows(backend) -> None:
    config = BenchConfig((1, 28, 28), num_classes=10, batch_size=8, warmup_steps=2, timed_steps=3)
    rows = backend.benchmark(get_spec("alexnet-keras-res"), config)
    assert [row.mode for row in rows] == ["train", "infer"]
    for row in rows:
        assert row.batch_size == 8 and row.steps == 3 and row.device == "cpu" and row.precision == "fp32"
        assert row.samples_per_sec > 0 and row.median_step_seconds > 0
        assert row.samples_per_sec * row.median_step_seconds == pytest.approx(8)
        assert row.channels_last and not row.compiled and row.note == ""
    train, infer = rows
    assert infer.samples_per_sec > train.samples_per_sec  # a forward pass is cheaper than a training step


# --- the data pipeline ---------------------------------------------------------------------------


def crops_of(sample: np.ndarray, pad: int) -> list[np.ndarray]:
    """Every padded crop of ``sample`` (H, W, C), plain and flipped."""
    height, width = sample.shape[:2]
    padded = np.pad(sample, ((pad, pad), (pad, pad), (0, 0)))
    crops = [padded[dy : dy + height, dx : dx + width] for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)]
    return crops + [crop[:, ::-1] for crop in crops]


def check_augmented(original: np.ndarray, augmented: np.ndarray, pad: int) -> set[int]:
    """Each augmented sample is one crop of its original; returns which crops were drawn."""
    drawn = set()
    for sample, out in zip(original, augmented, strict=True):
        matches = [i for i, crop in enumerate(crops_of(sample, pad)) if np.array_equal(crop, out)]
        assert matches, "an augmented sample is not a padded crop (or its mirror) of its original"
        drawn.add(matches[0])
    return drawn


def device_augment(x: np.ndarray, rng: np.random.Generator, augmentation: Augmentation) -> np.ndarray:
    """``device_data.augment`` (keras.ops, here on TensorFlow) with a draw from ``rng``."""
    draw = device_data.draw_augmentation(rng, len(x), x.shape[1:3], augmentation)
    return keras.ops.convert_to_numpy(device_data.augment(x, draw.arrays(), augmentation))


@pytest.mark.parametrize("pipeline", ["tf.data", "device"])
def test_augmentation_is_a_per_sample_padded_crop_and_flip(pipeline: str) -> None:
    x = np.arange(64 * 6 * 5 * 2, dtype=np.float32).reshape(64, 6, 5, 2) + 1.0  # no zeros: padding shows
    augmentation = Augmentation(crop_padding=2, horizontal_flip=True)
    if pipeline == "tf.data":
        import tensorflow as tf

        out = tfdata.augment(tf.constant(x), tf.constant([3, 4], tf.int64), augmentation).numpy()
    else:
        out = device_augment(x, np.random.default_rng(3), augmentation)
    drawn = check_augmented(x, out, pad=2)
    assert len(drawn) > 10, "crops should differ from sample to sample"
    assert any(i >= 25 for i in drawn) and any(i < 25 for i in drawn), "both flipped and plain samples"


@pytest.mark.parametrize("pipeline", ["tf.data", "device"])
def test_shift_augmentation_crops_and_never_mirrors(pipeline: str) -> None:
    x = np.arange(64 * 6 * 5, dtype=np.float32).reshape(64, 6, 5, 1) + 1.0
    augmentation = Augmentation.named("shift")
    if pipeline == "tf.data":
        import tensorflow as tf

        out = tfdata.augment(tf.constant(x), tf.constant([5, 6], tf.int64), augmentation).numpy()
    else:
        out = device_augment(x, np.random.default_rng(5), augmentation)
    drawn = check_augmented(x, out, pad=2)
    assert len(drawn) > 10 and max(drawn) < 25, "only plain crops (indices 0-24), several of them"


@pytest.mark.parametrize("pipeline", ["tf.data", "device"])
def test_cutout_zeroes_one_square_per_sample_and_leaves_the_crops_as_they_were(pipeline: str) -> None:
    x = np.random.default_rng(0).random((64, 12, 12, 2), dtype=np.float32) + 0.5  # no zeros
    if pipeline == "tf.data":
        import tensorflow as tf

        def run(augmentation: Augmentation) -> np.ndarray:
            return tfdata.augment(tf.constant(x), tf.constant([3, 4], tf.int64), augmentation).numpy()
    else:

        def run(augmentation: Augmentation) -> np.ndarray:
            return device_augment(x, np.random.default_rng(3), augmentation)

    check_cutout(x, run(Augmentation(cutout=6)), 6)
    plain, cut = run(Augmentation.named("crop-flip")), run(Augmentation.named("crop-flip-cutout"))
    assert np.all((cut == plain) | (cut == 0)) and not np.array_equal(cut, plain)


def epoch_batches(images: np.ndarray, labels: np.ndarray, *, first_epoch: int, end_epoch: int,
                  skip_batches: int = 0) -> list[list[tuple[np.ndarray, ...]]]:
    """Epochs as zoo-keras' fit reads them: one dataset, iterated once per epoch, its counter set before."""
    prep = Preprocessing((0.2,), (0.5,), images.shape[1:3])
    counter = tfdata.EpochCounter(first_epoch)
    stream = tfdata.training_dataset(images, labels, prep, Augmentation(2, True), batch_size=8, seed=7,
                                     epoch=counter, skip_batches=skip_batches)
    epochs = []
    for epoch in range(first_epoch, end_epoch):
        counter.epoch = epoch
        epochs.append([(x.numpy(), y.numpy(), w.numpy()) for x, y, w in stream])
    return epochs


def test_tfdata_epochs_are_shuffled_anew_and_rebuildable() -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20, 6, 6, 1), dtype=np.uint8)
    labels = np.arange(20)
    epochs = epoch_batches(images, labels, first_epoch=0, end_epoch=3)
    assert all(x.shape == (8, 6, 6, 1) for epoch in epochs for x, _, _ in epoch)  # one shape: 3 batches of 8
    orders = [np.concatenate([y[w == 1] for _, y, w in epoch]) for epoch in epochs]
    assert len(epochs) == 3 and all(sorted(order) == list(range(20)) for order in orders)
    assert not np.array_equal(orders[0], orders[1]) and not np.array_equal(orders[1], orders[2])
    for epoch, order in zip(epochs, orders, strict=True):  # the filler: the epoch's first images, weight 0
        _, y, w = epoch[-1]
        assert list(w) == [1] * 4 + [0] * 4 and list(y[4:]) == list(order[:4])
    rebuilt = epoch_batches(images, labels, first_epoch=1, end_epoch=2, skip_batches=1)[0]  # resuming
    assert len(rebuilt) == 2  # epoch 1 alone, its first batch skipped: exactly what the full run saw
    for (x, y, w), (x2, y2, w2) in zip(epochs[1][1:], rebuilt, strict=True):
        np.testing.assert_array_equal(y, y2)
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(w, w2)


@pytest.mark.parametrize("pipeline", ["tf.data", "device"])
def test_normalisation_and_resize(pipeline: str) -> None:
    images = np.random.default_rng(0).integers(0, 256, (3, 5, 5, 2), dtype=np.uint8)
    same = Preprocessing((0.2, 0.6), (0.3, 0.1), (5, 5))
    bigger = Preprocessing((0.2, 0.6), (0.3, 0.1), (9, 7))
    module = tfdata if pipeline == "tf.data" else device_data

    def normalize(x: np.ndarray, p: Preprocessing) -> np.ndarray:
        return keras.ops.convert_to_numpy(module.normalize(x, p))

    expected = (images / 255.0 - np.array([0.2, 0.6])) / np.array([0.3, 0.1])
    np.testing.assert_allclose(normalize(images, same), expected, rtol=1e-5, atol=1e-5)
    resized = normalize(images, bigger)
    assert resized.shape == (3, 9, 7, 2) and resized.dtype == np.float32


def test_device_batches_follow_the_epoch_skip_and_fill_the_last_batch() -> None:
    images = np.random.default_rng(0).integers(0, 256, (10, 4, 4, 1), dtype=np.uint8)
    prep = Preprocessing((0.5,), (0.5,), (4, 4))
    arrays = device_data.DeviceArrays(images, np.arange(10))
    batches = device_data.DeviceBatches(arrays, prep, batch_size=4, training=True, seed=1)

    def epoch(dataset: device_data.DeviceBatches) -> tuple[np.ndarray, np.ndarray]:
        parts = [dataset[i] for i in range(len(dataset))]
        assert all(tuple(x.shape) == (4, 4, 4, 1) for x, _, _ in parts)  # every batch full: one shape
        labels = np.concatenate([keras.ops.convert_to_numpy(y) for _, y, _ in parts])
        return labels, np.concatenate([keras.ops.convert_to_numpy(w) for _, _, w in parts])

    assert len(batches) == 3
    first, weights = epoch(batches)
    assert list(weights) == [1] * 10 + [0] * 2 and list(first[10:]) == list(first[:2])  # filler: weight 0
    batches.epoch = 1
    second, _ = epoch(batches)
    assert sorted(first[:10]) == sorted(second[:10]) == list(range(10)) and not np.array_equal(first, second)
    resumed = device_data.DeviceBatches(arrays, prep, batch_size=4, training=True, seed=1, epoch=1, first_batch=1)
    assert len(resumed) == 2
    np.testing.assert_array_equal(epoch(resumed)[0], second[4:])
    plan = batches.plan()  # what crossed to the device: per image its index, weight and augmentation draws
    assert plan.shape == (3, 4, len(device_data.PLAN_COLUMNS)) and plan.dtype == np.int32


# --- optimizers ---------------------------------------------------------------------------------


def test_sgd_weight_decay_is_pytorchs_coupled_l2() -> None:
    variable = keras.Variable(np.array([1.0], np.float32))
    optimizer = make_optimizer(TrainConfig(optimizer="sgd", lr=0.1, weight_decay=0.5), steps_per_epoch=1)
    optimizer.apply([keras.ops.zeros((1,))], [variable])
    # PyTorch SGD(momentum=0.9, nesterov=True, weight_decay=0.5) on a zero gradient:
    # g = 0 + 0.5 * 1 = 0.5; buf = 0.5; g + 0.9 * buf = 0.95; w = 1 - 0.1 * 0.95 = 0.905
    with quiet_numpy_copy_warning():
        assert float(keras.ops.convert_to_numpy(variable)[0]) == pytest.approx(0.905, abs=1e-6)


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd", "rmsprop"])
def test_every_optimizer_trains_a_step(name: str) -> None:
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=make_optimizer(TrainConfig(optimizer=name, weight_decay=1e-2), steps_per_epoch=1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    loss = model.train_on_batch(np.ones((4, 3), np.float32), np.zeros(4, np.int32))
    assert math.isfinite(float(loss))


def test_schedules_change_the_rate_once_per_epoch() -> None:
    cosine = learning_rate(TrainConfig(epochs=4, scheduler="cosine", lr=1.0), steps_per_epoch=5)
    rates = [float(keras.ops.convert_to_numpy(cosine(step))) for step in (0, 4, 5, 10, 15, 19)]
    per_epoch = [0.5 * (1 + math.cos(math.pi * epoch / 4)) for epoch in (0, 0, 1, 2, 3, 3)]
    assert rates == pytest.approx(per_epoch, abs=1e-6)
    step = learning_rate(TrainConfig(epochs=6, scheduler="step", lr=1.0), steps_per_epoch=2)
    assert [float(keras.ops.convert_to_numpy(step(s))) for s in (0, 3, 4, 8)] == pytest.approx([1, 1, 0.1, 0.01])
    assert learning_rate(TrainConfig(lr=0.3), steps_per_epoch=2) == 0.3


# --- import hygiene and other Keras backends (subprocesses) ---------------------------------------


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    merged = {k: v for k, v in os.environ.items() if not k.startswith(("ZOO_", "KERAS_BACKEND"))}
    merged.update(env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=merged, timeout=600, cwd=REPO)


def test_listing_imports_no_framework_and_building_keeps_stderr_clean() -> None:
    result = run_python("""
        import sys, json
        import zoo_keras.plugin
        listed = sorted(m for m in ("keras", "tensorflow", "torch") if m in sys.modules)
        from zoo.run.building import summarize_model
        summary = summarize_model("alexnet-keras-bn", (1, 28, 28))
        import triton  # TensorFlow loaded first must not crash it (tensorflow/tensorflow#124205)
        print(json.dumps({"listed": listed, "params": summary.param_count}))
    """)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"listed": [], "params": 21_601_674}
    assert result.stderr == ""


OTHER_BACKEND = """
    import json, pathlib, tempfile
    import numpy as np
    from zoo import get_spec
    from zoo.api.backend import Augmentation, Preprocessing, SilentProgress, TrainingData
    from zoo.api.config import TrainConfig
    from zoo.api.data import Split
    from zoo.plugins.backends import get_backend
    backend = get_backend("keras")
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (40, 28, 28, 1), dtype=np.uint8), rng.integers(0, 10, 40)
    data = TrainingData("random", tuple("abcdefghij"), Split(images[:32], labels[:32]),
                        Split(images[32:], labels[32:]), Preprocessing((0.5,), (0.25,), (28, 28)),
                        Augmentation(4, True))
    spec = get_spec("alexnet-keras-res")
    fit = backend.fit(spec, data, TrainConfig(epochs=1, batch_size=16), SilentProgress())
    proba = backend.predict_proba(fit.model, images[:8], data.preprocessing, batch_size=4, device="auto")
    path = backend.save(fit.model, pathlib.Path(tempfile.mkdtemp()))
    again = backend.load(spec, path, num_classes=10, in_chans=1, img_size=(28, 28))
    same = np.array_equal(proba, backend.predict_proba(again, images[:8], data.preprocessing, batch_size=4,
                                                       device="auto"))
    print(json.dumps({"backend": backend.environment("auto")["keras_backend"], "shape": list(proba.shape),
                      "same": bool(same), "pipeline": fit.extra["data_pipeline"]}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("keras_backend", ["torch", "jax"])
def test_fit_predict_save_load_under_other_keras_backends(keras_backend: str) -> None:
    import importlib.util

    if importlib.util.find_spec(keras_backend) is None:
        pytest.skip(f"{keras_backend} is not installed")
    result = run_python(OTHER_BACKEND, KERAS_BACKEND=keras_backend)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"backend": keras_backend, "shape": [8, 10], "same": True, "pipeline": "device batches"}

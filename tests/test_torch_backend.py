"""TorchBackend for real: training on Fashion-MNIST, data adapter, checkpoints, summaries, benchmark."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import MakeDir

torch = pytest.importorskip("torch")
F = torch.nn.functional

from tests.augment_checks import check_cutout  # noqa: E402
from tests.loss_checks import check_label_smoothing_floor  # noqa: E402
from zoo import get_spec  # noqa: E402
from zoo.api.backend import Augmentation, Backend, BenchConfig, EpochMetrics, Preprocessing, TrainingData  # noqa: E402
from zoo.api.config import TrainConfig  # noqa: E402
from zoo.api.data import Split  # noqa: E402
from zoo.api.errors import UsageError, ZooError  # noqa: E402
from zoo.plugins.backends import get_backend  # noqa: E402
from zoo_torch import runtime  # noqa: E402
from zoo_torch.data import DeviceImages, augment  # noqa: E402

CPU = torch.device("cpu")
MNIST_PREP = Preprocessing((0.286,), (0.353,), (28, 28))


pytestmark = pytest.mark.usefixtures("one_torch_thread")


class RecordingProgress:
    """A real TrainingProgress that remembers every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []
        self.metrics: list[EpochMetrics] = []

    def start_epoch(self, epoch: int, epochs: int, steps: int) -> None:
        self.calls.append(("start", (epoch, epochs, steps)))

    def advance(self, steps: int = 1) -> None:
        self.calls.append(("advance", steps))

    def end_epoch(self, metrics: EpochMetrics) -> None:
        self.calls.append(("end", metrics.epoch))
        self.metrics.append(metrics)


@pytest.fixture(scope="module")
def backend() -> Backend:
    return get_backend("torch")


@pytest.fixture(scope="module")
def fashion() -> object:
    from zoo.data import load_dataset

    return load_dataset("fashion-mnist")


def random_images(count: int, size: int = 28, chans: int = 1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, size, size, chans), dtype=np.uint8), rng.integers(0, 10, count)


def tiny_data(count: int = 48, augmentation: Augmentation | None = None) -> TrainingData:
    images, labels = random_images(count)
    split = Split(images, labels)
    augmentation = augmentation or Augmentation()
    return TrainingData("random", tuple("abcdefghij"), split, split.head(16), MNIST_PREP, augmentation)


def test_is_a_backend_and_reports_its_environment(backend: Backend) -> None:
    assert isinstance(backend, Backend)
    env = backend.environment("cpu")
    assert env["framework"] == "torch" and env["device"] == "cpu"
    assert env["torch"] == torch.__version__ and env["timm"]
    assert env["device_name"] and int(env["threads"]) >= 1
    assert backend.environment("auto")["device"].startswith("cuda:" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_asking_for_a_missing_gpu_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="no CUDA device"):
        runtime.resolve_device("cuda")


def test_fit_on_real_fashion_mnist_beats_chance(backend: Backend, fashion: object) -> None:
    """About 130 Adam steps of alexnet_res (cheap at 28 px: its stride-4 stem leaves 7x7 maps)."""
    train = fashion.train.head(1000)
    val = Split(fashion.train.images[-300:], fashion.train.labels[-300:])
    prep = Preprocessing(fashion.spec.mean, fashion.spec.std, (28, 28))
    data = TrainingData("fashion-mnist", fashion.spec.classes, train, val, prep)
    progress = RecordingProgress()
    config = TrainConfig(epochs=2, batch_size=16, device="cpu", scheduler="cosine")
    result = backend.fit(get_spec("alexnet-torch-res"), data, config, progress)

    steps = 1000 // 16 + 1
    assert progress.calls[0] == ("start", (1, 2, steps))
    assert [c for c in progress.calls if c[0] == "advance"] == [("advance", 1)] * (2 * steps)
    assert progress.calls[steps + 1] == ("end", 1)
    first, last = progress.metrics
    assert result.history == progress.metrics and result.device == "cpu" and result.seconds > 0
    assert first.lr == pytest.approx(1e-3) and last.lr == pytest.approx(5e-4)  # cosine over 2 epochs, per epoch
    assert last.train_loss < first.train_loss
    assert last.images_per_sec > 0 and last.seconds > 0
    assert last.val_accuracy > 0.5, progress.metrics  # chance is 0.1
    # The first epoch's 3 warm-up steps are timed apart and left out of its steady figure; later epochs have none.
    assert (first.warmup_steps, last.warmup_steps) == (3, 0)
    assert 0 < first.warmup_seconds < first.seconds and last.warmup_seconds == 0.0
    assert first.steady_images_per_sec > 0 and last.steady_images_per_sec == last.images_per_sec
    assert result.extra["execution"] == "eager" and result.extra["compiled"] is False  # the CPU path, unchanged

    probabilities = backend.predict_proba(result.model, fashion.test.images[:500], prep, batch_size=128, device="cpu")
    assert probabilities.shape == (500, 10) and probabilities.dtype == np.float32
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    assert (probabilities.argmax(axis=1) == fashion.test.labels[:500]).mean() > 0.5


def test_fit_is_reproducible_with_a_seed(backend: Backend) -> None:
    spec = get_spec("alexnet-torch-res")
    data = tiny_data(augmentation=Augmentation.named("crop-flip"))
    config = TrainConfig(epochs=1, batch_size=16, device="cpu", seed=3, deterministic=True)
    first = backend.fit(spec, data, config, RecordingProgress())
    second = backend.fit(spec, data, config, RecordingProgress())
    assert first.history[0].train_loss == second.history[0].train_loss
    assert first.history[0].val_loss == second.history[0].val_loss
    assert not torch.are_deterministic_algorithms_enabled()  # restored afterwards


def test_label_smoothing_smooths_the_training_and_validation_targets(backend: Backend, fashion: object) -> None:
    """64 real images, validated on themselves, 60 steps a run."""
    train = fashion.train.head(64)
    data = TrainingData("fashion-mnist", fashion.spec.classes, train, train,
                        Preprocessing(fashion.spec.mean, fashion.spec.std, (28, 28)))

    def fit(smoothing: float) -> list[EpochMetrics]:
        config = TrainConfig(epochs=15, batch_size=16, device="cpu", label_smoothing=smoothing)
        return backend.fit(get_spec("alexnet-torch-res"), data, config, RecordingProgress()).history

    check_label_smoothing_floor(fit)


@pytest.mark.parametrize(
    "changes",
    [
        {"precision": "bf16", "channels_last": False},
        {"optimizer": "sgd", "scheduler": "step", "weight_decay": 1e-4},
        {"optimizer": "adamw", "weight_decay": 0.05},
        {"optimizer": "rmsprop"},
    ],
)
def test_fit_options_run(backend: Backend, changes: dict[str, object]) -> None:
    data = TrainingData("random", tuple("abcdefghij"), Split(*random_images(32)), None, MNIST_PREP)
    config = TrainConfig(epochs=1, batch_size=16, device="cpu", **changes)
    result = backend.fit(get_spec("alexnet-torch-res"), data, config, RecordingProgress())
    (metrics,) = result.history
    assert np.isfinite(metrics.train_loss) and metrics.val_loss is None and metrics.val_accuracy is None
    assert result.extra["precision"] == config.precision


def test_classic_alexnet_trains_through_the_resize_path(backend: Backend) -> None:
    """28 px data below alexnet's 67 px minimum: resized per batch on the device to 67 px."""
    images, labels = random_images(8)
    prep = Preprocessing((0.5,), (0.5,), (67, 67))
    data = TrainingData("random", tuple("abcdefghij"), Split(images, labels), Split(images[:4], labels[:4]), prep)
    result = backend.fit(get_spec("alexnet-torch"), data, TrainConfig(epochs=1, batch_size=4), RecordingProgress())
    assert result.model.img_size == (67, 67)
    probabilities = backend.predict_proba(result.model, images, prep, batch_size=4, device="cpu")
    assert probabilities.shape == (8, 10)


def test_device_images_normalise_exactly() -> None:
    images, labels = random_images(6, chans=3)
    prep = Preprocessing((0.1, 0.2, 0.3), (0.5, 0.6, 0.7), (28, 28))
    data = DeviceImages(images, labels, prep, CPU, channels_last=True)
    x = data.inputs(torch.tensor([4, 1]))
    expected = (torch.from_numpy(images[[4, 1]]).float() / 255 - torch.tensor(prep.mean)) / torch.tensor(prep.std)
    assert x.shape == (2, 3, 28, 28) and x.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(x, expected.permute(0, 3, 1, 2), atol=1e-6)
    assert torch.equal(data.labels, torch.from_numpy(labels))


def test_device_images_resize_per_batch_only() -> None:
    images, _ = random_images(4)
    data = DeviceImages(images, None, Preprocessing((0.5,), (0.5,), (67, 67)), CPU)
    assert data.images.shape == (4, 28, 28, 1)  # the stored copy stays at the data's size
    x = data.inputs(slice(0, 2))
    normalised = (torch.from_numpy(images[:2]).float().permute(0, 3, 1, 2) / 255 - 0.5) / 0.5
    expected = F.interpolate(normalised, size=(67, 67), mode="bilinear", align_corners=False)
    assert x.shape == (2, 1, 67, 67) and x.is_contiguous()
    assert torch.allclose(x, expected, atol=1e-5)


@pytest.mark.parametrize("size", [(28, 28), (32, 32), (67, 67)])
def test_a_prepared_split_gives_the_per_batch_inputs_bit_for_bit(fashion, size: tuple[int, int]) -> None:
    images = fashion.train.images[:1500]  # real images; more than one conversion chunk
    prep = Preprocessing((0.2860,), (0.3530,), size)
    per_batch = DeviceImages(images, None, prep, CPU, channels_last=True)
    index = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))[:128]
    for pad in (0, 2):  # the split padded for `shift`'s crop, or not
        prepared = DeviceImages(images, None, prep, CPU, channels_last=True, prepare=True, pad=pad)
        assert prepared._prepared is not None and per_batch._prepared is None
        for augmentation in (None, Augmentation(crop_padding=2), Augmentation(crop_padding=4, horizontal_flip=True),
                             Augmentation(crop_padding=2, cutout=8)):
            same_draws = [torch.Generator().manual_seed(1) for _ in range(2)]
            assert torch.equal(prepared.inputs(index, augmentation, same_draws[0]),
                               per_batch.inputs(index, augmentation, same_draws[1])), (pad, augmentation)


def test_a_split_over_the_budget_stays_uint8(monkeypatch: pytest.MonkeyPatch) -> None:
    import zoo_torch.data

    images, _ = random_images(8)
    monkeypatch.setattr(zoo_torch.data, "PREPARED_BUDGET_BYTES", 8 * 32 * 32 * 4 - 1)
    data = DeviceImages(images, None, Preprocessing((0.5,), (0.5,), (30, 30)), CPU, prepare=True, pad=1)
    assert data.prepared_bytes() == 8 * 32 * 32 * 4 and data._prepared is None
    assert data.inputs(slice(0, 8)).shape == (8, 1, 30, 30)


def test_device_images_refuse_the_wrong_channels() -> None:
    images, _ = random_images(2, chans=3)
    with pytest.raises(ZooError, match="3 channel"):
        DeviceImages(images, None, MNIST_PREP, CPU)


def test_augmentation_is_a_padded_crop_or_its_mirror() -> None:
    x = torch.randn(64, 2, 8, 8)
    generator = torch.Generator().manual_seed(0)
    out = augment(x, Augmentation(crop_padding=4, horizontal_flip=True), generator)
    assert out.shape == x.shape
    padded = F.pad(x, (4, 4, 4, 4))
    flipped = 0
    for i in range(64):
        windows = [padded[i, :, dy : dy + 8, dx : dx + 8] for dy in range(9) for dx in range(9)]
        plain = any(torch.equal(out[i], w) for w in windows)
        mirrored = any(torch.equal(out[i], w.flip(-1)) for w in windows)
        assert plain or mirrored
        flipped += mirrored and not plain
    assert 10 < flipped < 54  # p = 0.5 per sample


@pytest.mark.parametrize("shape, memory_format", [((64, 1, 8, 8), torch.contiguous_format),
                                                   ((64, 3, 8, 6), torch.channels_last)])
def test_shift_is_a_padded_crop_never_a_mirror(shape: tuple[int, ...], memory_format: torch.memory_format) -> None:
    """``--augment shift`` (for digits: a mirrored 2 is not a 2) moves by up to 2 px and never flips; its crop
    (a window of the padded batch, zoo_torch.data.crop) keeps the layout and any channels or aspect."""
    x = torch.randn(*shape).contiguous(memory_format=memory_format)
    out = augment(x, Augmentation.named("shift"), torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.is_contiguous(memory_format=torch.channels_last)
    padded = F.pad(x, (2, 2, 2, 2))
    offsets = set()
    for i in range(64):
        windows = {(dy, dx): padded[i, :, dy : dy + shape[2], dx : dx + shape[3]] for dy in range(5) for dx in range(5)}
        found = [offset for offset, window in windows.items() if torch.equal(out[i], window)]
        assert found, f"sample {i} is not a plain crop of its 2-pixel padding"
        offsets.add(found[0])
    assert len(offsets) > 10


def test_cutout_zeroes_one_square_per_sample_clipped_at_the_edges() -> None:
    x = torch.rand(64, 2, 12, 12) + 0.5  # no zeros
    out = augment(x, Augmentation(cutout=6), torch.Generator().manual_seed(0))
    check_cutout(x.permute(0, 2, 3, 1).numpy(), out.permute(0, 2, 3, 1).numpy(), 6)


def test_cutout_leaves_the_crops_and_flips_of_the_same_seed_as_they_were() -> None:
    x = torch.rand(32, 1, 28, 28) + 0.5
    plain = augment(x, Augmentation.named("crop-flip"), torch.Generator().manual_seed(3))
    cut = augment(x, Augmentation.named("crop-flip-cutout"), torch.Generator().manual_seed(3))
    assert torch.all((cut == plain) | (cut == 0)) and not torch.equal(cut, plain)


def test_flip_only_keeps_or_mirrors_each_sample() -> None:
    x = torch.randn(32, 1, 5, 5)
    out = augment(x, Augmentation(horizontal_flip=True), torch.Generator().manual_seed(1))
    same = [torch.equal(out[i], x[i]) for i in range(32)]
    mirror = [torch.equal(out[i], x[i].flip(-1)) for i in range(32)]
    assert all(s or m for s, m in zip(same, mirror, strict=True)) and 0 < sum(mirror) < 32


def test_predict_proba_does_not_depend_on_batch_size(backend: Backend) -> None:
    model = backend.build(get_spec("alexnet-torch-res"), num_classes=10, in_chans=1, img_size=(28, 28))
    images, _ = random_images(10)
    one = backend.predict_proba(model, images, MNIST_PREP, batch_size=3, device="cpu")
    two = backend.predict_proba(model, images, MNIST_PREP, batch_size=10, device="cpu")
    assert one.dtype == np.float32 and one.shape == (10, 10)
    assert np.allclose(one, two, atol=1e-5)
    assert backend.predict_proba(model, images[:0], MNIST_PREP, batch_size=3, device="cpu").shape == (0, 10)


def test_checkpoint_round_trip(backend: Backend, tmp_path: Path) -> None:
    spec = get_spec("alexnet-torch-small")
    model = backend.fit(spec, tiny_data(32), TrainConfig(epochs=1, batch_size=16), RecordingProgress()).model
    path = backend.save(model, tmp_path / "ckpt")
    assert path == tmp_path / "ckpt" / "model.safetensors"
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.safetensors"]  # no temporary left behind
    images, _ = random_images(12, seed=5)
    loaded = backend.load(spec, path, num_classes=10, in_chans=1, img_size=(28, 28))
    before = backend.predict_proba(model, images, MNIST_PREP, batch_size=5, device="cpu")
    after = backend.predict_proba(loaded, images, MNIST_PREP, batch_size=5, device="cpu")
    assert np.array_equal(before, after)
    assert not loaded.training
    again = backend.load(spec, path.parent, num_classes=10, in_chans=1, img_size=(28, 28))  # a directory works
    assert torch.equal(again.bn1.running_mean, model.bn1.running_mean.cpu())


@pytest.fixture(scope="module")
def saved_bn(backend: Backend, module_tmp: MakeDir) -> Path:
    model = backend.build(get_spec("alexnet-torch-bn"), num_classes=10, in_chans=1, img_size=(28, 28))
    return backend.save(model, module_tmp("bn"))


def load_error(backend: Backend, name: str, weights: Path, **shape: object) -> str:
    kwargs = {"num_classes": 10, "in_chans": 1, "img_size": (28, 28), **shape}
    with pytest.raises(ZooError) as error:
        backend.load(get_spec(name), weights, **kwargs)
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"checkpoint {weights}")
    return message


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_damaged_weights_give_one_line(backend: Backend, saved_bn: Path, tmp_path: Path, damage: str) -> None:
    data = saved_bn.read_bytes()
    broken = tmp_path / "model.safetensors"
    damaged = {"truncate": data[: len(data) // 2], "garbage": b"\x00not safetensors" * 9, "empty": b""}
    broken.write_bytes(damaged[damage])
    message = load_error(backend, "alexnet-torch-bn", broken)
    assert "does not match alexnet-torch-bn (not a readable safetensors file" in message


def test_missing_weights_give_one_line(backend: Backend, tmp_path: Path) -> None:
    assert "(no such file)" in load_error(backend, "alexnet-torch-bn", tmp_path / "nothing.safetensors")


def test_weights_of_another_model_are_refused(backend: Backend, saved_bn: Path) -> None:
    message = load_error(backend, "alexnet-torch-res", saved_bn)
    assert "does not match alexnet-torch-res (" in message and "missing block1." in message


def test_weights_of_another_shape_are_refused(backend: Backend, saved_bn: Path) -> None:
    message = load_error(backend, "alexnet-torch-bn", saved_bn, num_classes=5)
    assert "fc3.weight is 10x4096, expected 5x4096" in message
    message = load_error(backend, "alexnet-torch-bn", saved_bn, img_size=(64, 64))
    assert "fc1.weight is 4096x256, expected 4096x2304" in message  # 256 x 3 x 3 features at 64 px


def test_summary_of_alexnet_bn(backend: Backend) -> None:
    summary = backend.summarize(get_spec("alexnet-torch-bn"), num_classes=10, input_size=(1, 28, 28))
    shapes = {row.name: row.output_shape for row in summary.layers}
    assert list(shapes) == [
        "conv1", "bn1", "conv2", "bn2", "pool2", "conv3", "bn3", "conv4", "bn4", "conv5", "bn5", "pool5",
        "flatten", "fc1", "fc2", "fc3",
    ]  # fmt: skip
    assert shapes["conv1"] == (96, 7, 7) and shapes["pool2"] == (256, 3, 3) and shapes["pool5"] == (256, 1, 1)
    assert shapes["flatten"] == (256,) and shapes["fc3"] == (10,)
    assert summary.param_count == 21_601_674 == sum(row.params for row in summary.layers)
    assert summary.input_size == (1, 28, 28)
    conv = (
        7 * 7 * 96 * (1 * 11 * 11)  # conv1: output positions x channels x (input channels x kernel)
        + 7 * 7 * 256 * (96 * 5 * 5)
        + 3 * 3 * 384 * (256 * 3 * 3)
        + 3 * 3 * 384 * (384 * 3 * 3)
        + 3 * 3 * 256 * (384 * 3 * 3)
    )
    dense = 256 * 4096 + 4096 * 4096 + 4096 * 10
    assert summary.macs == conv + dense == 76_410_720


@pytest.mark.parametrize(("name", "shape"), [("alexnet-torch-res", (3, 32, 32)), ("alexnet-torch-small", (1, 28, 28))])
def test_summaries_at_small_sizes(backend: Backend, name: str, shape: tuple[int, int, int]) -> None:
    summary = backend.summarize(get_spec(name), num_classes=10, input_size=shape)
    rows = {row.name: row for row in summary.layers}
    assert rows["flatten"].output_shape == ((256,) if name.endswith("res") else (4096,))
    assert summary.param_count == sum(row.params for row in summary.layers)
    assert summary.macs > 0
    if name.endswith("res"):
        assert rows["block1"].kind == "bottleneck" and rows["block4"].output_shape == (256, 3, 3)


def test_summary_refuses_too_small_inputs(backend: Backend) -> None:
    with pytest.raises(UsageError, match="alexnet-torch needs inputs of at least 67x67"):
        backend.summarize(get_spec("alexnet-torch"), num_classes=10, input_size=(3, 32, 32))


def test_benchmark_returns_plausible_rows(backend: Backend) -> None:
    config = BenchConfig(input_size=(1, 28, 28), num_classes=10, batch_size=8, device="cpu",
                         warmup_steps=1, timed_steps=3)
    train, infer = backend.benchmark(get_spec("alexnet-torch-res"), config)
    assert (train.mode, infer.mode) == ("train", "infer")
    for row in (train, infer):
        assert row.batch_size == 8 and row.steps == 3 and row.device == "cpu" and row.channels_last
        assert row.precision == "fp32" and not row.compiled and row.note == ""
        assert row.samples_per_sec == pytest.approx(8 / row.median_step_seconds)
        assert 0 < row.median_step_seconds < 60
    assert infer.samples_per_sec > train.samples_per_sec  # a forward pass is cheaper than a training step
    only = backend.benchmark(get_spec("alexnet-torch-res"), BenchConfig(
        (1, 28, 28), 10, 4, device="cpu", warmup_steps=0, timed_steps=1, train=False, channels_last=False
    ))
    assert [(row.mode, row.channels_last) for row in only] == [("infer", False)]


@pytest.mark.slow
def test_compiled_paths(backend: Backend) -> None:
    """torch.compile on the CPU, in fit and in the benchmark (compiling takes most of a minute)."""
    data = TrainingData("random", tuple("abcdefghij"), Split(*random_images(32)), None, MNIST_PREP)
    config = TrainConfig(epochs=1, batch_size=16, device="cpu", compile=True)
    result = backend.fit(get_spec("alexnet-torch-res"), data, config, RecordingProgress())
    assert result.extra["compiled"] and np.isfinite(result.history[0].train_loss)
    assert result.extra["compile_mode"] == "default"
    assert not hasattr(result.model, "_orig_mod")  # the plain module comes back, ready to save
    # reduce-overhead captures CUDA graphs on a GPU; on the CPU it must still compile and run.
    bench = BenchConfig((1, 28, 28), 10, 4, device="cpu", compile=True, compile_mode="reduce-overhead",
                        warmup_steps=1, timed_steps=2, train=False)
    (row,) = backend.benchmark(get_spec("alexnet-torch-res"), bench)
    assert row.compiled and row.samples_per_sec > 0
    assert row.note == "torch.compile mode reduce-overhead"


def test_compile_modes_are_torch_compiles() -> None:
    """zoo's --compile-mode list (kept in zoo.config, which must not import torch) is within torch's own."""
    from zoo.api.config import COMPILE_MODES

    assert set(COMPILE_MODES) <= {"default", *torch._inductor.list_mode_options()}


def test_cuda_graphs_by_default_only_on_a_cuda_run_long_enough_to_amortise_them() -> None:
    """The execution rule (docs/torch.md, "Execution modes"), decided before any step runs."""
    from zoo_torch.execution import CUDA_GRAPHS_MIN_STEPS, choose_execution

    long, short = CUDA_GRAPHS_MIN_STEPS, CUDA_GRAPHS_MIN_STEPS - 1
    graphs = choose_execution(None, "default", "cuda", long)
    assert (graphs.name, graphs.compile_mode, graphs.graphs) == ("cuda-graphs", "reduce-overhead", True)
    assert graphs.warmup_steps > choose_execution(None, "default", "cpu", long).warmup_steps == 3
    assert choose_execution(None, "default", "cuda", short).name == "eager"  # the capture would not pay
    assert "too few" in choose_execution(None, "default", "cuda", short).reason
    assert choose_execution(None, "default", "cpu", 10 * long).name == "eager"  # no graphs without a GPU
    assert choose_execution(None, "default", "mps", 10 * long).name == "eager"
    assert choose_execution(False, "default", "cuda", 10 * long).name == "eager"  # --no-compile wins
    forced = choose_execution(True, "reduce-overhead", "cuda", 1)  # --compile-mode wins, however short
    assert (forced.name, forced.compile_mode) == ("cuda-graphs", "reduce-overhead")
    assert choose_execution(True, "reduce-overhead", "cpu", 1).name == "compiled"  # the CPU compiles, no graphs
    assert choose_execution(True, "default", "cuda", long).name == "compiled"
    assert not choose_execution(None, "default", "cuda", short).compiled


def test_a_bench_config_times_the_step_as_the_run_executed_it() -> None:
    from zoo_torch.bench import as_executed

    base = BenchConfig((1, 28, 28), 10, 4, compile=True, compile_mode="max-autotune-no-cudagraphs")
    assert not as_executed(replace(base, execution="eager")).compile
    assert as_executed(replace(base, execution="compiled")) == replace(base, execution="compiled")
    graphs = as_executed(replace(base, execution="cuda-graphs"))
    assert (graphs.compile, graphs.compile_mode) == (True, "reduce-overhead")
    assert as_executed(replace(base, compile=None)).compile is False  # TrainConfig's "unset": no compile here


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU (benchmarks/gpu_session.sh)")
def test_cuda_graphs_see_one_batch_shape_and_every_image_counts_once(backend: Backend, fashion: object) -> None:
    """Run on a GPU by gpu_session.sh: 2 epochs of 1,000 images at batch 96 (a short last batch of 40),
    forced into CUDA graphs; the graphed step compiles once, never for the short batch or validation."""
    from torch._dynamo.utils import counters

    train = fashion.train.head(1000)
    val = Split(fashion.train.images[-300:], fashion.train.labels[-300:])
    prep = Preprocessing(fashion.spec.mean, fashion.spec.std, (28, 28))
    data = TrainingData("fashion-mnist", fashion.spec.classes, train, val, prep)
    counters.clear()
    config = TrainConfig(epochs=2, batch_size=96, device="cuda", compile=True, compile_mode="reduce-overhead")
    result = backend.fit(get_spec("alexnet-torch-bn"), data, config, RecordingProgress())
    assert result.extra["execution"] == "cuda-graphs"
    assert counters["stats"]["unique_graphs"] == 1, dict(counters["stats"])  # no recompile for 40 or for eval
    first, second = result.history
    assert first.warmup_steps > 0 and second.warmup_steps == 0 and second.steady_images_per_sec > 0
    assert second.val_accuracy > 0.3  # chance is 0.1: the eager short batches and the graphs train one model

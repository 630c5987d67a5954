"""zoo-torch honours RunControl: states at epoch ends, stops between steps, exact resumes, NaN refusal.

In-process through ``get_backend("torch").fit`` on real Fashion-MNIST images (a few
hundred). Resumed runs are compared bit for bit with uninterrupted ones (CPU,
``deterministic``), history included.
"""

from __future__ import annotations

import json
from dataclasses import astuple, replace
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MakeDir

torch = pytest.importorskip("torch")
nn = torch.nn

from zoo import get_spec  # noqa: E402
from zoo.api.backend import Augmentation, EpochMetrics, FitResult, Preprocessing, TrainingData  # noqa: E402
from zoo.api.config import TrainConfig  # noqa: E402
from zoo.api.control import ResumePoint, RunControl  # noqa: E402
from zoo.api.data import Split  # noqa: E402
from zoo.api.errors import NonFiniteLoss, TrainingInterrupted, ZooError  # noqa: E402
from zoo.api.specs import ModelSpec  # noqa: E402
from zoo.plugins.backends import get_backend  # noqa: E402
from zoo.run.states import StateDirectory, load_resume_point, run_control  # noqa: E402

TINY = ModelSpec(name="tiny-torch", backend="torch", family="tiny", builder="tests.test_torch_resume:tiny_net",
                 input_size=(1, 28, 28), min_img_size=(4, 4))
PLAIN = replace(TINY, name="plain-torch", builder="tests.test_torch_resume:plain_net")
POISONED = replace(TINY, name="poisoned-torch", builder="tests.test_torch_resume:poisoned_net")
POISON_AT = 43  # the training forward pass whose output becomes NaN: epoch 2, step 3 at 40 steps an epoch


def tiny_net(*, num_classes: int, in_chans: int, img_size: tuple[int, int]) -> nn.Module:
    """Conv, BatchNorm, pool, dropout, linear: every kind of state a resume must carry, at little cost."""
    h, w = img_size[0] // 4, img_size[1] // 4
    return nn.Sequential(
        nn.Conv2d(in_chans, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(4),
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(8 * h * w, num_classes),
    )


def plain_net(*, num_classes: int, in_chans: int, img_size: tuple[int, int]) -> nn.Module:
    """No normalisation: a huge learning rate makes its weights grow without bound."""
    features = 8 * ((img_size[0] - 1) // 2) * ((img_size[1] - 1) // 2)
    return nn.Sequential(nn.Conv2d(in_chans, 8, 3, stride=2), nn.ReLU(), nn.Flatten(), nn.Linear(features, 32),
                         nn.ReLU(), nn.Linear(32, num_classes))


class Poison(nn.Module):
    """Turns the ``POISON_AT``-th training forward pass into NaN."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x: Any) -> Any:
        if self.training:
            self.calls += 1
            if self.calls == POISON_AT:
                return x * float("nan")
        return x


def poisoned_net(*, num_classes: int, in_chans: int, img_size: tuple[int, int]) -> nn.Module:
    return nn.Sequential(tiny_net(num_classes=num_classes, in_chans=in_chans, img_size=img_size), Poison())


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def fashion(module_tmp: MakeDir) -> tuple[Split, Split, Any]:
    """160 training and 40 validation images of real Fashion-MNIST, parsed into a private cache."""
    from zoo.data import load_dataset

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZOO_CACHE_DIR", str(module_tmp("cache")))
        dataset = load_dataset("fashion-mnist", progress=False)
    images, labels = dataset.train.images[:200].copy(), dataset.train.labels[:200].copy()
    return Split(images[:160], labels[:160]), Split(images[160:], labels[160:]), dataset.spec


def training_data(fashion: tuple[Split, Split, Any], size: tuple[int, int], augmentation: Augmentation) -> TrainingData:
    train, val, spec = fashion
    return TrainingData("fashion-mnist", spec.classes, train, val, Preprocessing(spec.mean, spec.std, size),
                        augmentation)


class Progress:
    """Records calls; runs ``hook(event, progress)`` after each one (to request stops)."""

    def __init__(self, hook: Any = None) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.advanced = 0  # steps advanced in the current epoch
        self.hook = hook or (lambda event, progress: None)

    def start_epoch(self, epoch: int, epochs: int, steps: int) -> None:
        self.calls.append(("start", (epoch, epochs, steps)))
        self.advanced = 0
        self.hook("start", self)

    def advance(self, steps: int = 1) -> None:
        self.calls.append(("advance", steps))
        self.advanced += steps
        self.hook("advance", self)

    def end_epoch(self, metrics: EpochMetrics) -> None:
        self.calls.append(("end", metrics.epoch))
        self.hook("end", self)

    @property
    def epoch(self) -> int:
        return max((args[0] for name, args in self.calls if name == "start"), default=0)


def learnt(history: list[EpochMetrics]) -> list[tuple]:
    """An epoch's measurements without its timings (and warm-up steps: a resumed process warms up again)."""
    return [astuple(replace(m, images_per_sec=0.0, seconds=0.0, warmup_steps=0, warmup_seconds=0.0,
                            steady_images_per_sec=None)) for m in history]


def assert_same_run(a: FitResult, b: FitResult) -> None:
    state_a, state_b = a.model.state_dict(), b.model.state_dict()
    assert list(state_a) == list(state_b)
    different = [name for name in state_a if not torch.equal(state_a[name], state_b[name])]
    assert not different, f"weights differ: {different}"
    assert learnt(a.history) == learnt(b.history)


def stop_when(epoch: int, event: str, advanced: int = 0) -> tuple[RunControl, Any]:
    """A control and a progress hook that requests a stop at ``event`` in ``epoch``
    (for ``advance``: once ``advanced`` steps of it are done)."""

    def hook(name: str, progress: Progress) -> None:
        if name == event and progress.epoch == epoch and (name != "advance" or progress.advanced == advanced):
            control.stop.set()

    control = RunControl()
    return control, hook


def test_states_are_saved_at_the_epoch_ends_asked_for(fashion, tmp_path: Path) -> None:
    seen: list[int | None] = []

    def hook(name: str, progress: Progress) -> None:
        if name == "start":
            point = load_resume_point(tmp_path)
            seen.append(None if point is None else point.epoch)

    control = run_control(tmp_path, save_every=2)
    config = TrainConfig(epochs=3, batch_size=16, device="cpu", seed=1, scheduler="cosine")
    result = get_backend("torch").fit(TINY, training_data(fashion, (28, 28), Augmentation()), config,
                                      Progress(hook), control)
    assert seen == [None, None, 2]  # before epochs 1, 2, 3
    last = load_resume_point(tmp_path)
    assert last is not None and (last.epoch, last.step) == (3, 0) and last.path.name.endswith(".pt")
    assert list(last.history) == result.history and len(result.history) == 3
    assert last.extra["steps_per_epoch"] == 10 and last.extra["format"] == "zoo-torch-state/1"
    manifests = {json.loads((tmp_path / name).read_text())["file"] for name in ("last.json", "best.json")}
    assert {p.name for p in tmp_path.glob("state-*")} == manifests  # pruned to what the manifests need
    state = torch.load(last.path, weights_only=True, map_location="cpu")
    assert state["partial"] is None and state["scheduler"] is not None
    assert state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.0)  # cosine after its last epoch
    saved = state["model"]
    assert all(torch.equal(saved[name], value) for name, value in result.model.state_dict().items())


def test_stop_mid_epoch_saves_a_state_and_resuming_it_is_bitwise_identical(fashion, tmp_path: Path) -> None:
    """alexnet-torch-small at 1x16x16 with crop-flip augmentation, dropout, BatchNorm and a cosine schedule."""
    backend, spec = get_backend("torch"), get_spec("alexnet-torch-small")
    data = training_data(fashion, (16, 16), Augmentation.named("crop-flip"))
    config = TrainConfig(epochs=2, batch_size=32, device="cpu", seed=7, deterministic=True, scheduler="cosine")
    straight = backend.fit(spec, data, config, Progress())

    control, hook = stop_when(epoch=2, event="advance", advanced=2)
    control.states = StateDirectory(tmp_path)
    with pytest.raises(TrainingInterrupted) as stopped:
        backend.fit(spec, data, config, Progress(hook), control)
    assert str(stopped.value) == f"training stopped at epoch 2, step 2 of 5; its state is in {tmp_path}"
    assert (stopped.value.epoch, stopped.value.step) == (1, 2)
    point = load_resume_point(tmp_path)
    assert point is not None and (point.epoch, point.step) == (1, 2) and len(point.history) == 1
    assert torch.load(point.path, weights_only=True)["partial"]["seen"] == 64

    progress = Progress()
    resumed = backend.fit(spec, data, config, progress, run_control(tmp_path, resume=point))
    assert progress.calls[:2] == [("start", (2, 2, 5)), ("advance", 2)]
    assert progress.calls[2:] == [("advance", 1)] * 3 + [("end", 2)]
    assert_same_run(straight, resumed)
    assert resumed.extra["resumed_from"] == {"epoch": 1, "step": 2}
    assert load_resume_point(tmp_path).epoch == 2  # the resumed run saved its last epoch
    # Warm-up: the first 3 steps each process trains; the epoch trained before the stop keeps its figures.
    assert [m.warmup_steps for m in straight.history] == [3, 0]
    assert straight.history[0].steady_images_per_sec > 0 and straight.history[0].warmup_seconds > 0
    assert straight.history[1].steady_images_per_sec == straight.history[1].images_per_sec
    assert resumed.history[0] == point.history[0] and resumed.history[0].warmup_steps == 3
    assert resumed.history[0].steady_images_per_sec > 0
    assert resumed.history[1].warmup_steps == 3  # the 3 steps left after the resume were all warm-up
    assert resumed.history[1].steady_images_per_sec is None and resumed.history[1].warmup_seconds > 0


def test_stop_at_an_epoch_end_and_resume_twice_is_bitwise_identical(fashion, tmp_path: Path) -> None:
    backend = get_backend("torch")
    data = training_data(fashion, (28, 28), Augmentation.named("crop-flip"))
    config = TrainConfig(epochs=3, batch_size=16, device="cpu", seed=2, deterministic=True, scheduler="step",
                         optimizer="sgd", lr=0.05)
    straight = backend.fit(TINY, data, config, Progress())

    control, hook = stop_when(epoch=1, event="end")  # during epoch 1's last step, validation or progress
    control.states = StateDirectory(tmp_path)
    with pytest.raises(TrainingInterrupted, match=r"^training stopped after epoch 1 of 3; its state is in ") as stop:
        backend.fit(TINY, data, config, Progress(hook), control)
    assert (stop.value.epoch, stop.value.step) == (1, 0)
    point = load_resume_point(tmp_path)
    assert point is not None and (point.epoch, point.step) == (1, 0)

    control, hook = stop_when(epoch=3, event="advance", advanced=7)
    control.states, control.resume = StateDirectory(tmp_path), point
    with pytest.raises(TrainingInterrupted, match="at epoch 3, step 7 of 10"):
        backend.fit(TINY, data, config, Progress(hook), control)
    point = load_resume_point(tmp_path)
    assert (point.epoch, point.step) == (2, 7) and [m.epoch for m in point.history] == [1, 2]

    resumed = backend.fit(TINY, data, config, Progress(), run_control(tmp_path, resume=point))
    assert_same_run(straight, resumed)


@pytest.mark.parametrize("stop_at", [None, 5], ids=["watch", "stop"])
def test_nan_loss_names_epoch_and_step_and_saves_no_nan_state(fashion, tmp_path: Path, stop_at: int | None) -> None:
    """The 43rd training pass turns NaN (epoch 2, step 3 of 40). Unasked, the watch finds it at its
    step-20 read; with a stop requested at step 5 it is found before the stop's save."""
    control, hook = stop_when(epoch=2, event="advance", advanced=stop_at or -1)
    control.states = StateDirectory(tmp_path)
    progress = Progress(hook)
    config = TrainConfig(epochs=3, batch_size=4, device="cpu", seed=3)
    with pytest.raises(NonFiniteLoss, match="the training loss became nan at epoch 2, step 3;") as failed:
        get_backend("torch").fit(POISONED, training_data(fashion, (28, 28), Augmentation()), config, progress,
                                 control)
    assert (failed.value.epoch, failed.value.step) == (2, 3)
    assert progress.epoch == 2 and progress.advanced == (stop_at or 20)
    last = load_resume_point(tmp_path)
    assert last is not None and (last.epoch, last.step) == (1, 0)  # the last good state stays the last
    state = torch.load(last.path, weights_only=True)
    assert all(torch.isfinite(t).all() for t in state["model"].values() if t.is_floating_point())


def test_large_learning_rate_raises_non_finite_loss(fashion) -> None:
    config = TrainConfig(epochs=1, batch_size=16, device="cpu", optimizer="sgd", lr=1e9)
    with pytest.raises(NonFiniteLoss, match=r"at epoch 1, step \d+; lower the learning rate"):
        get_backend("torch").fit(PLAIN, training_data(fashion, (28, 28), Augmentation()), config, Progress(),
                                 RunControl())


class Payload:
    def __reduce__(self) -> tuple:
        return (print, ("code ran",))


def test_a_state_that_is_not_a_zoo_torch_state_is_refused(fashion, tmp_path: Path, capsys) -> None:
    data = training_data(fashion, (28, 28), Augmentation())
    config = TrainConfig(epochs=1, batch_size=16, device="cpu")
    malicious = tmp_path / "state-e0001-s000000.pt"
    torch.save({"format": "zoo-torch-state/1", "model": Payload()}, malicious)  # unpickling would call print
    control = RunControl(resume=ResumePoint(malicious, 1, 0, (), {}))
    with pytest.raises(ZooError, match=r"cannot resume from .*Weights only load failed.*; start a new run"):
        get_backend("torch").fit(TINY, data, config, Progress(), control)
    assert "code ran" not in capsys.readouterr().out

    keras_state = tmp_path / "state-e0001-s000000.weights.h5"
    keras_state.write_bytes(b"\x89HDF")
    with pytest.raises(ZooError, match="not a zoo-torch training state"):
        get_backend("torch").fit(TINY, data, config, Progress(), RunControl(resume=ResumePoint(keras_state, 1, 0,
                                                                                                (), {})))

    tiny_state = tmp_path / "tiny"
    get_backend("torch").fit(TINY, data, config, Progress(), run_control(tiny_state))
    point = load_resume_point(tiny_state)
    with pytest.raises(ZooError, match="the saved state does not fit this model"):
        get_backend("torch").fit(get_spec("alexnet-torch-bn"), data, replace(config, epochs=2), Progress(),
                                 RunControl(resume=point))


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_while_writing_a_state_is_an_os_error() -> None:
    """torch's zip writer reports a failed write as a bare RuntimeError; the state writer gives the
    core the OSError (which it turns into one line saying the disk is full)."""
    import errno

    from zoo_torch.state import write_state

    model = nn.Linear(512, 512)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    generator = torch.Generator()
    with pytest.raises(OSError) as full:
        write_state(Path("/dev/full"), model=model, optimizer=optimizer, scheduler=None, generator=generator,
                    generator_epoch_start=generator.get_state(), device=torch.device("cpu"), partial=None)
    assert full.value.errno == errno.ENOSPC

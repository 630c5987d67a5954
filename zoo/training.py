"""``zoo.train``: one run end to end — resolve, load data, fit, score, checkpoint, record.

Also ``resume_training``: continue an interrupted, crashed or failed run from
its last saved state, in the same output directory and run record.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.backend import (
    Augmentation,
    Backend,
    EpochMetrics,
    Preprocessing,
    SilentProgress,
    TrainingData,
    TrainingProgress,
)
from zoo.checkpoint import Checkpoint, save_checkpoint
from zoo.config import RUNTIME_SETTINGS, TrainConfig
from zoo.data.arrays import Dataset, Split, split_validation
from zoo.data.datasets import dataset_identity
from zoo.environment import core_environment
from zoo.errors import NonFiniteLoss, TrainingInterrupted, UsageError, ZooError
from zoo.metrics import Evaluation, evaluate_probabilities
from zoo.models import get_backend, training_input_size
from zoo.registry import get_registry
from zoo.resume import ResumePoint, RunControl, load_resume_point
from zoo.specs import DatasetSpec, ModelSpec

VERSION_KEYS = ("zoo", "framework", "keras_backend", "torch", "timm", "keras", "tensorflow", "jax", "device_name")
STATE_DIR = "state"


@dataclass(frozen=True)
class TrainResult:
    """What one finished run produced."""

    run_id: int | None
    model: str
    backend: str
    dataset: str
    config: TrainConfig
    history: tuple[EpochMetrics, ...]
    test: Evaluation
    checkpoint: Checkpoint
    environment: dict[str, str]
    seconds: float


def reuse_key(model: str, dataset: str, recipe: dict[str, Any], environment: dict[str, str]) -> str:
    """Identity of a run's result: same model, data, recipe, seed, backend and library versions."""
    versions = {key: environment.get(key, "") for key in VERSION_KEYS}
    blob = json.dumps({"model": model, "dataset": dataset, "recipe": recipe, "versions": versions}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def prepare_data(spec: ModelSpec, dataset: Dataset, config: TrainConfig) -> tuple[TrainingData, Split]:
    """Limit, split and describe the data for one model: (training data, test split)."""
    image_h, image_w, channels = dataset.train.images.shape[1:]
    if channels != len(dataset.spec.mean):
        raise ZooError(f"dataset {dataset.spec.name} has {channels} channels but declares {len(dataset.spec.mean)}")
    input_size = training_input_size(spec, (image_h, image_w), config.image_size, config.min_image_size)
    if dataset.val is not None and config.val_split > 0:  # the dataset's own val/ split
        train, val = dataset.train.head(config.limit), dataset.val
    else:
        train, val = split_validation(dataset.train.head(config.limit), config.val_split, config.seed)
    data = TrainingData(
        dataset=dataset.spec.name,
        classes=dataset.spec.classes,
        train=train,
        val=val,
        preprocessing=Preprocessing(dataset.spec.mean, dataset.spec.std, input_size),
        augmentation=Augmentation.named(config.augment or dataset.spec.augment).scaled(input_size[0] / image_h),
    )
    return data, dataset.test.head(config.limit_test)


def check_output_dir(directory: Path) -> None:
    """Fail before training, not after, when the checkpoint cannot be written."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".zoo-write-test-{os.getpid()}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ZooError(f"cannot write to output directory {directory} ({reason}); pass --output DIR") from None


def check_free_space(directory: Path, backend: Backend, spec: ModelSpec, data: TrainingData) -> None:
    """Refuse to start when the checkpoints cannot fit: about 32 bytes per parameter
    (fp32 weights plus two Adam moments in the last and the best state, and the final weights)."""
    shape = (data.preprocessing.in_chans, *data.preprocessing.input_size)
    params = backend.summarize(spec, num_classes=data.num_classes, input_shape=shape).param_count
    needed = params * 32
    free = shutil.disk_usage(directory).free
    if free < needed:
        raise ZooError(
            f"{directory} has {free / 1e6:,.1f} MB free but {spec.name}'s checkpoints need about "
            f"{needed / 1e6:,.0f} MB; free some space or pass --output DIR"
        )


@contextlib.contextmanager
def stop_on_signals(control: RunControl) -> Iterator[None]:
    """First SIGINT/SIGTERM: ask the backend to stop after the current step (it saves a
    resumable state). Second: stop at once (every file zoo writes is atomic, so nothing
    is half-written)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: object) -> None:
        if control.stop.is_set():
            raise KeyboardInterrupt
        control.stop.set()
        print("zoo: stopping after the current step and saving a resumable state "
              "(Ctrl-C again to quit at once)", file=sys.stderr, flush=True)

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _RecordingProgress:
    """Forwards progress and logs each epoch to the run store."""

    def __init__(self, inner: TrainingProgress, store: Any, run_id: int) -> None:
        self.inner, self.store, self.run_id = inner, store, run_id

    def start_epoch(self, epoch: int, epochs: int, steps: int) -> None:
        self.store.heartbeat(self.run_id)
        self.inner.start_epoch(epoch, epochs, steps)

    def advance(self, steps: int = 1) -> None:
        self.inner.advance(steps)

    def end_epoch(self, metrics: EpochMetrics) -> None:
        self.store.log_epoch(self.run_id, metrics)
        self.inner.end_epoch(metrics)


def _end_run(store: Any, run_id: int | None, reason: str, status: str) -> None:
    """Mark the run ended without hiding the exception that ended it."""
    if store is not None and run_id is not None:
        with contextlib.suppress(Exception):
            store.fail_run(run_id, reason, status=status)


def train(
    model: str,
    dataset: str,
    config: TrainConfig | None = None,
    *,
    overrides: dict[str, Any] | None = None,
    data_dir: str | Path | None = None,
    output: str | Path | None = None,
    progress: TrainingProgress | None = None,
    record: bool = True,
) -> TrainResult:
    """Train ``model`` on ``dataset``, score it on the test split, checkpoint and record it.

    ``config`` replaces the model's default recipe; ``overrides`` (``None`` values
    ignored) adjust the recipe instead. The run is recorded in the run store
    unless ``record`` is False. Ctrl-C saves a resumable state and raises
    :class:`~zoo.errors.TrainingInterrupted`; see :func:`resume_training`.
    """
    from zoo.paths import runs_dir
    from zoo.runs import RunStore

    spec = get_registry().model(model).spec
    config = config or TrainConfig.build(spec.recipe, overrides)
    dataset_spec = get_registry().dataset(dataset).spec
    backend = get_backend(spec.backend)
    if output is not None:
        check_output_dir(Path(output))
    environment = {**core_environment(), **backend.environment(config.device)}
    recipe = config.recipe()
    store = RunStore() if record else None
    run_id = None
    if store is not None:
        key = reuse_key(spec.name, dataset_identity(dataset_spec), recipe, environment)
        run_id = store.start_run(
            model=spec.name, backend=spec.backend, dataset=dataset_spec.name, recipe=recipe,
            environment=environment, reuse_key=key,
        )
    try:
        name = f"{run_id or int(time.time())}-{spec.name}-{dataset_spec.name}"
        directory = Path(output) if output is not None else runs_dir() / name
        check_output_dir(directory)
        if store is not None and run_id is not None:
            store.set_output_dir(run_id, str(directory))
    except BaseException as exc:
        _end_run(store, run_id, f"{type(exc).__name__}: {exc}", "failed")
        raise
    return _execute(spec, dataset_spec, backend, config, environment, directory, store, run_id,
                    data_dir=data_dir, progress=progress, resume=None)


def resume_training(
    ref: str,
    *,
    overrides: dict[str, Any] | None = None,
    data_dir: str | Path | None = None,
    progress: TrainingProgress | None = None,
) -> TrainResult:
    """Continue run ``ref`` (an id or ``"last"``) from its last saved state, in place.

    Only settings that do not change what is learnt (device, compile,
    compile_mode, channels_last, save_every) may be overridden.
    """
    from zoo.runs import RunStore

    store = RunStore()
    record = store.get(store.resolve(ref))
    if record.status not in ("interrupted", "crashed", "failed"):
        raise UsageError(f"run {record.id} is {record.status}; only an interrupted, crashed or failed run can resume")
    changed = {k for k, v in (overrides or {}).items() if v is not None and k not in RUNTIME_SETTINGS}
    if changed:
        options = ", ".join("--" + k.replace("_", "-") for k in sorted(changed))
        raise UsageError(f"--resume continues run {record.id}'s recipe; drop {options} "
                         "(only --device, --compile, --compile-mode, --channels-last and --save-every may change)")
    if not record.output_dir:
        raise ZooError(f"run {record.id} recorded no output directory; it cannot be resumed")
    directory = Path(record.output_dir)
    point = load_resume_point(directory / STATE_DIR)
    if point is None:
        raise ZooError(f"run {record.id} saved no training state in {directory / STATE_DIR}; start a new run")
    spec = get_registry().model(record.model).spec
    dataset_spec = get_registry().dataset(record.dataset).spec
    runtime = {k: v for k, v in (overrides or {}).items() if v is not None}
    config = TrainConfig.build(record.recipe, runtime)
    backend = get_backend(spec.backend)
    environment = {**core_environment(), **backend.environment(config.device)}
    store.reopen_run(record.id)
    return _execute(spec, dataset_spec, backend, config, environment, directory, store, record.id,
                    data_dir=data_dir, progress=progress, resume=point)


def _execute(
    spec: ModelSpec,
    dataset_spec: DatasetSpec,
    backend: Backend,
    config: TrainConfig,
    environment: dict[str, str],
    directory: Path,
    store: Any,
    run_id: int | None,
    *,
    data_dir: str | Path | None,
    progress: TrainingProgress | None,
    resume: ResumePoint | None,
) -> TrainResult:
    from zoo.data import load_dataset

    shown: TrainingProgress = progress or SilentProgress()
    if store is not None and run_id is not None:
        shown = _RecordingProgress(shown, store, run_id)
    control = RunControl(state_dir=directory / STATE_DIR, save_every=config.save_every, resume=resume)
    started = time.perf_counter()
    try:
        arrays = load_dataset(dataset_spec, data_dir=data_dir)
        data, test = prepare_data(spec, arrays, config)
        check_free_space(directory, backend, spec, data)
        alive = store.keep_alive(run_id) if store is not None and run_id is not None else contextlib.nullcontext()
        with alive, stop_on_signals(control):
            fit = backend.fit(spec, data, config, shown, control)
        probabilities = backend.predict_proba(
            fit.model, test.images, data.preprocessing, batch_size=max(config.batch_size, 256), device=config.device
        )
        evaluation = evaluate_probabilities(probabilities, test.labels, data.num_classes)
        metrics = {"top1": evaluation.top1, "top5": evaluation.top5, "test_loss": evaluation.loss,
                   "test_count": evaluation.count, "train_seconds": fit.seconds}
        if fit.history and fit.history[-1].val_accuracy is not None:
            metrics["val_accuracy"] = fit.history[-1].val_accuracy
        checkpoint = save_checkpoint(
            directory, backend=backend, model=fit.model, spec=spec, dataset=dataset_spec.name,
            classes=arrays.spec.classes, image_shape=tuple(arrays.train.images.shape[1:]),
            preprocessing=data.preprocessing, recipe=config.recipe(),
            environment={**environment, "device": fit.device}, metrics=metrics, run_id=run_id,
        )
    except TrainingInterrupted as exc:
        _end_run(store, run_id, str(exc), "interrupted")
        hint = f"; resume with 'zoo train --resume {run_id}'" if run_id is not None else ""
        raise TrainingInterrupted(f"{exc}{hint}", epoch=exc.epoch, step=exc.step) from None
    except NonFiniteLoss as exc:
        _end_run(store, run_id, str(exc), "failed")
        last = load_resume_point(control.state_dir) if control.state_dir else None
        kept = f"; the last good state (epoch {last.epoch}) is in {control.state_dir}" if last else ""
        raise ZooError(f"{exc}{kept}") from None
    except KeyboardInterrupt:
        _end_run(store, run_id, "interrupted by the user", "interrupted")
        raise
    except BaseException as exc:
        _end_run(store, run_id, f"{type(exc).__name__}: {exc}", "failed")
        raise
    if store is not None and run_id is not None:
        store.log_metrics(run_id, {k: float(v) for k, v in metrics.items()})
        store.add_artifact(run_id, "checkpoint", str(checkpoint.weights), checkpoint.metadata["weights_sha256"])
        store.finish_run(run_id)
    return TrainResult(
        run_id=run_id, model=spec.name, backend=spec.backend, dataset=dataset_spec.name, config=config,
        history=tuple(fit.history), test=evaluation, checkpoint=checkpoint,
        environment={**environment, "device": fit.device}, seconds=time.perf_counter() - started,
    )

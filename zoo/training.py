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
import tempfile
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
    ModelSummary,
    Preprocessing,
    SilentProgress,
    TrainingData,
    TrainingProgress,
)
from zoo.checkpoint import SIDECAR_NAME, Checkpoint, save_checkpoint
from zoo.config import RUNTIME_SETTINGS, TrainConfig
from zoo.data.arrays import Dataset, Split, split_validation
from zoo.data.datasets import dataset_identity
from zoo.environment import core_environment
from zoo.errors import DiskFull, NonFiniteLoss, TrainingInterrupted, UsageError, ZooError
from zoo.locks import FolderLock, lock_folder, probe_folder
from zoo.memory import check_training_batch, out_of_memory
from zoo.metrics import Evaluation, evaluate_probabilities
from zoo.models import get_backend, training_input_size
from zoo.registry import get_registry
from zoo.resume import ResumePoint, RunControl, load_resume_point
from zoo.run_folders import create_run_folder, default_root, highest_folder_id, orphaned_folders_note, run_folder_name
from zoo.specs import DatasetSpec, ModelSpec
from zoo.timing import PhaseClock, run_figures

VERSION_KEYS = ("zoo", "framework", "keras_backend", "torch", "timm", "keras", "tensorflow", "jax", "device_name")
STATE_DIR = "state"
# Scoring needs no activations kept for a backward pass: a larger batch than training's is fine, up to a point.
PREDICT_BATCH = (256, 1024)


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


@dataclass(frozen=True)
class _Prepared:
    """Everything a run needs, loaded and checked before anything is written."""

    arrays: Dataset
    data: TrainingData
    test: Split
    summary: ModelSummary
    data_seconds: float


def _prepare(
    spec: ModelSpec, dataset_spec: DatasetSpec, backend: Backend, config: TrainConfig,
    environment: dict[str, str], data_dir: str | Path | None,
) -> _Prepared:
    """Load the data and check shapes and memory: bad input fails here, before any record or folder."""
    from zoo.data import load_dataset

    loading = time.perf_counter()
    arrays = load_dataset(dataset_spec, data_dir=data_dir)
    data, test = prepare_data(spec, arrays, config)
    data_seconds = time.perf_counter() - loading
    if len(data.train) == 0:
        raise UsageError(f"no training images left for {spec.name} after --limit and --val-split; raise --limit "
                         "or lower --val-split")
    height, width = data.preprocessing.input_size
    with out_of_memory(batch_size=None, what=f"building {spec.name} at {height}x{width}"):
        summary = backend.summarize(spec, num_classes=data.num_classes,
                                    input_shape=(data.preprocessing.in_chans, height, width))
    check_training_batch(summary, batch_size=config.batch_size, train_images=len(data.train),
                         what=f"{spec.name} at {height}x{width}", device=environment.get("device", config.device))
    return _Prepared(arrays, data, test, summary, data_seconds)


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


def check_output_unused(directory: Path, *, overwrite: bool, locked: bool = False) -> None:
    """Refuse an ``--output`` folder another process is writing (unless this one holds its lock,
    ``locked``), or one holding a run's files (unless ``overwrite``): a checkpoint is never replaced
    silently."""
    if not locked:
        probe_folder(directory)
    if overwrite or not directory.is_dir():
        return
    sidecar = directory / SIDECAR_NAME
    if sidecar.is_file():
        try:
            meta = json.loads(sidecar.read_text(encoding="utf-8"))
            held = f"a checkpoint of {meta['model']} on {meta['dataset']}"
        except (OSError, ValueError, KeyError, TypeError):
            held = "a checkpoint"
    elif (directory / STATE_DIR / "last.json").is_file():
        held = "an unfinished run's training state"
    else:
        return
    raise UsageError(f"{directory} already holds {held}; pass --overwrite to replace it, or choose another --output")


def _clear_previous_run(directory: Path) -> None:
    """``--overwrite``: drop the previous run's training states, so that its ``best.json`` cannot stand for
    the new run's best epoch. Its checkpoint stays until the new one replaces it, atomically."""
    state = directory / STATE_DIR
    if state.is_dir():
        shutil.rmtree(state)


def check_free_space(directory: Path, spec: ModelSpec, param_count: int) -> None:
    """Refuse to start when the checkpoints cannot fit: about 32 bytes per parameter
    (fp32 weights plus two Adam moments in the last and the best state, and the final weights)."""
    needed = param_count * 32
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:  # nothing is created yet: a nameless temporary file shows whether it could be
        with tempfile.TemporaryFile(dir=existing if existing.is_dir() else existing.parent):
            pass
    except OSError as exc:
        raise ZooError(f"cannot write to output directory {directory} ({exc.strerror or exc}); "
                       "pass --output DIR") from None
    free = shutil.disk_usage(existing).free
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


@contextlib.contextmanager
def stop_at_once_on_signals() -> Iterator[None]:
    """After the last epoch (its state saved), SIGINT/SIGTERM stop scoring and checkpointing at once:
    nothing is lost (the checkpoint is written atomically) and a resume redoes just that part."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

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
    overwrite: bool = False,
) -> TrainResult:
    """Train ``model`` on ``dataset``, score it on the test split, checkpoint and record it.

    ``config`` replaces the model's default recipe; ``overrides`` (``None`` values
    ignored) adjust the recipe instead. The run is recorded in the run store
    unless ``record`` is False. Ctrl-C saves a resumable state and raises
    :class:`~zoo.errors.TrainingInterrupted`; see :func:`resume_training`.

    Everything that can be wrong with the request (names, shapes, memory, free space)
    is checked before a run record or folder exists. The run folder is locked while the
    run writes into it; an ``output`` folder that holds a checkpoint is refused unless
    ``overwrite``.
    """
    from zoo.runs import RunStore

    spec = get_registry().model(model).spec
    config = config or TrainConfig.build(spec.recipe, overrides)
    dataset_spec = get_registry().dataset(dataset).spec
    backend = get_backend(spec.backend)
    target = Path(output) if output is not None else None
    if target is not None:
        check_output_unused(target, overwrite=overwrite)
    environment = {**core_environment(), **backend.environment(config.device)}
    recipe = config.recipe()
    prepared = _prepare(spec, dataset_spec, backend, config, environment, data_dir)
    root = default_root()
    check_free_space(target or root, spec, prepared.summary.param_count)
    store = RunStore() if record else None
    if store is not None and (note := orphaned_folders_note(store)):
        print(f"zoo: warning: {note}", file=sys.stderr, flush=True)
    run_id: int | None = None
    lock: FolderLock | None = None
    try:
        if target is not None:
            check_output_dir(target)
            lock = lock_folder(target)
            check_output_unused(target, overwrite=overwrite, locked=True)  # again: no other run can start here now
            if overwrite:
                _clear_previous_run(target)
        if store is not None:
            run_id = store.start_run(
                model=spec.name, backend=spec.backend, dataset=dataset_spec.name, recipe=recipe,
                environment=environment,
                reuse_key=reuse_key(spec.name, dataset_identity(dataset_spec), recipe, environment),
                output_dir=None if target is None else str(target), after_id=highest_folder_id(root),
            )
        if target is None:
            name = run_folder_name(run_id or int(time.time()), spec.name, dataset_spec.name)
            directory = create_run_folder(root, name)
            lock = lock_folder(directory)
            if store is not None and run_id is not None:
                store.set_output_dir(run_id, str(directory))
        else:
            directory = target
    except BaseException as exc:
        _end_run(store, run_id, f"{type(exc).__name__}: {exc}", "failed")
        if lock is not None:
            lock.release()
        raise
    return _execute(spec, dataset_spec, backend, config, environment, directory, store, run_id,
                    prepared=prepared, progress=progress, resume=None, lock=lock)


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
    if point.run_id is not None and point.run_id != record.id:
        raise ZooError(f"{directory / STATE_DIR} now holds run {point.run_id}'s state (the folder was overwritten); "
                       f"run {record.id} cannot be resumed, start a new run")
    spec = get_registry().model(record.model).spec
    dataset_spec = get_registry().dataset(record.dataset).spec
    runtime = {k: v for k, v in (overrides or {}).items() if v is not None}
    config = TrainConfig.build(record.recipe, runtime)
    backend = get_backend(spec.backend)
    environment = {**core_environment(), **backend.environment(config.device)}
    prepared = _prepare(spec, dataset_spec, backend, config, environment, data_dir)
    lock = lock_folder(directory, fix="wait for it to end")
    try:
        store.reopen_run(record.id)
    except BaseException:
        lock.release()
        raise
    return _execute(spec, dataset_spec, backend, config, environment, directory, store, record.id,
                    prepared=prepared, progress=progress, resume=point, lock=lock)


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
    prepared: _Prepared,
    progress: TrainingProgress | None,
    resume: ResumePoint | None,
    lock: FolderLock | None,
) -> TrainResult:
    shown: TrainingProgress = progress or SilentProgress()
    if store is not None and run_id is not None:
        shown = _RecordingProgress(shown, store, run_id)
    control = RunControl(state_dir=directory / STATE_DIR, save_every=config.save_every, resume=resume, run_id=run_id)
    data, test, arrays = prepared.data, prepared.test, prepared.arrays
    hint = f"; resume with 'zoo train --resume {run_id}'" if run_id is not None else ""
    started = time.perf_counter()
    clock = PhaseClock()
    alive = store.keep_alive(run_id) if store is not None and run_id is not None else contextlib.nullcontext()
    try:
        with alive:
            with stop_on_signals(control), out_of_memory(batch_size=config.batch_size, what=f"training {spec.name}"):
                fit = backend.fit(spec, data, config, shown, control)
            with stop_at_once_on_signals():
                if control.stop_requested():  # Ctrl-C after the last step: the last epoch's state is saved
                    raise TrainingInterrupted(f"training stopped after its last epoch, before the test split was "
                                              f"scored and the checkpoint written{_kept_state(control)}",
                                              epoch=config.epochs)
                with clock.phase("test"), out_of_memory(batch_size=None, what=f"scoring {len(test):,} test images"):
                    probabilities = backend.predict_proba(
                        fit.model, test.images, data.preprocessing, device=config.device,
                        batch_size=min(max(config.batch_size, PREDICT_BATCH[0]), PREDICT_BATCH[1]),
                    )
                    evaluation = evaluate_probabilities(probabilities, test.labels, data.num_classes)
                metrics = {"top1": evaluation.top1, "top5": evaluation.top5, "test_loss": evaluation.loss,
                           "test_count": evaluation.count, "train_seconds": fit.seconds,
                           "param_count": prepared.summary.param_count, "macs": prepared.summary.macs,
                           "data_seconds": prepared.data_seconds, "test_seconds": clock.seconds["test"],
                           **run_figures(fit.history, train_count=len(data.train), batch_size=config.batch_size,
                                         resumed_epoch=resume.epoch + 1 if resume is not None else None,
                                         resumed_step=resume.step if resume is not None else 0)}
                if fit.history and fit.history[-1].val_accuracy is not None:
                    metrics["val_accuracy"] = fit.history[-1].val_accuracy
                checkpoint = save_checkpoint(
                    directory, backend=backend, model=fit.model, spec=spec, dataset=dataset_spec.name,
                    classes=arrays.spec.classes, image_shape=tuple(arrays.train.images.shape[1:]),
                    preprocessing=data.preprocessing, recipe=config.recipe(),
                    environment={**environment, "device": fit.device}, metrics=metrics, run_id=run_id,
                )
                if store is not None and run_id is not None:
                    store.log_metrics(run_id, {k: float(v) for k, v in metrics.items()})
                    if fit.extra.get("execution"):
                        store.set_execution(run_id, str(fit.extra["execution"]))
                    store.add_artifact(run_id, "checkpoint", str(checkpoint.weights),
                                       checkpoint.metadata["weights_sha256"])
                    store.finish_run(run_id)
    except TrainingInterrupted as exc:
        _end_run(store, run_id, str(exc), "interrupted")
        raise TrainingInterrupted(f"{exc}{hint}", epoch=exc.epoch, step=exc.step) from None
    except NonFiniteLoss as exc:
        _end_run(store, run_id, str(exc), "failed")
        raise ZooError(f"{exc}{_kept_state(control)}") from None
    except DiskFull as exc:
        _end_run(store, run_id, str(exc), "failed")
        kept = _kept_state(control)
        raise DiskFull(f"{exc}{kept}{hint if kept.startswith('; the last') else ''}") from None
    except KeyboardInterrupt:  # a second Ctrl-C, or one while scoring and checkpointing
        _end_run(store, run_id, "interrupted by the user", "interrupted")
        kept = _kept_state(control)
        resumable = kept.startswith("; the last")
        raise TrainingInterrupted(f"interrupted{kept}{hint if resumable else '; start the run again'}") from None
    except BaseException as exc:
        _end_run(store, run_id, f"{type(exc).__name__}: {exc}", "failed")
        raise
    finally:
        if lock is not None:
            lock.release()
    return TrainResult(
        run_id=run_id, model=spec.name, backend=spec.backend, dataset=dataset_spec.name, config=config,
        history=tuple(fit.history), test=evaluation, checkpoint=checkpoint,
        environment={**environment, "device": fit.device}, seconds=time.perf_counter() - started,
    )


def _kept_state(control: RunControl) -> str:
    """``; the last good state (epoch E) is in DIR``, or that none was saved yet."""
    try:
        last = load_resume_point(control.state_dir) if control.state_dir else None
    except ZooError:
        last = None
    if last is None:
        return "; no training state was saved yet"
    where = f"epoch {last.epoch}" + (f", step {last.step}" if last.step else "")
    return f"; the last good state ({where}) is in {control.state_dir}"

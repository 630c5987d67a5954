"""``zoo.train``: one run end to end — resolve, load data, fit, score, checkpoint, record.

``execute_run`` is the part a resumed run shares (``zoo.run.resuming``). The checks of
a request (``zoo.run.plan``, ``zoo.run.outputs``) all run before a record or a folder
exists; the bookkeeping goes through a :class:`~zoo.run.recorder.Recorder`.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from zoo.api.backend import EpochMetrics, SilentProgress, TrainingProgress
from zoo.api.config import TrainConfig
from zoo.api.control import ResumePoint, RunControl
from zoo.api.errors import DiskFull, NonFiniteLoss, TrainingInterrupted, ZooError
from zoo.run.checkpoint import Checkpoint, save_checkpoint
from zoo.run.distributed import resume_flags
from zoo.run.folders import create_run_folder, default_root, highest_folder_id, orphaned_folders_note, run_folder_name
from zoo.run.locks import FolderLock, lock_folder
from zoo.run.memory import out_of_memory
from zoo.run.metrics import Evaluation, evaluate_probabilities
from zoo.run.outputs import STATE_DIR, check_free_space, check_output_dir, check_output_unused, clear_previous_run
from zoo.run.plan import PreparedRun, RunPlan, plan_run, prepare_run
from zoo.run.recorder import NoRecorder, Recorder, StoreRecorder
from zoo.run.signals import stop_at_once_on_signals, stop_on_signals
from zoo.run.states import load_resume_point, run_control
from zoo.run.timing import PhaseClock, run_figures

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
    note: str | None = None  # said after the result (a converted run trained on: fresh optimizer state)


@dataclass(frozen=True)
class Continuation:
    """A converted run trained on (``zoo.run.converted``): what it records instead of the fit's own view.

    The backend trains the added epochs as a run of its own (epochs 1..k); they are recorded as
    ``epochs_before + 1 ..``, the checkpoint and record get ``recipe`` (the whole run's), the sidecar
    keeps ``converted_from`` and the run's fit details add ``details``.
    """

    recipe: dict[str, Any]
    epochs_before: int
    converted_from: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)
    note: str | None = None


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
    :class:`~zoo.api.TrainingInterrupted`; see :func:`zoo.run.resuming.resume_training`.

    Everything that can be wrong with the request (names, shapes, memory, free space)
    is checked before a run record or folder exists. The run folder is locked while the
    run writes into it; an ``output`` folder that holds a checkpoint is refused unless
    ``overwrite``.
    """
    target = Path(output) if output is not None else None
    if target is not None:
        check_output_unused(target, overwrite=overwrite)
    plan = plan_run(model, dataset, config, overrides=overrides)
    return train_prepared(prepare_run(plan, data_dir), output=target, progress=progress, record=record,
                          overwrite=overwrite)


def train_prepared(
    prepared: PreparedRun,
    *,
    output: Path | None = None,
    progress: TrainingProgress | None = None,
    record: bool = True,
    overwrite: bool = False,
) -> TrainResult:
    """Train a run whose data is loaded and checked (:func:`zoo.run.plan.prepare_run`): its folder and
    record are made here, then :func:`train` goes on as described there."""
    from zoo.run.store import RunStore

    plan = prepared.plan
    root = default_root()
    check_free_space(output or root, plan.spec, prepared.summary.param_count)
    store = RunStore() if record else None
    if store is not None and (note := orphaned_folders_note(store)):
        print(f"zoo: warning: {note}", file=sys.stderr, flush=True)
    recorder: Recorder = NoRecorder()
    lock: FolderLock | None = None
    try:
        if output is not None:
            check_output_dir(output)
            lock = lock_folder(output)
            check_output_unused(output, overwrite=overwrite, locked=True)  # again: no other run can start here now
            if overwrite:
                clear_previous_run(output)
        if store is not None:
            run_id = store.start_run(
                model=plan.spec.name, backend=plan.spec.backend, dataset=plan.dataset.name, recipe=plan.recipe,
                environment=plan.environment, reuse_key=prepared.reuse_key,
                output_dir=None if output is None else str(output), after_id=highest_folder_id(root),
            )
            recorder = StoreRecorder(store, run_id)
        if output is None:
            name = run_folder_name(recorder.run_id or int(time.time()), plan.spec.name, plan.dataset.name)
            directory = create_run_folder(root, name)
            lock = lock_folder(directory)
            if store is not None and recorder.run_id is not None:
                store.set_output_dir(recorder.run_id, str(directory))
        else:
            directory = output
    except BaseException as exc:
        recorder.end(f"{type(exc).__name__}: {exc}", "failed")
        if lock is not None:
            lock.release()
        raise
    return execute_run(prepared, directory, recorder, progress=progress, resume=None, lock=lock)


def execute_run(
    prepared: PreparedRun,
    directory: Path,
    recorder: Recorder,
    *,
    progress: TrainingProgress | None,
    resume: ResumePoint | None,
    lock: FolderLock | None,
    continuation: Continuation | None = None,
) -> TrainResult:
    plan, data, test = prepared.plan, prepared.data, prepared.test
    spec, config, backend = plan.spec, plan.config, plan.backend
    run_id = recorder.run_id
    shown = recorder.progress(progress or SilentProgress())
    before = continuation.epochs_before if continuation is not None else 0
    if before:
        shown = _ShiftedProgress(shown, before)
    control = run_control(directory / STATE_DIR, run_id=run_id, save_every=config.save_every, resume=resume)
    flags = resume_flags(plan.environment)
    hint = f"; resume with 'zoo train --resume {run_id}{flags}'" if run_id is not None else ""
    if " --node-rank" in hint:
        hint += " on every node, each with its own --node-rank"
    started = time.perf_counter()
    clock = PhaseClock()
    try:
        with recorder.keep_alive():
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
                metrics = _run_metrics(prepared, fit.seconds, fit.history, evaluation, clock, resume)
                checkpoint = save_checkpoint(
                    directory, backend=backend, model=fit.model, spec=spec, dataset=plan.dataset.name,
                    classes=prepared.arrays.spec.classes, image_shape=tuple(prepared.arrays.train.images.shape[1:]),
                    preprocessing=data.preprocessing,
                    recipe=continuation.recipe if continuation is not None else config.recipe(),
                    environment={**plan.environment, "device": fit.device}, metrics=metrics, run_id=run_id,
                    converted_from=continuation.converted_from if continuation is not None else None,
                )
                details = {**fit.extra, **(continuation.details if continuation is not None else {})}
                recorder.finish(metrics, details, checkpoint)
    except TrainingInterrupted as exc:
        recorder.end(str(exc), "interrupted")
        raise TrainingInterrupted(f"{exc}{hint}", epoch=exc.epoch, step=exc.step) from None
    except NonFiniteLoss as exc:
        recorder.end(str(exc), "failed")
        raise ZooError(f"{exc}{_kept_state(control)}") from None
    except DiskFull as exc:
        recorder.end(str(exc), "failed")
        kept = _kept_state(control)
        raise DiskFull(f"{exc}{kept}{hint if kept.startswith('; the last') else ''}") from None
    except KeyboardInterrupt:  # a second Ctrl-C, or one while scoring and checkpointing
        recorder.end("interrupted by the user", "interrupted")
        kept = _kept_state(control)
        resumable = kept.startswith("; the last")
        raise TrainingInterrupted(f"interrupted{kept}{hint if resumable else '; start the run again'}") from None
    except BaseException as exc:
        recorder.end(f"{type(exc).__name__}: {exc}", "failed")
        raise
    finally:
        if lock is not None:
            lock.release()
    return TrainResult(
        run_id=run_id, model=spec.name, backend=spec.backend, dataset=plan.dataset.name, config=config,
        history=tuple(replace(m, epoch=m.epoch + before) for m in fit.history), test=evaluation,
        checkpoint=checkpoint, environment={**plan.environment, "device": fit.device},
        seconds=time.perf_counter() - started, note=continuation.note if continuation is not None else None,
    )


class _ShiftedProgress:
    """Progress of epochs 1..k shown and recorded as ``by + 1 .. by + k`` (a converted run trained on)."""

    def __init__(self, inner: TrainingProgress, by: int) -> None:
        self.inner, self.by = inner, by

    def start_epoch(self, epoch: int, epochs: int, steps: int) -> None:
        self.inner.start_epoch(epoch + self.by, epochs + self.by, steps)

    def advance(self, steps: int = 1) -> None:
        self.inner.advance(steps)

    def end_epoch(self, metrics: EpochMetrics) -> None:
        self.inner.end_epoch(replace(metrics, epoch=metrics.epoch + self.by))


def _run_metrics(prepared: PreparedRun, fit_seconds: float, history: list[EpochMetrics], evaluation: Evaluation,
                 clock: PhaseClock, resume: ResumePoint | None) -> dict[str, Any]:
    """The run's figures as recorded: scores, size, phase seconds and the steady-state speed."""
    metrics = {"top1": evaluation.top1, "top5": evaluation.top5, "test_loss": evaluation.loss,
               "test_count": evaluation.count, "train_seconds": fit_seconds,
               "param_count": prepared.summary.param_count, "macs": prepared.summary.macs,
               "data_seconds": prepared.data_seconds, "test_seconds": clock.seconds["test"],
               **run_figures(history, train_count=len(prepared.data.train), batch_size=prepared.plan.config.batch_size,
                             resumed_epoch=resume.epoch + 1 if resume is not None else None,
                             resumed_step=resume.step if resume is not None else 0)}
    if history and history[-1].val_accuracy is not None:
        metrics["val_accuracy"] = history[-1].val_accuracy
    return metrics


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


__all__ = ["RunPlan", "TrainResult", "execute_run", "plan_run", "train", "train_prepared"]

"""Converted checkpoints as runs: ``zoo convert`` registers its result, ``zoo train --resume`` trains it on.

A conversion is recorded as a finished run of the twin model (other backend) with the source's
dataset and recipe, the source's epochs without their timings (no training happened here), its
test scores, and ``converted_from`` (source run, checkpoint, backend, parity) in its fit details.
Its reuse key is the one a run of the twin with that recipe would get, so ``zoo compare`` reuses
it for the twin like any other finished run.

``zoo train --resume RUN --epochs N`` trains it on in the new framework up to epoch N: the
backend starts from the run's checkpoint through the ``pretrained`` hook of the plugin API (the
loader below copies the weights with :class:`zoo.api.ConvertibleBackend`), with a fresh optimizer
state; the epochs are recorded after the ones already done. The continued run gets a reuse key of
its own: it is no longer what its recipe alone would train, so ``compare`` does not take it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.api.atomic import atomic_write_text
from zoo.api.backend import TrainingProgress
from zoo.api.config import RUNTIME_SETTINGS, TrainConfig
from zoo.api.errors import UsageError, ZooError
from zoo.run.checkpoint import SIDECAR_NAME, Checkpoint
from zoo.run.records import RESUMABLE_STATUSES, RunRecord

if TYPE_CHECKING:
    from zoo.run.store import RunStore
    from zoo.run.training import TrainResult

LOADER = "zoo.run.converted:load_run_weights"
# Epoch figures that time a training which did not happen in the converted run: left empty.
TIMINGS = ("images_per_sec", "seconds", "warmup_steps", "warmup_seconds", "steady_images_per_sec")
SCORES = ("top1", "top5", "test_loss", "test_count", "val_accuracy")  # the source's, kept (same predictions)
FRESH_OPTIMIZER = "fresh optimizer state from the converted weights (optimizer states are not converted)"


def source_record(store: RunStore, checkpoint: Checkpoint) -> RunRecord | None:
    """The run of ``store`` that wrote ``checkpoint`` (its sidecar's ``run_id``, same folder), else None."""
    run_id = checkpoint.metadata.get("run_id")
    if not isinstance(run_id, int) or isinstance(run_id, bool):
        return None
    try:
        record = store.get(run_id)
    except UsageError:
        return None
    if not record.output_dir or Path(record.output_dir).resolve() != checkpoint.directory.resolve():
        return None
    return record


def reuse_key_of(model: str, checkpoint: Checkpoint) -> tuple[str, dict[str, str], dict[str, float]]:
    """(reuse key, environment, size figures) that a run of ``model`` with ``checkpoint``'s dataset and
    recipe would record here; a key that matches nothing when the dataset is not installed."""
    from zoo.run.plan import plan_run

    meta = checkpoint.metadata
    pre = checkpoint.preprocessing
    try:
        plan = plan_run(model, str(meta["dataset"]), TrainConfig.build(dict(meta.get("recipe") or {})))
    except ZooError:
        return f"converted-{meta['weights_sha256'][:16]}", {}, {}
    summary = plan.backend.summarize(plan.spec, num_classes=len(checkpoint.classes),
                                     input_size=(pre.in_chans, *pre.img_size))
    sizes = {"param_count": float(summary.param_count), "macs": float(summary.macs)}
    return plan.reuse_key(summary), plan.environment, sizes


def register(source: Checkpoint, target: Checkpoint, parity: dict[str, Any] | None,
             store: RunStore | None = None) -> int:
    """Record ``target`` (converted from ``source``) as a finished run; write its id into its sidecar."""
    from zoo.run.store import RunStore

    store = store or RunStore()
    record = source_record(store, source)
    epochs = [{k: (None if k in TIMINGS else v) for k, v in epoch.items()}
              for epoch in (record.epochs if record else [])]
    done = len(epochs) if record else int((source.metadata.get("recipe") or {}).get("epochs") or 0)
    origin = {**dict(target.metadata.get("converted_from") or {}),
              "run_id": record.id if record else None, "epochs": done}
    key, environment, sizes = reuse_key_of(target.model, target)
    scores = {k: float(v) for k, v in dict(source.metadata.get("metrics") or {}).items()
              if k in SCORES and isinstance(v, (int, float))}
    figures = {f"conversion_{k}": float(v) for k, v in (parity or {}).items() if isinstance(v, (int, float))}
    run_id = store.record_conversion(
        model=target.model, backend=str(target.metadata["backend"]), dataset=str(target.metadata["dataset"]),
        recipe=dict(target.metadata.get("recipe") or {}),
        environment=environment or dict(target.metadata.get("environment") or {}), reuse_key=key,
        output_dir=target.directory, epochs=epochs, metrics={**scores, **sizes, **figures},
        artifacts=[("checkpoint", str(target.weights.resolve()), str(target.metadata["weights_sha256"]))],
        converted_from=origin,
    )
    metadata = {**target.metadata, "run_id": run_id, "converted_from": origin}
    atomic_write_text(target.directory / SIDECAR_NAME, json.dumps(metadata, indent=2) + "\n")
    return run_id


def epochs_done(record: RunRecord) -> int:
    """Epochs a converted run has behind it: its last recorded one, else the source's count."""
    origin = record.converted_from or {}
    return max((int(e["epoch"]) for e in record.epochs), default=int(origin.get("epochs") or 0))


def train_on(store: RunStore, record: RunRecord, *, overrides: dict[str, Any] | None,
             data_dir: str | Path | None, progress: TrainingProgress | None) -> TrainResult:
    """``zoo train --resume`` on a converted run: a finished one trains on to ``epochs`` (above the epochs
    done) from its checkpoint; an interrupted continuation resumes from its saved state."""
    from zoo.run.locks import lock_folder
    from zoo.run.outputs import STATE_DIR
    from zoo.run.plan import plan_run, prepare_run
    from zoo.run.recorder import StoreRecorder
    from zoo.run.states import load_resume_point
    from zoo.run.training import Continuation, execute_run

    origin = dict(record.converted_from or {})
    settings = {k: v for k, v in (overrides or {}).items() if v is not None}
    target = settings.pop("epochs", None)
    changed = sorted(k for k in settings if k not in RUNTIME_SETTINGS)
    if changed:
        names = ", ".join(f"`{k}`" for k in changed)
        raise UsageError(f"run {record.id} ({record.origin}) trains on with its recipe: drop {names} (only "
                         f"`epochs` and {', '.join(f'`{k}`' for k in RUNTIME_SETTINGS)} may be given)")
    if not record.output_dir:
        raise ZooError(f"run {record.id} recorded no output directory; convert its source again")
    directory = Path(record.output_dir)
    if record.status == "finished":
        before = epochs_done(record)
        if target is None or target <= before:
            raise UsageError(f"run {record.id} is {record.origin} after {before} epoch(s); pass --epochs N above "
                             f"{before} to train it on in {record.backend}")
        point, recipe = None, {**record.recipe, "epochs": int(target)}
    elif record.status in RESUMABLE_STATUSES and "continuation" in record.fit_details:
        if target is not None:
            raise UsageError(f"run {record.id} resumes the epochs it was training to; leave out `epochs`")
        before, recipe = int(record.fit_details["continuation"]["epochs_before"]), record.recipe
        point = load_resume_point(directory / STATE_DIR)
        if point is None or point.run_id != record.id:
            raise ZooError(f"run {record.id} saved no training state in {directory / STATE_DIR}; convert its "
                           "source again")
    else:
        raise UsageError(f"run {record.id} is {record.status}; a converted run trains on once finished")
    config = TrainConfig.build(recipe, {"epochs": int(recipe["epochs"]) - before}, settings)
    plan = plan_run(record.model, record.dataset, config)
    if point is None:  # the backend builds the model and loads the run's weights through the pretrained hook
        plan = replace(plan, spec=replace(plan.spec, pretrained=LOADER),
                       config=config.with_changes(pretrained=True, weights=str(directory)))
    prepared = prepare_run(plan, data_dir)
    details = {"converted_from": origin, "continuation": {"epochs_before": before, "epochs": recipe["epochs"],
                                                          "optimizer": "fresh"}}
    lock = lock_folder(directory, fix="wait for it to end")
    try:
        if point is None:
            store.continue_run(record.id, recipe=recipe, reuse_key=f"continued-{record.id}-{recipe['epochs']}")
        else:
            store.reopen_run(record.id)
        store.set_fit_details(record.id, details)
    except BaseException:
        lock.release()
        raise
    continuation = Continuation(recipe=recipe, epochs_before=before, converted_from=origin, details=details,
                                note=f"run {record.id}: epochs {before + 1}-{recipe['epochs']} trained on "
                                     f"{record.backend}, {FRESH_OPTIMIZER}")
    return execute_run(prepared, directory, StoreRecorder(store, record.id), progress=progress, resume=point,
                    lock=lock, continuation=continuation)


def load_run_weights(model: Any, *, weights: str | None = None) -> None:
    """The pretrained hook of a converted run trained on: copy the checkpoint in folder ``weights``
    (verified, read without unpickling) into ``model``, built by the same backend."""
    from zoo.run.checkpoint import load_checkpoint

    if weights is None:
        raise UsageError("a converted run trains on from its checkpoint folder; none was given")
    _checkpoint, _spec, backend, loaded = load_checkpoint(weights)
    backend.set_weights(model, backend.get_weights(loaded))

"""``resume_training``: continue an interrupted, crashed or failed run from its last saved state, in the same
output directory and run record; or train a converted run on (:mod:`zoo.run.converted`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.api.backend import TrainingProgress
from zoo.api.config import RUNTIME_SETTINGS, TrainConfig
from zoo.api.errors import UsageError, ZooError
from zoo.run.converted import train_on
from zoo.run.locks import lock_folder
from zoo.run.outputs import STATE_DIR
from zoo.run.plan import plan_run, prepare_run
from zoo.run.recorder import StoreRecorder
from zoo.run.records import require_resumable
from zoo.run.states import load_resume_point
from zoo.run.training import TrainResult, execute_run


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
    from zoo.run.store import RunStore

    store = RunStore()
    record = store.get(store.resolve(ref))
    if record.converted_from is not None:  # a checkpoint zoo convert registered: trained on in its new framework
        return train_on(store, record, overrides=overrides, data_dir=data_dir, progress=progress)
    require_resumable(record.id, record.status)
    changed = {k for k, v in (overrides or {}).items() if v is not None and k not in RUNTIME_SETTINGS}
    if changed:
        settings = ", ".join(f"`{k}`" for k in sorted(changed))
        names = [f"`{k}`" for k in RUNTIME_SETTINGS]
        allowed = ", ".join(names[:-1]) + " and " + names[-1]
        raise UsageError(f"`resume` continues run {record.id}'s recipe; drop {settings} (only {allowed} may change)")
    if not record.output_dir:
        raise ZooError(f"run {record.id} recorded no output directory; it cannot be resumed")
    directory = Path(record.output_dir)
    point = load_resume_point(directory / STATE_DIR)
    if point is None:
        raise ZooError(f"run {record.id} saved no training state in {directory / STATE_DIR}; start a new run")
    if point.run_id is not None and point.run_id != record.id:
        raise ZooError(f"{directory / STATE_DIR} now holds run {point.run_id}'s state (the folder was overwritten); "
                       f"run {record.id} cannot be resumed, start a new run")
    runtime = {k: v for k, v in (overrides or {}).items() if v is not None}
    plan = plan_run(record.model, record.dataset, TrainConfig.build(record.recipe, runtime))
    prepared = prepare_run(plan, data_dir)
    lock = lock_folder(directory, fix="wait for it to end")
    try:
        store.reopen_run(record.id)
    except BaseException:
        lock.release()
        raise
    return execute_run(prepared, directory, StoreRecorder(store, record.id), progress=progress, resume=point,
                    lock=lock)

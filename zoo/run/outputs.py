"""A run's output folder: writable, not in use, not holding another run's files, room for the checkpoints.

Every check here runs before a run record or folder exists, so a refusal leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from zoo.api.errors import UsageError, ZooError
from zoo.api.specs import ModelSpec
from zoo.run.checkpoint import SIDECAR_NAME
from zoo.run.locks import probe_folder

STATE_DIR = "state"


def check_output_dir(directory: Path) -> None:
    """Fail before training, not after, when the checkpoint cannot be written."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".zoo-write-test-{os.getpid()}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ZooError(f"cannot write to output directory {directory} ({reason}); pass `output` DIR") from None


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
    raise UsageError(f"{directory} already holds {held}; pass `overwrite` to replace it, or choose another `output`")


def clear_previous_run(directory: Path) -> None:
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
                       "pass `output` DIR") from None
    free = shutil.disk_usage(existing).free
    if free < needed:
        raise ZooError(
            f"{directory} has {free / 1e6:,.1f} MB free but {spec.name}'s checkpoints need about "
            f"{needed / 1e6:,.0f} MB; free some space or pass `output` DIR"
        )

"""A finished run carried from the machine that trained it to the one whose store records it.

A Ray task trains in a private zoo home; :func:`pack_run` turns its record and its folder (checkpoint,
sidecar, saved states) into plain data and one tar archive in memory, which travel through Ray's object
store. :func:`import_packed_run` gives the run a new id in the driver's store and unpacks the folder as
``runs/<id>-<model>-<dataset>`` (created exclusively, never an existing folder); the checkpoint's sidecar
is updated to name the new id.
"""

from __future__ import annotations

import dataclasses
import io
import json
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.api.atomic import atomic_write_text
from zoo.run.folders import SIDECAR, create_run_folder, default_root, run_folder_name

if TYPE_CHECKING:
    from zoo.run.records import RunRecord
    from zoo.run.store import RunStore


def pack_run(record: RunRecord) -> dict[str, Any]:
    """``{"record": ..., "files": tar bytes}`` for a finished run of this host's store."""
    buffer = io.BytesIO()
    if record.output_dir:
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            archive.add(record.output_dir, arcname=".")
    return {"record": dataclasses.asdict(record), "files": buffer.getvalue()}


def import_packed_run(store: RunStore, packed: dict[str, Any], root: Path | None = None) -> int:
    """Record a :func:`pack_run` payload in ``store`` and unpack its files under ``root`` (the runs folder);
    returns the run's id here."""
    record = packed["record"]
    root = root or default_root()

    def place(run_id: int) -> Path:
        folder = create_run_folder(root, run_folder_name(run_id, record["model"], record["dataset"]))
        with tarfile.open(fileobj=io.BytesIO(packed["files"]), mode="r") as archive:
            archive.extractall(folder, filter="data")  # no links out, no absolute paths
        sidecar = folder / SIDECAR
        if sidecar.is_file():
            metadata = json.loads(sidecar.read_text())
            metadata["run_id"] = run_id
            atomic_write_text(sidecar, json.dumps(metadata, indent=2) + "\n")
        return folder

    return store.import_run(record, place)

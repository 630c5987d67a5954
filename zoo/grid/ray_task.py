"""The Ray task of ``zoo compare --executor ray``: one (model, seed) on whichever node Ray picked.

The task trains in a private zoo home (a temporary folder, removed after) so that it never writes to a store
it does not own: the driver's store is the one record. Reuse works as locally: the driver sends the finished
runs it holds for the model, and the task looks its run's key up among them before training. A run trained
here comes back packed (record and files, ``zoo.run.transfer``) through Ray's object store.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

from zoo.api.paths import HOME_ENV
from zoo.grid.jobs import Job


def run_task(job_data: dict[str, Any], known: list[dict[str, Any]]) -> dict[str, Any]:
    """Run the job; ``{"result": JobResult data, "packed": pack_run(...) or None}``."""
    from zoo.grid.worker import execute
    from zoo.run.records import RunRecord
    from zoo.run.store import RunStore
    from zoo.run.transfer import pack_run

    records = {item["reuse_key"]: RunRecord(**item) for item in known}
    home = tempfile.mkdtemp(prefix="zoo-ray-task-")
    before = os.environ.get(HOME_ENV)
    os.environ[HOME_ENV] = home  # Ray reuses a worker process for the next task: restored below
    try:
        result = execute(Job.from_json(job_data), finished=records.get)
        packed = None
        if result.ok and result.source == "measured" and result.run_id is not None:
            packed = pack_run(RunStore().get(result.run_id))
        return {"result": result.to_json(), "packed": packed}
    finally:
        if before is None:
            os.environ.pop(HOME_ENV, None)
        else:
            os.environ[HOME_ENV] = before
        shutil.rmtree(home, ignore_errors=True)

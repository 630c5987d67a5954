"""``zoo compare --executor ray``: each (model, seed) a Ray task, the driver's run store the one record.

The driver reads the finished runs it already holds and sends them with each task (``zoo.grid.ray_task``), so
a rerun reuses them as the local executor does. A task that trained a run returns it packed (record and
folder, through Ray's object store); the driver imports it under a new id (``zoo.run.transfer``). Tasks are
never retried (``max_retries=0``): a task whose worker or node died gives its row a failure with Ray's reason,
and the other tasks finish. Ctrl-C cancels the outstanding tasks (force: their workers are killed, nothing of
theirs reaches the store) and keeps the rows that finished.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from zoo.api.errors import UsageError
from zoo.grid.jobs import Job, JobResult, RayOptions
from zoo.grid.placement import JAX_MEMORY_VARIABLES, ONE_THREAD_XLA

Announce = Callable[[str], None]
# Settings a task inherits from the driver's environment (the run folders' home is the task's own).
PASSED_ON = ("ZOO_CACHE_DIR", "ZOO_DATA_DIR", "TF_CPP_MIN_LOG_LEVEL", "KERAS_BACKEND", "OMP_WAIT_POLICY")


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError("--executor ray needs Ray: pip install 'zoo[ray]' (see docs/distributed.md)") from None
    return ray


def task_environment(num_cpus: float, num_gpus: float | None = None) -> dict[str, str]:
    """Environment variables of each task: the driver's zoo settings, threads as the CPUs it reserved, and
    with a share of a GPU (``--ray-gpus`` below 1) JAX kept from reserving most of it (zoo.grid.placement)."""
    env = {name: os.environ[name] for name in PASSED_ON if name in os.environ}
    env.update({k: v for k, v in os.environ.items() if k.startswith("ZOO_") and k != "ZOO_HOME"})
    threads = str(max(1, int(num_cpus)))
    env.update({name: threads for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                                           "TF_NUM_INTEROP_THREADS")})
    if threads == "1":
        env["XLA_FLAGS"] = ONE_THREAD_XLA
    if num_gpus is not None and 0 < num_gpus < 1 and not any(name in os.environ for name in JAX_MEMORY_VARIABLES):
        env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
    return env


def _known_runs(jobs: Sequence[Job]) -> dict[str, list[dict[str, Any]]]:
    """The driver's finished runs per model, as plain data (what a task may reuse)."""
    from zoo.run.store import RunStore

    store = RunStore()
    known: dict[str, list[dict[str, Any]]] = {}
    for model in {job.model for job in jobs}:
        runs = [] if all(job.rerun for job in jobs) else store.list_runs(model=model, status="finished")
        known[model] = [dataclasses.asdict(run) for run in runs if run.model == model]
    return known


def _failure(exc: BaseException, model: str) -> JobResult:
    """A row's failure from Ray's exception: its kind and first line (a dead worker or node says so)."""
    text = str(exc).strip().splitlines()
    first = next((line for line in text if line.strip()), "")
    return JobResult.failed(f"ray task failed ({type(exc).__name__}): {first[:300]}", model=model)


def run_on_ray(jobs: Sequence[Job], options: RayOptions, *,
               announce: Announce | None = None) -> tuple[list[JobResult], bool]:
    """Run ``jobs`` as Ray tasks; their results in order, and whether Ctrl-C stopped the run."""
    ray = _ray()
    # Ray relays its workers' and raylet's lines to the driver's stdout: keep stdout for the table or JSON.
    with contextlib.redirect_stdout(sys.stderr):
        return _run(ray, jobs, options, announce)


def _run(ray: Any, jobs: Sequence[Job], options: RayOptions,
         announce: Announce | None) -> tuple[list[JobResult], bool]:
    from zoo.grid.ray_task import run_task
    from zoo.run.store import RunStore
    from zoo.run.transfer import import_packed_run

    started_here = not ray.is_initialized()
    if started_here:
        env = task_environment(options.num_cpus, options.num_gpus)
        ray.init(address=options.address, include_dashboard=False, log_to_driver=True, configure_logging=False,
                 runtime_env={"env_vars": env})
    try:
        gpus = options.num_gpus
        if gpus is None:
            gpus = 1.0 if ray.cluster_resources().get("GPU", 0) > 0 else 0.0
        remote = ray.remote(num_cpus=options.num_cpus, num_gpus=gpus, max_retries=0)(run_task)
        known = _known_runs(jobs)
        refs = [remote.remote(job.to_json(), known[job.model]) for job in jobs]
        if announce is not None:
            announce(f"ray: {len(refs)} task(s), {options.num_cpus:g} CPU and {gpus:g} GPU each, on "
                     f"{ray.cluster_resources().get('CPU', 0):g} CPUs")
        index = {ref: position for position, ref in enumerate(refs)}
        results: dict[int, JobResult] = {}
        store = RunStore()
        pending, interrupted = list(refs), False
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    position = index[ref]
                    results[position] = _collect(ray, ref, jobs[position], store, import_packed_run)
        except KeyboardInterrupt:
            interrupted = True
            for ref in pending:
                ray.cancel(ref, force=True)
        missing = JobResult.failed("interrupted by the user: its Ray task was cancelled", status="interrupted")
        return [results.get(n, dataclasses.replace(missing, model=job.model)) for n, job in enumerate(jobs)], \
            interrupted
    finally:
        if started_here:
            ray.shutdown()


def _collect(ray: Any, ref: Any, job: Job, store: Any, import_packed_run: Any) -> JobResult:
    """The finished task's result, its run imported into the driver's store (or its new figures logged)."""
    try:
        answer = ray.get(ref)
    except Exception as exc:  # RayTaskError, WorkerCrashedError, NodeDiedError, TaskCancelledError, ...
        return _failure(exc, job.model)
    result = JobResult.from_json(answer["result"])
    if not result.ok:
        return result
    if answer.get("packed") is not None:
        result = dataclasses.replace(result, run_id=import_packed_run(store, answer["packed"]))
    elif result.run_id is not None and result.throughput_source == "measured":
        numeric = {k: float(v) for k, v in result.metrics.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)}
        store.log_metrics(result.run_id, numeric)
    return result

"""``zoo compare`` and ``zoo bench``: many models, each in a worker process, one table.

Models run grouped by backend, so that one worker process (``zoo.grid.pool``) serves all of
a backend's models in turn; each (model, seed) is one :class:`~zoo.grid.jobs.Job`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from zoo.api.errors import UsageError
from zoo.data.datasets import find_dataset
from zoo.grid.contention import CONTENDED, flag_contended, is_contended, measured_now
from zoo.grid.jobs import BENCH, TRAIN, Job, JobResult, RayOptions, Timing
from zoo.grid.pool import WorkerPool
from zoo.grid.rows import aggregate, bench_row, compile_condition, conditions_from
from zoo.plugins.registry import Registered, get_registry

Announce = Callable[[str], None]


@dataclass
class Comparison:
    """Rows (one per model) plus the conditions they were measured under."""

    rows: list[dict[str, Any]]
    conditions: dict[str, Any]
    interrupted: bool = False
    results: list[JobResult] = field(default_factory=list)


def by_backend(entries: Sequence[Registered[Any]]) -> list[Registered[Any]]:
    """``entries`` grouped by backend (first appearance first), each group in its own order."""
    first: dict[str, int] = {}
    for index, entry in enumerate(entries):
        first.setdefault(entry.spec.backend, index)
    return sorted(entries, key=lambda entry: first[entry.spec.backend])


def _select(patterns: Sequence[str], exclude: Sequence[str], family: str | None = None) -> list[Registered[Any]]:
    entries = get_registry().select_models(patterns, exclude=exclude, family=family)
    if not entries:
        asked = " ".join(patterns) + (f" in family {family}" if family else "")
        raise UsageError(f"no model matches {asked.strip() or '(all)'}; see 'zoo list'")
    return entries


def _run(pool: WorkerPool, backend: str, job: Job) -> JobResult:
    """One job in the backend's worker; Ctrl-C propagates after the worker saved its state."""
    outcome = pool.run(backend, job.to_json())
    return JobResult.from_json(outcome.result).with_wall(outcome.seconds)


def compare(
    patterns: Sequence[str],
    dataset: str,
    *,
    exclude: Sequence[str] = (),
    family: str | None = None,
    seeds: Sequence[int] = (0,),
    overrides: dict[str, Any] | None = None,
    rerun: bool = False,
    data_dir: str | None = None,
    bench_steps: int = 40,
    bench_warmup: int = 10,
    announce: Announce | None = None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
    timeout: float | None = None,
    jobs: int = 1,
    devices: Sequence[str] = (),
    executor: str = "local",
    ray: RayOptions | None = None,
) -> Comparison:
    """Train (or reuse), score and time every matching model on ``dataset``, each in a worker.

    ``jobs`` workers run at once (``zoo.grid.parallel``; ``devices`` shared out among them), or each
    (model, seed) runs as a Ray task with ``executor="ray"`` (``zoo.grid.ray_executor``). Figures measured
    while another job shared the device are flagged ``contended``. Rows are sorted by mean test top-1,
    failures last. Ctrl-C stops after marking the unfinished models interrupted; finished rows are kept.
    """
    entries = _select(patterns, exclude, family)
    find_dataset(dataset, refresh=False)
    settings = {k: v for k, v in (overrides or {}).items() if v is not None}
    timing = Timing(steps=bench_steps, warmup=bench_warmup)
    planned = [(entry, Job(TRAIN, entry.name, {**settings, "seed": seed}, dataset=dataset, data_dir=data_dir,
                           rerun=rerun, timing=timing))
               for entry in by_backend(entries) for seed in seeds]
    pairs = [(entry.spec.backend, job) for entry, job in planned]
    began = time.perf_counter()
    streamed: set[str] = set()  # models whose row on_row has had
    if executor == "ray":
        from zoo.grid.ray_executor import run_on_ray

        results, interrupted = run_on_ray([job for _, job in pairs], ray or RayOptions(), announce=announce)
    elif executor != "local":
        raise UsageError(f"--executor must be local or ray, got {executor!r}")
    elif jobs > 1:
        from zoo.grid.parallel import run_parallel
        from zoo.grid.placement import slots

        results, interrupted = run_parallel(pairs, slots(jobs, devices), announce=announce, timeout=timeout)
    else:  # one job after another: each model's row is handed to on_row as soon as its seeds are done

        def done(index: int, _result: JobResult, results: list[JobResult]) -> None:
            entry = planned[index][0]
            if on_row is not None and (index + 1 == len(planned) or planned[index + 1][0] is not entry):
                mine = results[index + 1 - len(seeds):index + 1]
                streamed.add(entry.name)
                row = aggregate(entry.name, entry.spec.backend, entry.spec.variant, mine)
                on_row({**row, "contended": any(is_contended(r) for r in mine if r.ok)})  # a reused run's flag

        results, interrupted = _run_in_turn(pairs, announce, timeout, done)
    elapsed = time.perf_counter() - began
    results = flag_contended(results)
    _store_contention(results)
    rows: list[dict[str, Any]] = []
    finished: list[JobResult] = []
    for entry in by_backend(entries):
        mine = [result for (owner, _), result in zip(planned, results, strict=False) if owner is entry]
        if not mine:
            continue
        row = aggregate(entry.name, entry.spec.backend, entry.spec.variant, mine, entry.spec.input_size)
        row["contended"] = any(is_contended(r) for r in mine if r.ok)
        rows.append(row)
        finished.extend(r for r in mine if r.ok)
        if on_row is not None and entry.name not in streamed:
            on_row(row)
    rows.sort(key=lambda r: (r["status"] != "ok", -(r.get("top1_pct") or -1.0)))
    conditions = conditions_from(
        finished, dataset=dataset, seeds=list(seeds), compile=compile_condition(settings),
        recipe_overrides=settings, bench_steps=bench_steps, bench_warmup=bench_warmup,
        measured=time.strftime("%Y-%m-%d %H:%M:%S"), executor=executor,
        jobs=jobs if executor == "local" else None, elapsed_s=round(elapsed, 1),
    )
    conditions.setdefault("precision", settings.get("precision", "fp32"))
    conditions.setdefault("batch_size", settings.get("batch_size"))
    return Comparison(rows, conditions, interrupted, finished)


def _run_in_turn(pairs: Sequence[tuple[str, Job]], announce: Announce | None, timeout: float | None,
                 done: Callable[[int, JobResult, list[JobResult]], None]) -> tuple[list[JobResult], bool]:
    """One worker, one job after another (``--jobs 1``); ``done(index, result, results so far)`` after each
    job. Ctrl-C ends the comparison after the current job."""
    results: list[JobResult] = []
    with WorkerPool(announce, timeout) as pool:
        for index, (backend, job) in enumerate(pairs):
            try:
                results.append(_run(pool, backend, job))
            except KeyboardInterrupt:
                results.append(JobResult.failed("interrupted by the user", status="interrupted", model=job.model))
                return results, True
            done(index, results[-1], results)
    return results, False


def _store_contention(results: Sequence[JobResult]) -> None:
    """Record the contended flag with each run that measured under contention, so that reusing it says so."""
    flagged = [r for r in results if r.run_id is not None and is_contended(r) and measured_now(r)]
    if not flagged:
        return
    from zoo.run.store import RunStore

    store = RunStore()
    for result in flagged:
        assert result.run_id is not None
        store.log_metrics(result.run_id, {CONTENDED: 1.0})


def bench(
    patterns: Sequence[str],
    *,
    exclude: Sequence[str] = (),
    input_size: tuple[int, int, int] | None = None,
    batch_size: int = 256,
    overrides: dict[str, Any] | None = None,
    train: bool = True,
    infer: bool = True,
    steps: int = 40,
    warmup: int = 10,
    num_classes: int = 10,
    announce: Announce | None = None,
    timeout: float | None = None,
) -> Comparison:
    """Throughput only, on synthetic inputs, each model in a worker (one per backend); timm-compatible columns."""
    entries = _select(patterns, exclude)
    settings = {k: v for k, v in (overrides or {}).items() if v is not None}
    settings["batch_size"] = batch_size
    rows, finished, interrupted = [], [], False
    order = {entry.name: index for index, entry in enumerate(entries)}
    with WorkerPool(announce, timeout) as pool:
        for entry in by_backend(entries):
            job = Job(BENCH, entry.name, settings, timing=Timing(steps=steps, warmup=warmup),
                      input_size=input_size, num_classes=num_classes, train=train, infer=infer)
            if announce is not None:
                announce(f"{entry.name}: timing")
            try:
                result = _run(pool, entry.spec.backend, job)
            except KeyboardInterrupt:
                result, interrupted = JobResult.failed("interrupted by the user", status="interrupted"), True
            rows.append(bench_row(entry.name, result))
            if result.ok:
                finished.append(result)
            if interrupted:
                break
    rows.sort(key=lambda row: order[row["model"]])  # as listed, whichever backend ran first
    conditions = conditions_from(finished, compile=compile_condition(settings), steps=steps, warmup=warmup,
                                 num_classes=num_classes, measured=time.strftime("%Y-%m-%d %H:%M:%S"))
    conditions.setdefault("precision", settings.get("precision", "fp32"))
    conditions.setdefault("batch_size", batch_size)
    return Comparison(rows, conditions, interrupted, finished)

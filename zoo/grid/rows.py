"""Rows of ``zoo compare`` and ``zoo bench`` from workers' results, and the conditions above them.

Every number in a row says how it was obtained: measured now, or reused from a finished run in the
store (and which).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from typing import Any

from zoo.grid.columns import WALL_PHASES
from zoo.grid.jobs import JobResult


def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def _pct(value: float | None) -> float | None:
    """A stored fraction (0.9311) as the percent every output shows (93.11)."""
    return None if value is None else round(100 * value, 2)


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _mean_of(results: Sequence[JobResult], key: str) -> float | None:
    return _mean_std([r.metrics[key] for r in results if key in r.metrics])[0]


def aggregate(model: str, spec_backend: str, variant: str, results: Sequence[JobResult],
              native_input_size: Sequence[int] = ()) -> dict[str, Any]:
    """One compare row from a model's per-seed results; ``native_input_size`` (C, H, W) is the spec's, shown
    beside the size the model trained at when the recipe resized the data."""
    ok = [r for r in results if r.ok]
    row: dict[str, Any] = {"model": model, "backend": spec_backend, "variant": variant or "-",
                           "native_input_size": "x".join(str(v) for v in native_input_size) or None}
    if not ok:
        failed = next((r for r in results if not r.ok), JobResult.failed("no result"))
        row.update(status=failed.status, reason=failed.reason, **wall_breakdown(results))
        return row
    first = ok[0]
    top1, top1_std = _mean_std([r.metrics["top1"] for r in ok if "top1" in r.metrics])
    top5, top5_std = _mean_std([r.metrics["top5"] for r in ok if "top5" in r.metrics])
    steady, bare = _mean_of(ok, "train_steady_samples_per_sec"), _mean_of(ok, "train_bare_samples_per_sec")
    environment = first.environment
    if environment.get("keras_backend"):
        row["backend"] = f"{spec_backend} ({environment['keras_backend']})"
    row.update(
        status="ok" if len(ok) == len(results) else f"partial ({len(ok)}/{len(results)} seeds)",
        reason="; ".join(r.reason for r in results if not r.ok),
        param_count=round(first.metrics.get("param_count", 0) / 1e6, 3),
        gmacs=round(first.metrics.get("macs", 0) / 1e9, 4),
        input_size="x".join(str(v) for v in first.input_size),
        top1_pct=_pct(top1), top1_pct_std=_pct(top1_std), top5_pct=_pct(top5), top5_pct_std=_pct(top5_std),
        seeds=[r.seed for r in ok], run_ids=[r.run_id for r in ok],
        execution=", ".join(dict.fromkeys(r.execution for r in ok if r.execution)) or None,
        train_steady_samples_per_sec=_rounded(steady, 1),
        train_bare_samples_per_sec=_rounded(bare, 1),
        loop_efficiency=_rounded(steady / bare if steady and bare else None, 3),
        compile_s=_rounded(_mean_of(ok, "compile_seconds"), 2),
        compile_cache_hits_pct=_rounded(_mean_of(ok, "compile_cache_hits_pct"), 1),
        infer_samples_per_sec=_rounded(_mean_of(ok, "infer_samples_per_sec"), 1),
        throughput_source=first.throughput_source, worker_pid=first.worker_pid,
        batch_size=first.batch_size, precision=first.precision,
        device=environment.get("device_name") or environment.get("device", ""),
        # the runs' own, when trained (a converted run's: none, it was not trained here)
        train_s=(round(sum(r.metrics.get("train_seconds", 0.0) for r in ok), 1)
                 if any("train_seconds" in r.metrics for r in ok) else None),
        **wall_breakdown(results),
        source=", ".join(sorted({_source(r) for r in ok})),
        recipe=first.recipe,
        histories={str(r.seed): r.history for r in ok},
    )
    return row


def _source(result: JobResult) -> str:
    """``measured run 4``, ``reused run 4``, or ``converted run 5 (from torch run 3)``."""
    origin = result.origin.removeprefix("converted ")
    return f"{result.source} run {result.run_id}" + (f" ({origin})" if result.source == "converted" and origin else "")


def wall_breakdown(results: Sequence[JobResult]) -> dict[str, float]:
    """``wall_s`` (a model's workers' wall seconds, over its seeds) and the ``wall_<phase>_s`` it splits into;
    ``other`` is what the named phases leave (run-store writes, checkpoints, the worker's exit)."""
    phases = dict.fromkeys(WALL_PHASES, 0.0)
    total = 0.0
    for result in results:
        total += result.wall_seconds
        named = {k: float(v) for k, v in result.timings.items() if k in phases}
        for phase, value in named.items():
            phases[phase] += value
        phases["other"] += max(0.0, result.wall_seconds - sum(named.values()))
    return {"wall_s": round(total, 1), **{f"wall_{phase}_s": round(value, 2) for phase, value in phases.items()}}


def _merged_notes(notes: Iterable[str]) -> str:
    """The modes' notes as one, each remark once (both modes carry a compile-mode remark)."""
    parts = (part.strip() for note in notes for part in note.split(";"))
    return "; ".join(dict.fromkeys(part for part in parts if part))


def bench_row(model: str, result: JobResult) -> dict[str, Any]:
    """A row in timm ``benchmark.py`` CSV terms (param_count in millions, step times in ms)."""
    if not result.ok:
        return {"model": model, "status": result.status, "note": result.reason}
    figures = result.metrics
    size = result.input_size[-1]
    row = {"model": model, "status": "ok", "param_count": round(figures["param_count"] / 1e6, 3),
           "precision": result.precision, "device": result.environment.get("device_name", ""),
           "note": _merged_notes(v for k, v in figures.items() if k.endswith("_note"))}
    for mode in ("infer", "train"):
        if f"{mode}_samples_per_sec" in figures:
            row[f"{mode}_samples_per_sec"] = round(figures[f"{mode}_samples_per_sec"], 2)
            row[f"{mode}_step_time"] = round(figures[f"{mode}_step_time"], 3)
            row[f"{mode}_batch_size"] = figures[f"{mode}_batch_size"]
            row[f"{mode}_img_size"] = size
            for key in ("samples_per_sec_min", "samples_per_sec_max", "iqr_pct"):
                if f"{mode}_{key}" in figures:
                    row[f"{mode}_{key}"] = round(figures[f"{mode}_{key}"], 1 if key == "iqr_pct" else 2)
    row["infer_gmacs"] = round(figures["macs"] / 1e9, 4)
    row["input_size"] = "x".join(str(v) for v in result.input_size)
    return row


def compile_condition(settings: dict[str, Any]) -> str:
    """What was asked of the compilers: ``"off"``, or the torch.compile mode (Keras: XLA either way)."""
    return (settings.get("compile_mode") or "default") if settings.get("compile") else "off"


def conditions_from(results: Sequence[JobResult], **extra: Any) -> dict[str, Any]:
    """The header: device, threads, library versions, zoo version and commit, precision and batch as run."""
    from zoo.run.environment import core_environment

    env = core_environment()
    versions: dict[str, str] = {}
    devices: set[str] = set()
    allocators: set[str] = set()
    for result in results:
        environment = result.environment
        if environment.get("malloc"):
            allocators.add(environment["malloc"])
        for key in ("torch", "timm", "keras", "tensorflow", "jax", "keras_backend"):
            if environment.get(key):
                versions[key] = environment[key]
        if environment.get("device_name"):
            # CPU threads bound a CPU's speed; on a GPU they are noise in the device's name.
            threads = environment.get("threads") if environment.get("device", "cpu") == "cpu" else None
            devices.add(environment["device_name"] + (f" ({threads} threads)" if threads else ""))
    ran = {"precision": ", ".join(sorted({r.precision for r in results if r.precision})) or None,
           "batch_size": next((r.batch_size for r in results if r.batch_size), None)}
    return {
        "device": ", ".join(sorted(devices)) or f"{env['cpu']} ({env['cpu_count']} cores)",
        "versions": versions,
        "zoo": env["zoo"],
        "commit": env["commit"],
        "python": env["python"],
        "host": env["hostname"],
        **({"malloc": "; ".join(sorted(allocators))} if allocators else {}),
        **{k: v for k, v in ran.items() if v is not None},
        **extra,
    }

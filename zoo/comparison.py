"""``zoo compare`` and ``zoo bench``: many models, each in a worker process, one table.

Every number in a row says how it was obtained: measured now, or reused from
a finished run in the store (and which). Models run grouped by backend, so that
one worker process (``zoo.pool``) serves all of a backend's models in turn.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from zoo.errors import ZooError
from zoo.pool import WorkerOutcome, WorkerPool
from zoo.registry import get_registry

# On a terminal: what distinguishes the rows; device, precision and batch are in the header above.
# Two tables, each within 100 columns: accuracy and size, then speed (docs/benchmarks.md, "zoo compare's figures").
COMPARE_TABLE_COLUMNS = ["model", "status", "top1", "top5", "param_count", "gmacs", "img_size", "source"]
COMPARE_SPEED_COLUMNS = [
    "model", "execution", "train_steady_samples_per_sec", "train_bare_samples_per_sec", "loop_efficiency",
    "compile_s", "infer_samples_per_sec",
]
# Where each model's wall time went in this zoo compare (seconds; summed over seeds); wall_s is their total.
WALL_PHASES = ("start", "data", "compile", "train", "eval", "bench", "other")
WALL_COLUMNS = [f"wall_{phase}_s" for phase in WALL_PHASES]
COMPARE_COLUMNS = [
    "model", "backend", "variant", "status", "param_count", "gmacs", "img_size", "top1", "top5", "execution",
    "train_steady_samples_per_sec", "train_bare_samples_per_sec", "loop_efficiency", "compile_s",
    "infer_samples_per_sec", "batch_size", "precision", "device", "train_s", "wall_s", *WALL_COLUMNS, "source",
]
BENCH_COLUMNS = [
    "model", "status", "infer_samples_per_sec", "infer_step_time", "infer_batch_size", "infer_img_size",
    "infer_gmacs", "train_samples_per_sec", "train_step_time", "train_batch_size", "train_img_size",
    "param_count", "precision", "device", "note",
]

Announce = Callable[[str], None]


@dataclass
class Comparison:
    """Rows (one per model) plus the conditions they were measured under."""

    rows: list[dict[str, Any]]
    conditions: dict[str, Any]
    interrupted: bool = False
    results: list[dict[str, Any]] = field(default_factory=list)


def run_worker(job: dict[str, Any], announce: Announce | None = None, timeout: float | None = None) -> WorkerOutcome:
    """Run one ``job`` in a worker process of its own; relay its stderr lines; a failure says why."""
    with WorkerPool(announce, timeout) as pool:
        return pool.run("", job)


def by_backend(entries: Sequence[Any]) -> list[Any]:
    """``entries`` grouped by backend (first appearance first), each group in its own order."""
    first: dict[str, int] = {}
    for index, entry in enumerate(entries):
        first.setdefault(entry.spec.backend, index)
    return sorted(entries, key=lambda entry: first[entry.spec.backend])


def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def _pm(mean: float | None, std: float | None, scale: float = 100.0, digits: int = 2) -> str | None:
    if mean is None:
        return None
    text = f"{mean * scale:.{digits}f}"
    return text + (f" ± {std * scale:.{digits}f}" if std else "")


def aggregate(model: str, spec_backend: str, variant: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    """One compare row from a model's per-seed worker results."""
    ok = [r for r in results if r.get("status") == "ok"]
    row: dict[str, Any] = {"model": model, "backend": spec_backend, "variant": variant or "-"}
    if not ok:
        failed = next((r for r in results if r.get("status") != "ok"), {"reason": "no result"})
        row.update(status=failed.get("status", "failed"), reason=failed.get("reason", ""), **wall_breakdown(results))
        return row
    first = ok[0]
    metrics = [r["metrics"] for r in ok]
    top1, top1_std = _mean_std([m["top1"] for m in metrics if "top1" in m])
    top5, top5_std = _mean_std([m["top5"] for m in metrics if "top5" in m])
    steady, _ = _mean_std([m["train_steady_samples_per_sec"] for m in metrics if "train_steady_samples_per_sec" in m])
    bare, _ = _mean_std([m["train_bare_samples_per_sec"] for m in metrics if "train_bare_samples_per_sec" in m])
    compile_s, _ = _mean_std([m["compile_seconds"] for m in metrics if "compile_seconds" in m])
    infer_sps, _ = _mean_std([m["infer_samples_per_sec"] for m in metrics if "infer_samples_per_sec" in m])
    environment = first.get("environment", {})
    sources = sorted({f"{r['source']} run {r['run_id']}" for r in ok})
    if environment.get("keras_backend"):
        row["backend"] = f"{spec_backend} ({environment['keras_backend']})"
    row.update(
        status="ok" if len(ok) == len(results) else f"partial ({len(ok)}/{len(results)} seeds)",
        reason="; ".join(r.get("reason", "") for r in results if r.get("status") != "ok"),
        param_count=round(first["metrics"].get("param_count", 0) / 1e6, 3),
        gmacs=round(first["metrics"].get("macs", 0) / 1e9, 4),
        img_size="x".join(str(v) for v in first["img_size"]),
        top1=_pm(top1, top1_std), top5=_pm(top5, top5_std),
        top1_mean=top1, top1_std=top1_std, top5_mean=top5, top5_std=top5_std,
        seeds=[r["seed"] for r in ok], run_ids=[r["run_id"] for r in ok],
        execution=", ".join(dict.fromkeys(r["execution"] for r in ok if r.get("execution"))) or None,
        train_steady_samples_per_sec=_rounded(steady, 1),
        train_bare_samples_per_sec=_rounded(bare, 1),
        loop_efficiency=_rounded(steady / bare if steady and bare else None, 3),
        compile_s=_rounded(compile_s, 2),
        infer_samples_per_sec=_rounded(infer_sps, 1),
        throughput_source=first.get("throughput_source"), worker_pid=first.get("worker_pid"),
        batch_size=first["batch_size"], precision=first["precision"],
        device=environment.get("device_name") or environment.get("device", ""),
        train_s=round(sum(r["metrics"].get("train_seconds", 0.0) for r in ok), 1),  # the runs' own, when trained
        **wall_breakdown(results),
        source=", ".join(sources),
        recipe=first.get("recipe"),
        histories={str(r["seed"]): r.get("history", []) for r in ok},
    )
    return row


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def wall_breakdown(results: Sequence[dict[str, Any]]) -> dict[str, float]:
    """``wall_s`` (a model's workers' wall seconds, over its seeds) and the ``wall_<phase>_s`` it splits into;
    ``other`` is what the named phases leave (run-store writes, checkpoints, the worker's exit)."""
    phases = dict.fromkeys(WALL_PHASES, 0.0)
    total = 0.0
    for result in results:
        seconds = float(result.get("wall_total_seconds") or 0.0)
        total += seconds
        named = {k: float(v) for k, v in (result.get("timings") or {}).items() if k in phases}
        for phase, value in named.items():
            phases[phase] += value
        phases["other"] += max(0.0, seconds - sum(named.values()))
    return {"wall_s": round(total, 1), **{f"wall_{phase}_s": round(value, 2) for phase, value in phases.items()}}


def compile_condition(overrides: dict[str, Any]) -> str:
    """What was asked of the compilers: ``"off"``, or the torch.compile mode (Keras: XLA either way)."""
    return (overrides.get("compile_mode") or "default") if overrides.get("compile") else "off"


def conditions_from(results: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """The header: device, threads, library versions, zoo version and commit, precision, batch."""
    from zoo.environment import core_environment

    env = core_environment()
    versions: dict[str, str] = {}
    devices: set[str] = set()
    for result in results:
        environment = result.get("environment") or {}
        for key in ("torch", "timm", "keras", "tensorflow", "jax", "keras_backend"):
            if environment.get(key):
                versions[key] = environment[key]
        if environment.get("device_name"):
            # CPU threads bound a CPU's speed; on a GPU they are noise in the device's name.
            threads = environment.get("threads") if environment.get("device", "cpu") == "cpu" else None
            devices.add(environment["device_name"] + (f" ({threads} threads)" if threads else ""))
    return {
        "device": ", ".join(sorted(devices)) or f"{env['cpu']} ({env['cpu_count']} cores)",
        "versions": versions,
        "zoo": env["zoo"],
        "commit": env["commit"],
        "python": env["python"],
        "host": env["hostname"],
        **extra,
    }


def compare(
    patterns: Sequence[str],
    dataset: str,
    *,
    exclude: Sequence[str] = (),
    seeds: Sequence[int] = (0,),
    overrides: dict[str, Any] | None = None,
    rerun: bool = False,
    data_dir: str | None = None,
    bench_steps: int = 40,
    bench_warmup: int = 10,
    announce: Announce | None = None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
    timeout: float | None = None,
) -> Comparison:
    """Train (or reuse), score and time every matching model on ``dataset``, each in a worker.

    Rows are sorted by mean test top-1, failures last. Ctrl-C stops after
    marking the current model interrupted; finished rows are kept.
    """
    registry = get_registry()
    entries = registry.select_models(patterns, exclude=exclude)
    if not entries:
        raise ZooError(f"no model matches {' '.join(patterns)}; see 'zoo list'")
    registry.dataset(dataset)
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    rows: list[dict[str, Any]] = []
    results_all: list[dict[str, Any]] = []
    interrupted = False
    with WorkerPool(announce, timeout) as pool:
        for entry in by_backend(entries):
            results = []
            for seed in seeds:
                job = {
                    "kind": "train", "model": entry.name, "dataset": dataset, "rerun": rerun, "data_dir": data_dir,
                    "overrides": {**overrides, "seed": seed}, "bench": {"steps": bench_steps, "warmup": bench_warmup},
                }
                if announce is not None:
                    announce(f"{entry.name} seed {seed}: training, or reusing a stored run")
                try:
                    outcome = pool.run(entry.spec.backend, job)
                except KeyboardInterrupt:
                    results.append({"status": "interrupted", "reason": "interrupted by the user"})
                    interrupted = True
                    break
                results.append({**outcome.result, "wall_total_seconds": outcome.seconds})
            row = aggregate(entry.name, entry.spec.backend, entry.spec.variant, results)
            rows.append(row)
            results_all.extend(r for r in results if r.get("status") == "ok")
            if on_row is not None:
                on_row(row)
            if interrupted:
                break
    rows.sort(key=lambda r: (r["status"] != "ok", -(r.get("top1_mean") or -1.0)))
    batch = overrides.get("batch_size") or next((r.get("batch_size") for r in rows if r.get("batch_size")), None)
    precision = overrides.get("precision", "fp32")
    conditions = conditions_from(
        results_all, dataset=dataset, seeds=list(seeds), precision=precision, compile=compile_condition(overrides),
        batch_size=batch,
        recipe_overrides=overrides, bench_steps=bench_steps, bench_warmup=bench_warmup,
        measured=time.strftime("%Y-%m-%d %H:%M:%S"),
    )
    return Comparison(rows, conditions, interrupted, results_all)


def bench(
    patterns: Sequence[str],
    *,
    exclude: Sequence[str] = (),
    input_shape: tuple[int, int, int] | None = None,
    batch_size: int = 256,
    overrides: dict[str, Any] | None = None,
    train: bool = True,
    infer: bool = True,
    steps: int = 40,
    warmup: int = 10,
    num_classes: int = 1000,
    announce: Announce | None = None,
    timeout: float | None = None,
) -> Comparison:
    """Throughput only, on synthetic inputs, each model in a worker (one per backend); timm-compatible columns."""
    entries = get_registry().select_models(patterns, exclude=exclude)
    if not entries:
        raise ZooError(f"no model matches {' '.join(patterns)}; see 'zoo list'")
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    rows, results_all, interrupted = [], [], False
    order = {entry.name: index for index, entry in enumerate(entries)}
    with WorkerPool(announce, timeout) as pool:
        for entry in by_backend(entries):
            job = {
                "kind": "bench", "model": entry.name, "overrides": overrides, "num_classes": num_classes,
                "input_shape": list(input_shape) if input_shape else None,
                "bench": {"steps": steps, "warmup": warmup, "batch_size": batch_size, "train": train, "infer": infer},
            }
            if announce is not None:
                announce(f"{entry.name}: timing")
            try:
                result = pool.run(entry.spec.backend, job).result
            except KeyboardInterrupt:
                result, interrupted = {"status": "interrupted", "reason": "interrupted by the user"}, True
            rows.append(bench_row(entry.name, result))
            if result.get("status") == "ok":
                results_all.append(result)
            if interrupted:
                break
    rows.sort(key=lambda row: order[row["model"]])  # as listed, whichever backend ran first
    conditions = conditions_from(results_all, precision=overrides.get("precision", "fp32"),
                                 compile=compile_condition(overrides), batch_size=batch_size, steps=steps,
                                 warmup=warmup, measured=time.strftime("%Y-%m-%d %H:%M:%S"))
    return Comparison(rows, conditions, interrupted, results_all)


def _merged_notes(notes: Iterable[str]) -> str:
    """The modes' notes as one, each remark once (both modes carry a compile-mode remark)."""
    parts = (part.strip() for note in notes for part in note.split(";"))
    return "; ".join(dict.fromkeys(part for part in parts if part))


def bench_row(model: str, result: dict[str, Any]) -> dict[str, Any]:
    """A row in timm ``benchmark.py`` CSV terms (param_count in millions, step times in ms)."""
    if result.get("status") != "ok":
        return {"model": model, "status": result.get("status", "failed"), "note": result.get("reason", "")}
    size = result["img_size"][-1]
    gmacs = round(result["macs"] / 1e9, 4)
    row = {"model": model, "status": "ok", "param_count": round(result["param_count"] / 1e6, 3),
           "precision": result["precision"], "device": result["environment"].get("device_name", ""),
           "note": _merged_notes(v for k, v in result.items() if k.endswith("_note"))}
    for mode in ("infer", "train"):
        if f"{mode}_samples_per_sec" in result:
            row[f"{mode}_samples_per_sec"] = round(result[f"{mode}_samples_per_sec"], 2)
            row[f"{mode}_step_time"] = round(result[f"{mode}_step_time"], 3)
            row[f"{mode}_batch_size"] = result[f"{mode}_batch_size"]
            row[f"{mode}_img_size"] = size
    row["infer_gmacs"] = gmacs
    return row

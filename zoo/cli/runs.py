"""``zoo runs``: list, show, remove and export recorded training runs. Parsing and rendering only."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from zoo.api.errors import UsageError, ZooError
from zoo.cli.report import check_format, key_value_table, render_rows, stdout_console
from zoo.run.records import EPOCH_FIELDS, RunRecord

if TYPE_CHECKING:
    from zoo.run.store import RunStore

app = typer.Typer(
    help="Recorded training runs: list, show, rm, export, rebuild.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
stdout = stdout_console()
stderr = Console(stderr=True)

LIST_COLUMNS = ["id", "model", "backend", "dataset", "status", "top1_pct", "epochs", "started", "duration_s"]
LIST_HEADERS = {"top1_pct": "top-1 %", "started": "started (UTC)", "duration_s": "duration", "origin": "from"}
EXPORT_COLUMNS = [
    "id", "model", "backend", "dataset", "status", "reason", "epochs", "started", "finished", "duration",
    "reuse_key", "output_dir",
]
EPOCH_HEADERS = {
    "train_loss": "loss", "train_accuracy": "acc %", "val_loss": "val loss", "val_accuracy": "val acc %",
    "images_per_sec": "img/s", "seconds": "epoch s", "warmup_steps": "warm-up steps", "warmup_seconds": "warm-up s",
    "steady_images_per_sec": "steady img/s",
}
STATUS_STYLE = {"finished": "green", "running": "yellow", "interrupted": "yellow", "failed": "red", "crashed": "red"}

ModelOption = Annotated[Optional[str], typer.Option("--model", help="Model glob, e.g. 'alexnet-*'.")]  # noqa: UP045
DatasetOption = Annotated[Optional[str], typer.Option("--dataset", help="Only runs on this dataset.")]  # noqa: UP045
StatusOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--status", help="running, finished, failed, interrupted or crashed."),
]
RunArgument = Annotated[str, typer.Argument(metavar="ID|last", help="A run number, or 'last' for the latest run.")]


def _emit(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _when(timestamp: str | None) -> str:
    """``2024-05-01 12:00:03`` from a stored ISO 8601 UTC timestamp."""
    return "" if not timestamp else timestamp[:19].replace("T", " ")


def _human_seconds(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def top1_pct(record: RunRecord) -> float | None:
    """The run's test top-1 accuracy in percent, if recorded (the store keeps the fraction, metric ``top1``)."""
    value = record.metrics.get("top1")
    return None if value is None else round(100 * value, 2)


def list_row(record: RunRecord, *, human: bool) -> dict[str, Any]:
    """One run as ``zoo runs list`` shows it; ``human`` styles it for a terminal table."""
    row: dict[str, Any] = {
        "id": record.id, "model": record.model, "backend": record.backend, "dataset": record.dataset,
        "status": record.status, "top1_pct": top1_pct(record), "epochs": len(record.epochs),
        "started": record.started, "duration_s": record.duration, "origin": record.origin,
    }
    if human:
        planned = record.recipe.get("epochs")
        row["status"] = Text(record.status, style=STATUS_STYLE.get(record.status, "default"))
        row["epochs"] = f"{len(record.epochs)}/{planned}" if isinstance(planned, int) else len(record.epochs)
        row["started"] = _when(record.started)[:16]  # to the minute
        row["duration_s"] = _human_seconds(record.duration)
    elif row["duration_s"] is not None:
        row["duration_s"] = round(row["duration_s"], 3)
    return row


@app.command("list")
def list_runs(
    model: ModelOption = None,
    dataset: DatasetOption = None,
    status: StatusOption = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json or csv.")] = "table",
) -> None:
    """List recorded runs, oldest first."""
    from zoo.run.folders import orphaned_folders_note

    check_format(fmt, ("table", "json", "csv"))
    from zoo.run.store import RunStore

    store = RunStore(read_only=True)  # works on a full disk and in a read-only ZOO_HOME
    records = store.list_runs(model=model, dataset=dataset, status=status)
    note = orphaned_folders_note(store)
    if note:
        stderr.print(f"[yellow]warning:[/] {escape(note)}", highlight=False, soft_wrap=True)
    if not records and fmt == "table":
        filtered = model is not None or dataset is not None or status is not None
        stderr.print("no run matches the filters" if filtered else "no runs recorded yet; train one with 'zoo train'")
        return
    rows = [list_row(record, human=fmt == "table") for record in records]
    # Where a run came from (zoo convert's runs), in a column of its own only when some run has one.
    columns = [*LIST_COLUMNS, "origin"] if any(record.origin for record in records) else LIST_COLUMNS
    if fmt == "table":  # the backend is in the model's name; JSON and CSV keep it
        render_rows(rows, [c for c in columns if c != "backend"], "table", console=stdout, headers=LIST_HEADERS)
        return
    _emit(render_rows(rows, columns, fmt) or "")


@app.command("show")
def show(
    ref: RunArgument,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
    plot: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--plot", help="Also draw loss and accuracy per epoch into this image (png, svg, pdf)."),
    ] = None,
) -> None:
    """Show one run: recipe, environment, metrics, artifacts and every epoch."""
    check_format(fmt, ("table", "json"))
    from zoo.run.store import RunStore

    store = RunStore(read_only=True)
    record = store.get(store.resolve(ref))
    if plot is not None:
        from zoo.cli.plots import plot_training_curves

        if not record.epochs:
            raise ZooError(f"run {record.id} recorded no epochs; nothing to plot")
        plot_training_curves({f"run {record.id} {record.model}": record.epochs}, plot)
        stderr.print(f"curves written to {plot}", highlight=False, soft_wrap=True)
    if fmt == "json":
        _emit(json.dumps(record.to_dict(), indent=2, default=str))
        return
    _print_record(record)


def _print_record(record: RunRecord) -> None:
    overview = {
        "model": record.model, "backend": record.backend, "dataset": record.dataset,
        "status": Text(record.status, style=STATUS_STYLE.get(record.status, "")), "reason": record.reason,
        "started (UTC)": _when(record.started), "finished (UTC)": _when(record.finished),
        "duration": _human_seconds(record.duration), "process": f"{record.pid} on {record.hostname}",
        "output_dir": record.output_dir, "reuse_key": record.reuse_key,
        **({"from": record.origin} if record.origin else {}),
    }
    stdout.print(key_value_table(f"run {record.id}", overview))
    stdout.print(key_value_table("recipe", record.recipe))
    stdout.print(key_value_table("environment", record.environment))
    if record.metrics:
        stdout.print(key_value_table("metrics (stored: accuracies as fractions, seconds, images/s)",
                                     record.metrics))
    if record.artifacts:
        artifacts = [{"kind": a["kind"], "path": a["path"], "sha256": f"{(a['sha256'] or '')[:12]}…"}
                     for a in record.artifacts]
        render_rows(artifacts, ["kind", "path", "sha256"], "table", console=stdout, title="artifacts")
    if record.epochs:
        epochs = [{**epoch, **{key: None if epoch.get(key) is None else round(100 * epoch[key], 2)
                               for key in ("train_accuracy", "val_accuracy")}} for epoch in record.epochs]
        render_rows(epochs, list(EPOCH_FIELDS), "table", console=stdout, title="epochs", headers=EPOCH_HEADERS)
    else:
        stdout.print("no epochs recorded")


@app.command("rm")
def remove(
    ref: RunArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    delete_files: Annotated[
        bool, typer.Option("--delete-files", help="Also delete the run's output directory (checkpoint, sidecars).")
    ] = False,
) -> None:
    """Remove a run from the store (its epochs, metrics and artifact records with it)."""
    from zoo.run.store import RunStore

    store = RunStore()
    record = store.get(store.resolve(ref))
    if record.status == "running":
        raise ZooError(
            f"run {record.id} is still running (pid {record.pid} on {record.hostname}); stop it or wait before removing"
        )
    directory = deletable_output_dir(store, record) if delete_files else None
    what = f"run {record.id} ({record.model} on {record.dataset}, {record.status})"
    if directory is not None:
        what += f" and delete {directory}"
    if not yes and not _confirm(f"remove {what}?"):
        stderr.print("nothing removed")
        raise typer.Exit(1)
    store.remove(record.id)
    if directory is not None:
        try:
            shutil.rmtree(directory)
        except OSError as exc:
            raise ZooError(f"removed run {record.id} but could not delete {directory}: {exc.strerror}") from exc
    stderr.print(f"removed {what}", highlight=False)


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        raise UsageError(f"{question.rstrip('?')} needs confirmation: pass --yes")
    stderr.print(f"{question} [y/N] ", end="", highlight=False)
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def deletable_output_dir(store: RunStore, record: RunRecord) -> Path | None:
    """The run's output directory if it may be deleted; None (with a note) if there is nothing to delete.

    Refuses a directory another run also uses, and one that contains the
    current directory, the home directory or the run store itself.
    """
    if not record.output_dir:
        stderr.print(f"run {record.id} recorded no output directory; only its record will be removed")
        return None
    directory = Path(record.output_dir).expanduser().resolve()
    if not directory.exists():
        stderr.print(f"{directory} is already gone; only the record will be removed", highlight=False)
        return None
    if not directory.is_dir():
        raise ZooError(f"run {record.id}'s output_dir {directory} is not a directory; delete it by hand")
    protected = [Path.cwd(), Path.home(), store.path.parent]
    if any(p.resolve() == directory or p.resolve().is_relative_to(directory) for p in protected):
        raise ZooError(f"refusing to delete {directory}: it holds the current, home or zoo directory")
    sharing = [
        other.id for other in store.list_runs()
        if other.id != record.id and other.output_dir and Path(other.output_dir).expanduser().resolve() == directory
    ]
    if sharing:
        ids = ", ".join(map(str, sharing))
        raise ZooError(f"{directory} is also the output of run(s) {ids}; remove those first or drop --delete-files")
    return directory


def export_rows(records: list[RunRecord]) -> tuple[list[dict[str, Any]], list[str]]:
    """One flat row per run (metrics as columns) and the column order."""
    metric_names = sorted({name for record in records for name in record.metrics})
    column_of = {name: f"metric_{name}" if name in EXPORT_COLUMNS else name for name in metric_names}
    rows = []
    for record in records:
        row: dict[str, Any] = {
            "id": record.id, "model": record.model, "backend": record.backend, "dataset": record.dataset,
            "status": record.status, "reason": record.reason, "epochs": len(record.epochs),
            "started": record.started, "finished": record.finished, "duration": record.duration,
            "reuse_key": record.reuse_key, "output_dir": record.output_dir,
        }
        row.update({column_of[name]: value for name, value in record.metrics.items()})
        row["recipe"], row["environment"] = record.recipe, record.environment
        rows.append(row)
    return rows, [*EXPORT_COLUMNS, *column_of.values(), "recipe", "environment"]


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        cells = [row.get(column) for column in columns]
        writer.writerow(["" if c is None else json.dumps(c, sort_keys=True) if isinstance(c, dict) else c
                         for c in cells])
    return buffer.getvalue()


@app.command("export")
def export(
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv or json.")] = "csv",
    output: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--output", "-o", help="Write to this file (atomically) instead of stdout."),
    ] = None,
    model: ModelOption = None,
    dataset: DatasetOption = None,
    status: StatusOption = None,
) -> None:
    """Export runs, one row per run with its metrics as columns, at full precision."""
    check_format(fmt, ("csv", "json"))
    from zoo.run.store import RunStore

    records = RunStore(read_only=True).list_runs(model=model, dataset=dataset, status=status)
    rows, columns = export_rows(records)
    if fmt == "json":
        text = json.dumps([{c: row.get(c) for c in columns} for row in rows], indent=2, default=str) + "\n"
    else:
        text = _csv(rows, columns)
    if output is None:
        sys.stdout.write(text)
        return
    from zoo.api.atomic import atomic_write_text

    try:
        atomic_write_text(output, text)
    except OSError as exc:
        raise ZooError(f"cannot write {output}: {exc.strerror or exc}; choose a writable location") from exc
    stderr.print(f"exported {len(rows)} run(s) to {output}", highlight=False)


@app.command("rebuild")
def rebuild(
    folders: Annotated[
        Optional[list[Path]],  # noqa: UP045
        typer.Argument(help="Run folders, or folders holding them \\[zoo home/runs].", show_default=False),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would be registered.")] = False,
) -> None:
    """Register again the finished runs whose folders the store does not know (after it was reset or lost).

    Each run comes back from its folder's checkpoint.json (verified against its weights) and state/last.json
    (its epochs), under its old id when that is free. Runs already in the store are never added twice.
    """
    from zoo.run.folders import default_root
    from zoo.run.folders import rebuild as rebuild_runs

    roots = [Path(folder).expanduser() for folder in folders] if folders else [default_root(create=False)]
    for root in roots:
        if not root.is_dir():
            raise UsageError(f"{root} is not a folder; give run folders or the folder holding them")
    from zoo.run.store import RunStore

    store = RunStore()
    report = rebuild_runs(store, roots, dry_run=dry_run)
    verb = "would register" if dry_run else "registered"
    for run_id, model, folder in report.registered:
        label = f"run {run_id}" if run_id else "a run"
        stderr.print(f"{verb} {label} ({escape(model)}) from {escape(str(folder))}", highlight=False, soft_wrap=True)
    for folder, reason in report.skipped:
        stderr.print(f"skipped {escape(str(folder))}: {escape(reason)}", highlight=False, soft_wrap=True)
    count = len(report.registered)
    stderr.print(
        f"{verb} {count} run{'' if count == 1 else 's'}; {len(report.known)} already in the store, "
        f"{len(report.skipped)} skipped",
        highlight=False,
    )

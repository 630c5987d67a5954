"""``zoo data ...``: list, describe, download, verify and preview datasets.

A thin layer over :mod:`zoo.data`: parse options, call the library, render.
Data goes to stdout (rich tables, or JSON with ``--format json``), messages
to stderr; errors are raised as :class:`~zoo.errors.ZooError`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from zoo.api.errors import UsageError, ZooError
from zoo.cli import data_local as cli_data_local
from zoo.cli.report import stdout_console

app = typer.Typer(
    name="data",
    help="Datasets: list, info, download, verify, show; add and remove your own.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("add")(cli_data_local.add)
app.command("remove")(cli_data_local.remove)

stdout = stdout_console()
stderr = Console(stderr=True, highlight=False)

NameArg = Annotated[
    str, typer.Argument(help="Dataset name, e.g. cifar10 (see 'zoo data list'), or a folder, .csv or .npz.")
]
DataDirOption = Annotated[
    Optional[Path],  # noqa: UP045 - typer needs Optional on Python 3.10
    typer.Option("--data-dir", help="Directory holding the dataset's files (searched first).", show_default=False),
]
FormatOption = Annotated[str, typer.Option("--format", "-f", help="table or json.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or messages.")]


def _check_format(fmt: str) -> None:
    if fmt not in ("table", "json"):
        raise UsageError(f"--format must be table or json, got {fmt!r}")


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def _shape(values: Any) -> str:
    return "x".join(str(v) for v in values)


@app.command("list")
def list_command(fmt: FormatOption = "table") -> None:
    """List registered datasets and whether each is ready locally."""
    from zoo.data.datasets import arrays_cached
    from zoo.plugins.registry import get_registry, natural_key

    _check_format(fmt)
    registry = get_registry()
    rows = []
    for name in sorted(registry.datasets, key=natural_key):
        entry = registry.datasets[name]
        spec = entry.spec
        cached = arrays_cached(spec)
        rows.append({
            "name": spec.name,
            "classes": spec.num_classes,
            "shape": list(spec.shape),
            "augment": spec.augment,
            "cached": cached,
            "plugin": entry.plugin.distribution,
            "summary": spec.summary,
        })
    if fmt == "json":
        _print_json(rows)
        return
    table = Table(header_style="bold")
    for column in ("name", "classes", "shape (HxWxC)", "augment", "cached", "plugin"):
        table.add_column(column, no_wrap=True)
    table.add_column("summary", overflow="fold")
    for row in rows:
        table.add_row(
            row["name"],
            str(row["classes"]),
            _shape(row["shape"]),
            row["augment"],
            "yes" if row["cached"] else "-",
            row["plugin"],
            row["summary"],
        )
    stdout.print(table)


@app.command("info")
def info_command(name: NameArg, data_dir: DataDirOption = None, fmt: FormatOption = "table") -> None:
    """Where a dataset's files are, its shapes and per-class counts (never downloads)."""
    from zoo.data.datasets import dataset_info

    _check_format(fmt)
    details = dataset_info(name, data_dir=data_dir).to_dict()
    if fmt == "json":
        _print_json(details)
        return
    table = Table(show_header=False, title=details["name"], title_style="bold")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("summary", details["summary"] or "-")
    table.add_row("shape (HxWxC)", _shape(details["shape"]))
    table.add_row("classes", f"{details['num_classes']}")
    table.add_row("mean / std", f"{details['mean']} / {details['std']}")
    table.add_row("augment", details["augment"])
    table.add_row("homepage", details["homepage"] or "-")
    table.add_row("license", details["license"] or "-")
    if "local" in details:
        cli_data_local.info_rows(table, details["local"])
    else:
        table.add_row("searched", "\n".join(details["searched"]))
        table.add_row("files", "\n".join(details["files"].values()) or "not found locally")
    table.add_row("arrays cache", details["arrays"] or "-")
    for split, stats in details["splits"].items():
        table.add_row(split, f"{stats['count']:,} images, {_shape(stats['shape'][1:])}")
    stdout.print(table)
    if details["splits"]:
        splits = list(details["splits"])
        counts = Table(title="images per class", header_style="bold")
        for column in ("label", "class", *splits):
            counts.add_column(column, justify="left" if column == "class" else "right")
        per_class = [details["splits"][split]["per_class"] for split in splits]
        for label, class_name in enumerate(details["classes"]):
            counts.add_row(str(label), class_name, *(f"{column[label]:,}" for column in per_class))
        stdout.print(counts)
    else:
        stderr.print(f"{name}: not available locally; 'zoo data download {name}' fetches it")


@app.command("download")
def download_command(name: NameArg, data_dir: DataDirOption = None, quiet: QuietOption = False) -> None:
    """Fetch and verify a dataset's files (unless found locally) and cache its arrays."""
    from zoo.data.datasets import download_dataset

    located = download_dataset(name, data_dir=data_dir, progress=not quiet)
    if quiet:
        return
    if located.place.kind == "local":
        stderr.print(f"{name}: ready, decoded from {located.directory} into the arrays cache")
    else:
        stderr.print(f"{name}: ready, files verified in {located.directory} ({located.place.kind})")


@app.command("verify")
def verify_command(name: NameArg, data_dir: DataDirOption = None, fmt: FormatOption = "table") -> None:
    """Recompute the checksums of every copy of a dataset's files; exit 1 on a bad or missing copy."""
    from zoo.data.datasets import get_dataset_spec, verify_dataset
    from zoo.data.local_spec import LocalDatasetSpec
    from zoo.data.locate import how_to_provide, search_places

    _check_format(fmt)
    spec = get_dataset_spec(name)
    if isinstance(spec, LocalDatasetSpec):
        cli_data_local.verify(spec, fmt, stdout)
        return
    statuses = verify_dataset(spec, data_dir=data_dir)
    # A place holding none of the files (a cache with only parsed arrays) is not worth a row each.
    holding = {s.place for s in statuses if s.state != "missing"}
    rows = [
        {"place": s.place.kind, "file": str(s.path), "state": s.state, "detail": s.detail}
        for s in statuses
        if s.place in holding
    ]
    if fmt == "json":
        _print_json(rows)
    elif rows:
        table = Table(title=f"{spec.name}: files", header_style="bold")
        for column in ("place", "file", "state", "detail"):
            table.add_column(column, overflow="fold")
        for row in rows:
            style = {"ok": "green", "bad": "red"}.get(row["state"], "yellow")
            table.add_row(row["place"], row["file"], f"[{style}]{row['state']}[/]", row["detail"])
        stdout.print(table)
    bad = [s for s in statuses if s.state == "bad"]
    if bad:
        raise ZooError(
            f"{spec.name}: {len(bad)} file(s) fail their checksum: {', '.join(str(s.path) for s in bad)}; "
            "delete them and run 'zoo data download " + spec.name + "'"
        )
    places = {s.place for s in statuses}
    complete = [p for p in places if all(s.state == "ok" for s in statuses if s.place == p)]
    if not complete:
        searched = ", ".join(str(p.path) for p in search_places(spec, data_dir))
        raise ZooError(
            f"{spec.name}: no complete copy found (searched {searched}); to provide it, {how_to_provide(spec)}"
        )
    stderr.print(f"{spec.name}: ok")


@app.command("show")
def show_command(
    name: NameArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="PNG file to write.")] = Path("grid.png"),
    split: Annotated[str, typer.Option(help="train or test.")] = "train",
    count: Annotated[int, typer.Option(help="Number of images.")] = 40,
    seed: Annotated[int, typer.Option(help="Seed for choosing the images.")] = 0,
    data_dir: DataDirOption = None,
    quiet: QuietOption = False,
) -> None:
    """Save a labelled grid of sample images as a PNG (downloads the dataset if needed)."""
    from zoo.data.datasets import load_dataset
    from zoo.data.render import render_samples

    if split not in ("train", "test"):
        raise UsageError(f"--split must be train or test, got {split!r}")
    dataset = load_dataset(name, data_dir=data_dir, progress=not quiet)
    path = render_samples(dataset, output, split=split, count=count, seed=seed)
    stderr.print(f"wrote {path}")

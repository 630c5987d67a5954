"""``zoo data add`` and ``zoo data remove``, and how ``info``/``verify`` show a local dataset.

A thin layer over :mod:`zoo.data.local` and :mod:`zoo.data.local_registry`.
"""

from __future__ import annotations

import shutil
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from zoo.api.errors import PluginError, UsageError, ZooError

stderr = Console(stderr=True, highlight=False)
Opt = typer.Option
CHECK_HELP = (
    "How later loads notice changed files: files (every file's size and mtime) or dirs (a folder's "
    "directories only: much quicker on many small files; files added, removed or renamed are noticed, a file "
    "rewritten in place under the same name is not until 'zoo data verify NAME')."
)
CHECK_NOTES = {
    "files": "files: each load checks every file's size and mtime (a file rewritten in place is noticed)",
    "dirs": "dirs: each load checks the directories only (mtime, entry count, names): files added, removed or "
            "renamed are noticed; a file rewritten in place under the same name is not until 'zoo data verify'",
}


def _floats(text: str | None, option: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise UsageError(f"{option} takes one number per channel, comma-separated (0.5 or 0.48,0.45,0.41), "
                         f"got {text!r}") from None


def add(
    name: Annotated[str, typer.Argument(help="Name to register it under (lower case, e.g. photos).")],
    path: Annotated[str, typer.Argument(help="A folder of class folders, a .csv of path,label or a .npz.")],
    image_size: Annotated[Optional[str], Opt(help="Resize every image to HxW (or N) \\[the most common size].")] = None,  # noqa: UP045
    grey: Annotated[bool, Opt("--grey", help="Convert every image to grey \\[the majority mode].")] = False,
    rgb: Annotated[bool, Opt("--rgb", help="Convert every image to RGB \\[the majority mode].")] = False,
    test_split: Annotated[float, Opt(help="Share of each class held out as test when there is no test/.")] = 0.2,
    seed: Annotated[int, Opt(help="Seed of the test split and of the shuffled order.")] = 0,
    order: Annotated[str, Opt(help="shuffle (seeded; --limit takes a mixed sample) or name (file name, class).")]
    = "shuffle",
    classes: Annotated[Optional[str], Opt(help="Class names in label order, comma-separated \\[sorted].")] = None,  # noqa: UP045
    skip_bad: Annotated[bool, Opt("--skip-bad", help="Leave out unreadable files and list them.")] = False,
    check: Annotated[str, Opt(help=CHECK_HELP)] = "files",
    mean: Annotated[Optional[str], Opt(help="Per-channel mean in [0, 1] \\[the training split's].")] = None,  # noqa: UP045
    std: Annotated[Optional[str], Opt(help="Per-channel std in [0, 1] \\[the training split's].")] = None,  # noqa: UP045
    augment: Annotated[str, Opt(help="Default training augmentation (see zoo train --help).")] = "none",
    summary: Annotated[str, Opt(help="One line for zoo data list \\[where it is].")] = "",
    quiet: Annotated[bool, Opt("--quiet", "-q", help="No progress bar or messages.")] = False,
) -> None:
    """Register a folder, CSV or .npz under NAME: decode it once into the cache, remember where it is."""
    from zoo.api.augment import NAMED_AUGMENTATIONS
    from zoo.data.local import resolve
    from zoo.data.local_registry import add_record, path_spec
    from zoo.data.local_spec import LocalOptions, parse_image_size
    from zoo.plugins.registry import get_registry

    if grey and rgb:
        raise UsageError("give --grey or --rgb, not both")
    if augment not in NAMED_AUGMENTATIONS:
        raise UsageError(f"--augment must be one of {', '.join(NAMED_AUGMENTATIONS)}, got {augment!r}")
    registry = get_registry()
    if name.lower() in registry.datasets:
        owner = registry.datasets[name.lower()].plugin.distribution
        raise UsageError(f"dataset {name!r} already exists (from {owner}); choose another name or "
                         f"'zoo data remove {name}' a local one first")
    options = LocalOptions(
        image_size=parse_image_size(image_size) if image_size else None,
        mode="grey" if grey else "rgb" if rgb else None,
        test_split=test_split, seed=seed, order=order,
        classes=tuple(c.strip() for c in classes.split(",")) if classes else (),
        skip_bad=skip_bad, mean=_floats(mean, "--mean"), std=_floats(std, "--std"), check=check,
    )
    import dataclasses

    try:
        spec = dataclasses.replace(path_spec(path, options), name=name, summary=summary, augment=augment)
    except PluginError as exc:
        raise UsageError(str(exc).replace("invalid dataset name", "invalid name")) from None
    fresh, data, _entry = resolve(spec, progress=not quiet)
    add_record(fresh)
    if not quiet:
        h, w, c = fresh.shape
        stderr.print(
            f"added {fresh.name}: {fresh.num_classes} classes, {len(data.train):,} train / {len(data.test):,} test"
            f"{f' / {len(data.val):,} val' if data.val is not None else ''} images, {c}x{h}x{w} (CxHxW); "
            f"'zoo data info {fresh.name}' describes it, 'zoo train MODEL --dataset {fresh.name}' trains on it",
            soft_wrap=True,
        )


def remove(
    name: Annotated[str, typer.Argument(help="A name 'zoo data add' registered.")],
    quiet: Annotated[bool, Opt("--quiet", "-q", help="No messages.")] = False,
) -> None:
    """Forget a local dataset and its cached arrays; its files are left as they are."""
    from zoo.data.local import cache_dir_for
    from zoo.data.local_registry import remove_record, spec_from_record

    record = remove_record(name)
    removed = ""
    try:
        directory = cache_dir_for(spec_from_record(name, record))
    except ZooError:
        directory = None
    if directory is not None and directory.is_dir():
        shutil.rmtree(directory, ignore_errors=True)
        removed = f"; removed its cached arrays ({directory})"
    if not quiet:
        stderr.print(f"forgot {name}: the files in {record['source']} are untouched{removed}", soft_wrap=True)


def info_rows(table: Table, local: dict[str, Any]) -> None:
    """The rows ``zoo data info`` adds for a local dataset."""
    options = local.get("options", {})
    table.add_row("source", f"{local['source']} ({local.get('kind', '')})")
    table.add_row("layout", local.get("layout", "-"))
    h, w, mode = local.get("target", ["?", "?", "?"])
    table.add_row("images", f"{h}x{w} {mode}: size from {local.get('size_rule', '-')}, mode from "
                            f"{local.get('mode_rule', '-')}")
    sizes = ", ".join(f"{size} ({count:,})" for size, count in local.get("sizes", {}).items())
    modes = ", ".join(f"{mode_} ({count:,})" for mode_, count in local.get("modes", {}).items())
    table.add_row("as found", f"sizes {sizes or '-'}; modes {modes or '-'}; {local.get('resized', 0):,} resized, "
                              f"{local.get('converted', 0):,} converted")
    table.add_row("order", "shuffled (seed {seed})".format(**options) if options.get("order") == "shuffle"
                  else "by file name, then class")
    table.add_row("mean / std from", local.get("stats", "-"))
    table.add_row("change check", CHECK_NOTES.get(options.get("check", "files"), "-"))
    skipped = local.get("skipped", [])
    if skipped:
        shown = "\n".join(f"{path} {reason}" for path, reason in skipped[:10])
        more = f"\n... and {len(skipped) - 10} more" if len(skipped) > 10 else ""
        table.add_row("skipped", f"{len(skipped)} bad file(s) (--skip-bad):\n{shown}{more}")
    if local.get("ignored"):
        table.add_row("ignored", f"{local['ignored']:,} file(s) without an image suffix")


def verify(spec: Any, fmt: str, stdout: Console) -> None:
    """``zoo data verify`` for a local dataset: decode every file again; exit 1 on a bad one."""
    import json

    from zoo.data.local import verify_local

    check = verify_local(spec, progress=fmt != "json")
    skipping = spec.options.skip_bad
    state = "skipped" if skipping else "bad"
    rows = [{"place": "local", "file": b.path, "state": state, "detail": b.reason} for b in check.bad]
    if fmt == "json":
        typer.echo(json.dumps({"checked": check.checked, "cache": check.cache, "unseen_by_dirs_check": check.unseen,
                               "files": rows}, indent=2))
    elif rows:
        from rich.text import Text

        from zoo.cli.report import render_rows

        styled = [{**row, "state": Text(row["state"], style="yellow" if skipping else "red")} for row in rows]
        render_rows(styled, ["file", "state", "detail"], "table", console=stdout,
                    title=f"{spec.name}: files that cannot be decoded")
    cache_note = {"current": "the cached arrays match the files", "stale": "the files changed since they were "
                  "cached (the next load decodes what changed)", "none": "nothing is cached yet"}[check.cache]
    if check.unseen:
        cache_note = ("a file changed in place since the arrays were cached, which --check dirs does not notice; "
                      "the next load decodes what changed")
    if check.bad and not skipping:
        raise ZooError(f"{spec.name}: {len(check.bad)} of {check.checked:,} file(s) cannot be decoded, first "
                       f"{check.bad[0].line()}; fix or delete them, or add the dataset with --skip-bad")
    skipped = f", {len(check.bad)} skipped (--skip-bad)" if check.bad else ""
    stderr.print(f"{spec.name}: ok, {check.checked - len(check.bad):,} file(s) decode{skipped}; {cache_note}")

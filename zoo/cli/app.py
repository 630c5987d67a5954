"""The ``zoo`` command: parse, call the library, render. No logic lives here."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from zoo.api.config import TrainConfig, check_num_classes
from zoo.api.errors import EXIT_USAGE, UsageError, ZooError
from zoo.api.specs import ModelSpec
from zoo.api.version import ZOO_VERSION as __version__
from zoo.cli.report import as_flags, check_format, key_value_table, plural, render_rows, stdout_console
from zoo.plugins.registry import Registered, get_registry

# Each command's module, imported only when the app that runs it is built: building every typer command
# (and importing its module) costs about 0.1 s, a third of `zoo list`'s start-up budget. In help's order.
COMMANDS: dict[str, tuple[str, str]] = {
    "list": ("zoo.cli.app", "list_models"),
    "info": ("zoo.cli.app", "info"),
    "train": ("zoo.cli.train", "train"),
    "evaluate": ("zoo.cli.train", "evaluate"),
    "predict": ("zoo.cli.train", "predict"),
    "compare": ("zoo.cli.compare", "compare"),
    "bench": ("zoo.cli.compare", "bench"),
    "convert": ("zoo.cli.convert", "convert"),
    "export": ("zoo.cli.convert", "export"),
}
GROUPS: dict[str, tuple[str, str]] = {
    "runs": ("zoo.cli.runs", "app"),
    "data": ("zoo.cli.data", "app"),
    "plugins": ("zoo.cli.app", "plugins_group"),
}

stdout = stdout_console()
stderr = Console(stderr=True)
_debug = {"on": os.environ.get("ZOO_DEBUG", "") not in ("", "0")}

FormatOption = Annotated[str, typer.Option("--format", "-f", help="table, json or csv.")]


def _version(value: bool) -> None:
    if value:
        stdout.print(f"zoo {__version__}")
        raise typer.Exit()


def _root(
    version: Annotated[
        Optional[bool],  # noqa: UP045 - typer needs Optional here on Python 3.10
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
) -> None:
    """zoo: one registry, many backends, honest comparisons."""
    if debug:
        _debug["on"] = True


def _emit(text: str | None) -> None:
    if text is not None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def model_row(entry: Registered[ModelSpec]) -> dict[str, object]:
    """One model as the flat row ``zoo list`` shows."""
    spec = entry.spec
    return {
        "name": spec.name,
        "backend": spec.backend,
        "family": spec.family,
        "variant": spec.variant or "-",
        "input_size": list(spec.input_size),
        "plugin": entry.plugin.distribution,
        "summary": spec.summary,
    }


def list_models(
    patterns: Annotated[Optional[list[str]], typer.Argument(help="fnmatch globs, e.g. 'alexnet-*'.")] = None,  # noqa: UP045
    exclude: Annotated[list[str], typer.Option("--exclude", "-x", help="Glob to leave out (repeatable).")] = [],  # noqa: B006
    backend: Annotated[Optional[str], typer.Option(help="Only this backend (torch, keras, ...).")] = None,  # noqa: UP045
    family: Annotated[Optional[str], typer.Option(help="Only this family (alexnet, ...).")] = None,  # noqa: UP045
    plugin: Annotated[Optional[str], typer.Option(help="Only models from this plugin or distribution.")] = None,  # noqa: UP045
    fmt: FormatOption = "table",
) -> None:
    """List registered models (no framework is imported)."""
    check_format(fmt, ("table", "json", "csv"))
    registry = get_registry()
    entries = registry.select_models(
        patterns or (), exclude=exclude, backend=backend, family=family, plugin=plugin
    )
    if not entries:
        raise UsageError(_no_match(registry, patterns or (), backend=backend, family=family, plugin=plugin))
    rows = [model_row(entry) for entry in entries]
    columns = ["name", "backend", "family", "variant", "input_size", "plugin", "summary"]
    if fmt == "table":  # family and variant are parts of the name: the summary gets their room
        columns = [c for c in columns if c not in ("family", "variant")]
    _emit(render_rows(rows, columns, fmt, console=stdout, headers={"input_size": "input (CxHxW)"}))


def _no_match(registry: object, patterns: Sequence[str], **filters: str | None) -> str:
    """Why ``zoo list`` found nothing, naming the filter at fault and what it could have been."""
    choices = {"backend": sorted(getattr(registry, "backends", {})),
               "family": sorted({e.spec.family for e in getattr(registry, "models", {}).values()}),
               "plugin": sorted(getattr(registry, "plugins", {}))}
    for name, value in filters.items():
        if value is not None and value not in choices[name] and name != "plugin":
            return f"--{name} {value} is not one zoo knows; choose {', '.join(choices[name])}"
    asked = " ".join(f"'{p}'" for p in patterns) or "any name"
    given = ", ".join(f"--{k} {v}" for k, v in filters.items() if v is not None)
    return f"no model matches {asked}{f' with {given}' if given else ''}; 'zoo list' shows every model"


# What an unset (None) recipe field means, for people reading ``zoo info``.
RECIPE_UNSET = {"augment": "dataset default", "limit": "all", "limit_test": "all"}


def spec_details(entry: Registered[ModelSpec]) -> dict[str, object]:
    """Everything known about a model without building it."""
    spec = entry.spec
    details = dataclasses.asdict(spec)
    details["input_size"] = list(spec.input_size)
    details["min_img_size"] = list(spec.min_img_size)
    details["recipe"] = TrainConfig.build(spec.recipe).recipe()
    details["plugin"] = entry.plugin.name
    details["distribution"] = f"{entry.plugin.distribution} {entry.plugin.version}".strip()
    backend = get_registry().backends.get(spec.backend)
    details["framework"] = backend.spec.framework if backend else f"(backend {spec.backend!r} not installed)"
    return details


def info(
    name: Annotated[str, typer.Argument(help="Model name, e.g. alexnet-torch-bn.")],
    input_size: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--input", help="CxHxW: build the model and show layers, parameters and MACs."),
    ] = None,
    num_classes: Annotated[int, typer.Option(help="Classes of the head when building.")] = 10,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
) -> None:
    """Show a model's whole spec; with --input, build it and measure it."""
    check_format(fmt, ("table", "json"))
    check_num_classes(num_classes)
    entry = get_registry().model(name)
    details = spec_details(entry)
    summary = None
    if input_size is not None:
        from zoo.cli.options import parse_input_size
        from zoo.run.building import summarize_model

        summary = summarize_model(entry.name, parse_input_size(input_size), num_classes)
        details["summary_at_input"] = {
            "input_size": list(summary.input_size),
            "param_count": summary.param_count,
            "macs": summary.macs,
            "gmacs": round(summary.macs / 1e9, 4),
        }
    if fmt == "json":
        if summary is not None:
            details["layers"] = [dataclasses.asdict(layer) for layer in summary.layers]
        _emit(json.dumps(details, indent=2, default=str))
        return
    shown: dict[str, object] = {}
    for key, value in details.items():
        if key in ("summary_at_input",):
            continue
        if key == "recipe":
            value = ", ".join(f"{k}={RECIPE_UNSET.get(k, v) if v is None else v}" for k, v in value.items())
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, list):
            value = "x".join(str(v) for v in value)
        shown[key] = value
    table = key_value_table(entry.name, shown)
    stdout.print(table)
    if summary is not None:
        rows = [dataclasses.asdict(layer) for layer in summary.layers]
        render_rows(rows, ["name", "kind", "output_shape", "params"], "table", console=stdout,
                    headers={"output_shape": "output (CxHxW)"},
                    title=f"layers at input {'x'.join(map(str, summary.input_size))}")
        stdout.print(
            f"trainable parameters: {summary.param_count:,}    "
            f"MACs (multiply-accumulates, one image): {summary.macs:,} ({summary.macs / 1e9:.4f} GMACs)"
        )


def _some(names: list[str], plugin: str, shown: int = 12) -> str:
    """The first names, and how many more (zoo-timm registers over a thousand models)."""
    more = f", ... and {len(names) - shown} more (zoo list --plugin {plugin})" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def plugins(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
) -> None:
    """List loaded plugins and the ones that failed, with the error."""
    if ctx.invoked_subcommand is not None:
        return
    check_format(fmt, ("table", "json"))
    registry = get_registry()
    loaded = []
    for info_ in sorted(registry.plugins.values(), key=lambda p: p.name):
        contributed = registry.contributions(info_.name)
        loaded.append({
            "name": info_.name,
            "distribution": info_.distribution,
            "version": info_.version,
            "module": info_.module,
            "hooks": list(info_.hooks),
            **contributed,
        })
    failed = [dataclasses.asdict(f) for f in registry.failures]
    warned = [dataclasses.asdict(f) for f in registry.warnings]
    if fmt == "json":
        _emit(json.dumps({"loaded": loaded, "failed": failed, "warnings": warned, "disabled": registry.disabled},
                         indent=2))
        return
    rows = []
    for row in loaded:
        parts = [f"{plural(len(row[k]), k)}: {_some(row[k], row['name'])}"
                 for k in ("models", "datasets", "backends") if row[k]]
        rows.append({"plugin": row["name"], "distribution": f"{row['distribution']} {row['version']}",
                     "hooks": ", ".join(h.removeprefix("zoo_") for h in row["hooks"]),
                     "contributed": "\n".join(parts) or "-"})
    render_rows(rows, ["plugin", "distribution", "hooks", "contributed"], "table", console=stdout,
                title="loaded plugins", texts=["hooks"])
    for title, items in (("failed plugins", failed), ("plugin warnings", warned)):
        if items:
            rows = [{"plugin": r["plugin"], "distribution": r["distribution"], "stage": r["stage"],
                     "error": r["error"]} for r in items]
            render_rows(rows, ["plugin", "distribution", "stage", "error"], "table", console=stdout, title=title,
                        headers={"stage": "about", "error": "warning"} if items is warned else None)
    if registry.disabled:
        stdout.print(f"disabled by ZOO_DISABLE_PLUGINS: {', '.join(registry.disabled)}")


def _usage_line(exc: typer.TyperException) -> str:
    """A parsing error as one line, pointing at the command's help."""
    message = " ".join(exc.format_message().split()).rstrip(".")
    context = getattr(exc, "ctx", None)
    command = context.command_path if context is not None else "zoo"
    return f"{message}; see '{command} --help'"


def plugins_group() -> typer.Typer:
    """``zoo plugins`` and its ``new`` subcommand."""
    from zoo.cli.plugins_new import new

    group = typer.Typer(help="Installed plugins: what loaded, what failed, what each added.")
    group.callback(invoke_without_command=True)(plugins)
    group.command("new")(new)
    return group


def create_app(only: str | None = None) -> typer.Typer:
    """The ``zoo`` app with every command, or with ``only`` that command (what ``main`` runs)."""
    import importlib

    root = typer.Typer(
        name="zoo",
        help="A plugin-style model zoo for image classification: list, train and compare models.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode="rich",
    )
    root.callback()(_root)
    for name, (module, attribute) in (COMMANDS | GROUPS).items():
        if only is not None and name != only:
            continue
        target = getattr(importlib.import_module(module), attribute)
        if name in COMMANDS:
            root.command(name)(target)
        else:  # a sub-app, or the function that makes one
            root.add_typer(target if isinstance(target, typer.Typer) else target(), name=name)
    return root


def invoked_command(argv: Sequence[str]) -> str | None:
    """The command ``argv`` runs, when the app needs no other: None for help, completion or an unknown name."""
    if any(variable.endswith("_COMPLETE") for variable in os.environ):  # shell completion wants every name
        return None
    for token in argv:
        if token in ("--help", "-h"):
            return None
        if not token.startswith("-"):
            return token if token in COMMANDS or token in GROUPS else None
    return None


def __getattr__(name: str) -> typer.Typer:
    if name == "app":  # the whole app, built once on first use (tests, docs, completion)
        if "_app" not in globals():
            globals()["_app"] = create_app()
        return globals()["_app"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Console-script entry point: one red line and an exit code for every user error.

    Exit codes: 0 success, 1 the work failed, 2 a usage error, 130 interrupted.
    """
    try:
        code = create_app(invoked_command(sys.argv[1:]))(prog_name="zoo", standalone_mode=False)
    except typer.TyperException as exc:  # option parsing: typer would draw a multi-line panel
        if "\n" in exc.format_message().strip():  # `zoo` alone: the help text itself
            sys.stdout.write(exc.format_message())
        else:
            stderr.print(f"[bold red]error:[/] {_usage_line(exc)}", highlight=False, soft_wrap=True, markup=True)
        sys.exit(exc.exit_code)
    except ZooError as exc:
        if _debug["on"]:
            traceback.print_exc()
        stderr.print(f"[bold red]error:[/] {escape(as_flags(str(exc)))}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        stderr.print("[yellow]interrupted[/]")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


__all__ = ["EXIT_USAGE", "app", "main"]  # noqa: F822 - `app` is built on first use, by __getattr__

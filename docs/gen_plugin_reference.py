"""Generate the reference section of docs/plugins.md from the code's own docstrings.

Everything documented is exported by ``zoo.api`` (the plugin seam) and named by its
import path there: the hooks, the records, the backend contract, the run control, the
helpers; the constants come from ``zoo.api.version`` and ``zoo.plugins.discovery``. The text between
the markers ``<!-- hook-reference:start -->`` and ``<!-- hook-reference:end -->``
is replaced; everything else in the file is left alone.

Usage::

    python docs/gen_plugin_reference.py           # rewrite the section
    python docs/gen_plugin_reference.py --check   # exit 1 when the file is stale
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import inspect
import re
import sys
import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parent / "plugins.md"
START = "<!-- hook-reference:start -->"
END = "<!-- hook-reference:end -->"
SECTION = re.compile(r"^(Args|Arguments|Attributes|Example|Examples|Returns|Raises|Note|Notes):\s*$")
ROLE = re.compile(r":(?:class|func|meth|attr|mod|data|exc):`(~?)([^`]+)`")


# -- docstring to markdown ---------------------------------------------------------


def inline(text: str) -> str:
    """Sphinx roles and double backticks as markdown code spans."""
    text = ROLE.sub(lambda m: f"`{m.group(2).rsplit('.', 1)[-1] if m.group(1) else m.group(2)}`", text)
    return re.sub(r"``([^`]+)``", r"`\1`", text)


def _block(lines: list[str], start: int) -> tuple[list[str], int]:
    """The indented lines after a section header (blank lines kept), and where they end."""
    end = start
    while end < len(lines) and (not lines[end].strip() or lines[end].startswith((" ", "\t"))):
        end += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return textwrap.dedent("\n".join(lines[start:end])).splitlines(), end


def _code(body: list[str]) -> list[str]:
    if body and body[0].startswith(".. code-block::"):
        language = body[0].split("::", 1)[1].strip() or "python"
        body = textwrap.dedent("\n".join(body[1:])).strip("\n").splitlines()
    else:
        language = "python"
    return [f"```{language}", *body, "```"]


def _entries(body: list[str]) -> list[tuple[str, str]]:
    """``name: text`` entries of a Google-style section, continuation lines joined."""
    entries: list[tuple[str, str]] = []
    for line in body:
        if line and not line[0].isspace() and ":" in line:
            name, _, text = line.partition(":")
            entries.append((name.strip(), text.strip()))
        elif entries and line.strip():
            name, text = entries[-1]
            entries[-1] = (name, f"{text} {line.strip()}")
    return entries


def attributes(obj: Any) -> dict[str, str]:
    """The ``Attributes:`` section of ``obj``'s docstring as name to text."""
    lines = (inspect.getdoc(obj) or "").splitlines()
    for index, line in enumerate(lines):
        match = SECTION.match(line)
        if match and match.group(1) == "Attributes":
            return dict(_entries(_block(lines, index + 1)[0]))
    return {}


def markdown(doc: str | None) -> list[str]:
    """A Google-style docstring as markdown; ``Attributes:`` is left to the field tables."""
    lines = (doc or "").splitlines()
    out: list[str] = []
    index = 0
    while index < len(lines):
        match = SECTION.match(lines[index])
        if not match:
            out.append(inline(lines[index]))
            index += 1
            continue
        body, index = _block(lines, index + 1)
        name = match.group(1)
        if name == "Attributes":
            continue
        out += [f"**{name}:**", ""]
        if name.startswith("Example"):
            out += _code(body)
        else:
            out += [f"- `{key}`: {inline(text)}" for key, text in _entries(body)] or [inline(" ".join(body))]
        out.append("")
    while out and not out[-1].strip():
        out.pop()
    return out


# -- signatures and tables ----------------------------------------------------------


def _annotation(value: Any) -> str:
    if value is inspect.Parameter.empty:
        return ""
    return value if isinstance(value, str) else getattr(value, "__name__", repr(value))


def signature(function: Callable[..., Any], name: str | None = None) -> str:
    """``name(arg: type, *, kw: type = default) -> type`` from the source's own annotations."""
    sig = inspect.signature(function)
    parts: list[str] = []
    star = False
    for param in sig.parameters.values():
        if param.name == "self":
            continue
        if param.kind is param.KEYWORD_ONLY and not star:
            parts.append("*")
            star = True
        if param.kind is param.VAR_POSITIONAL:
            star = True
        text = {param.VAR_POSITIONAL: "*", param.VAR_KEYWORD: "**"}.get(param.kind, "") + param.name
        if param.annotation is not param.empty:
            text += f": {_annotation(param.annotation)}"
        if param.default is not param.empty:
            text += f" = {param.default!r}"
        parts.append(text)
    returns = _annotation(sig.return_annotation)
    return f"{name or function.__name__}({', '.join(parts)})" + (f" -> {returns}" if returns else "")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _default(field: dataclasses.Field[Any]) -> str:
    if field.default is not dataclasses.MISSING:
        return f"`{_cell(repr(field.default))}`"
    if field.default_factory is not dataclasses.MISSING:
        made = field.default_factory()
        shown = repr(made) if isinstance(made, (dict, list, tuple, set, str, int, float)) else (
            f"a new {type(made).__module__}.{type(made).__qualname__}")
        return f"`{_cell(shown)}`"
    return "required"


def record(cls: type, level: str = "####") -> list[str]:
    """A dataclass: heading, docstring, then one table row per field and property."""
    documented = attributes(cls)
    rows = [
        (f"`{field.name}`", f"`{_cell(_annotation(field.type))}`", _default(field),
         _cell(inline(documented.get(field.name, ""))))
        for field in dataclasses.fields(cls)
    ]
    for name, member in vars(cls).items():
        if isinstance(member, property):
            returns = _annotation(inspect.signature(member.fget).return_annotation)
            summary = inline((inspect.getdoc(member) or "").splitlines()[0])
            rows.append((f"`{name}` (property)", f"`{_cell(returns)}`", "computed", _cell(summary)))
    columns = 4 if any(row[3] for row in rows) else 3
    out = [f"{level} `{public(cls)}`", "", *markdown(inspect.getdoc(cls)), ""]
    out += ["| " + " | ".join(("field", "type", "default", "meaning")[:columns]) + " |", "|---" * columns + "|"]
    out += ["| " + " | ".join(row[:columns]) + " |" for row in rows]
    return [*out, ""]


def public(obj: Any) -> str:
    """``zoo.api.Name`` for what zoo.api exports, else the object's own module path."""
    import zoo.api

    name = obj.__name__
    return f"zoo.api.{name}" if name in zoo.api.__all__ else f"{obj.__module__}.{name}"


def function(fn: Callable[..., Any], level: str = "####") -> list[str]:
    """A function: heading, signature, docstring."""
    return [f"{level} `{public(fn)}`", "", "```python", signature(fn), "```", "", *markdown(inspect.getdoc(fn)), ""]


def protocol(cls: type, level: str = "####") -> list[str]:
    """A Protocol: heading, docstring, its attributes, then each method with its docstring."""
    out = [f"{level} `{public(cls)}` (protocol)", "", *markdown(inspect.getdoc(cls)), ""]
    for name, annotation in getattr(cls, "__annotations__", {}).items():
        out += [f"- attribute `{name}: {_annotation(annotation)}`"]
    if getattr(cls, "__annotations__", None):
        out.append("")
    for name, member in vars(cls).items():
        if name.startswith("_") or not inspect.isfunction(member):
            continue
        out += ["```python", signature(member), "```", "", *markdown(inspect.getdoc(member)), ""]
    return out


def hooks(module: Any) -> list[str]:
    """Every hook specification of ``module``, in source order."""
    found = [
        member for _, member in inspect.getmembers(module, inspect.isfunction)
        if hasattr(member, f"{module.PROJECT}_spec")
    ]
    found.sort(key=lambda f: f.__code__.co_firstlineno)
    out: list[str] = []
    for hook in found:
        out += [f"#### `{hook.__name__}`", "", "```python", "@zoo.hookimpl", f"def {signature(hook)}: ...", "```", ""]
        out += [*markdown(inspect.getdoc(hook)), ""]
    return out


def constants(rows: Iterable[tuple[str, object, str]]) -> list[str]:
    """A table of named values."""
    out = ["| name | value | meaning |", "|---|---|---|"]
    out += [f"| `{name}` | `{value!r}` | {meaning} |" for name, value, meaning in rows]
    return [*out, ""]


# -- the section --------------------------------------------------------------------


def section() -> str:
    """The generated reference, markers excluded."""
    from zoo.api import augment as augmentation
    from zoo.api import (
        backend,
        builders,
        control,
        conversion,
        data,
        epochs,
        errors,
        hookspecs,
        loading,
        paths,
        sizes,
        specs,
        version,
    )
    from zoo.api import config as recipe
    from zoo.plugins import discovery

    out = [
        "<!-- generated by docs/gen_plugin_reference.py from the docstrings; edit those, then rerun it -->",
        "",
        "## Reference",
        "",
        "Every name below is imported from `zoo.api` (`from zoo.api import ModelSpec, hookimpl`).",
        "",
        "### Constants",
        "",
        *constants([
            ("zoo.api.PLUGIN_API_VERSION", version.PLUGIN_API_VERSION, "the plugin contract this zoo provides"),
            ("zoo_plugin_api", ">=2.0,<3", "module attribute a plugin may set: the API versions it supports"),
            ("entry-point group", discovery.ENTRY_POINT_GROUP, "the entry-point group zoo loads"),
            (discovery.STRICT_ENV, "1", "any plugin failure or warning is fatal"),
            (discovery.DISABLE_ENV, "a,b", "comma-separated plugin or distribution names to skip"),
        ]),
        "### Hooks",
        "",
        *markdown(inspect.getdoc(hookspecs)),
        "",
        *hooks(hookspecs),
        "### Records",
        "",
        *markdown(inspect.getdoc(specs)),
        "",
    ]
    for cls in (specs.ModelSpec, specs.DatasetSpec, specs.DataFile, specs.BackendSpec):
        out += record(cls)
    out += ["### Building models", "", *markdown(inspect.getdoc(builders)), ""]
    out += function(builders.call_builder) + function(sizes.check_input_size) + function(loading.load_object)
    out += ["### The backend contract", "", *markdown(inspect.getdoc(backend)), ""]
    out += protocol(backend.Backend)
    out += protocol(backend.TrainingProgress)
    for cls in (
        backend.TrainingData, data.Split, backend.Preprocessing, augmentation.Augmentation, recipe.TrainConfig,
        epochs.EpochMetrics, backend.FitResult, backend.ModelSummary, backend.LayerRow, backend.BenchConfig,
        backend.Throughput,
    ):
        out += record(cls)
    out += ["### Weight maps: converting between backends", "", *markdown(inspect.getdoc(conversion)), ""]
    out += record(conversion.LayerMap) + record(conversion.WeightMap) + protocol(conversion.ConvertibleBackend)
    out += ["### Run control: states, stops, resumes", "", *markdown(inspect.getdoc(control)), ""]
    out += record(control.RunControl) + record(control.ResumePoint) + protocol(control.StateSink)
    out += ["### Where to keep files", "", *markdown(inspect.getdoc(paths)), ""]
    out += function(paths.zoo_home) + function(paths.cache_home)
    out += ["### Errors", "", *markdown(inspect.getdoc(errors)), ""]
    for cls in (errors.ZooError, errors.UsageError, errors.PluginError, errors.TrainingInterrupted,
                errors.NonFiniteLoss, errors.DiskFull):
        out += [f"#### `{public(cls)}`", "", *markdown(inspect.getdoc(cls)), ""]
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(line.rstrip() for line in out) + "\n"


def render(document: str) -> str:
    """``document`` with the text between the markers replaced by :func:`section`."""
    start, end = document.find(START), document.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"{DOC}: markers {START} ... {END} not found")
    return document[: start + len(START)] + "\n" + section() + document[end:]


def main(argv: list[str] | None = None) -> int:
    """Rewrite docs/plugins.md, or with ``--check`` report whether it is stale (exit 1)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/plugins.md is out of date")
    args = parser.parse_args(argv)
    current = DOC.read_text(encoding="utf-8")
    wanted = render(current)
    if args.check:
        if current == wanted:
            return 0
        diff = difflib.unified_diff(
            current.splitlines(), wanted.splitlines(), "docs/plugins.md", "generated", lineterm=""
        )
        print("\n".join(list(diff)[:40]), file=sys.stderr)
        print("docs/plugins.md is stale: run 'python docs/gen_plugin_reference.py'", file=sys.stderr)
        return 1
    if current != wanted:
        DOC.write_text(wanted, encoding="utf-8")
        print(f"updated {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

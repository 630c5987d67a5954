"""Named local datasets: the ``ZOO_HOME/datasets.json`` registry, and paths given as ``--dataset``.

``zoo data add NAME PATH`` records a source and its options here; the
``local-datasets`` entry point registers one :class:`LocalDatasetSpec` per
record through ``zoo_register_datasets``, like any plugin, so ``zoo data list``
shows them without reading a pixel. The file is small JSON, rewritten
atomically under an exclusive lock (two ``zoo data add`` at once both land).

A ``--dataset`` that is no registered name but a path (it holds a ``/``,
starts with ``.`` or ``~``, ends in ``.npz``/``.csv``, or exists) is a local
dataset with the default options, named by its absolute path.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from zoo.api.atomic import atomic_write_text
from zoo.api.errors import UsageError, ZooError
from zoo.api.hookspecs import hookimpl
from zoo.api.paths import zoo_home, zoo_home_path
from zoo.api.specs import DatasetSpec
from zoo.data.local_spec import LOCAL_LOADER, LocalDatasetSpec, LocalOptions
from zoo.plugins.discovery import PluginInfo

REGISTRY_NAME = "datasets.json"
FORMAT = "zoo-local-datasets"
FORMAT_VERSION = 1
PLUGIN_NAME = "local-datasets"
_SOURCE_SUFFIXES = (".npz", ".csv")
# Who a path given as --dataset is attributed to: the same built-in plugin as the registered ones.
PATH_PLUGIN = PluginInfo(PLUGIN_NAME, "zoo", "", __name__, ("zoo_register_datasets",))

Record = dict[str, Any]


def registry_path() -> Path:
    """``ZOO_HOME/datasets.json`` (not created by reading)."""
    return zoo_home_path() / REGISTRY_NAME


def read_records(path: Path | None = None) -> dict[str, Record]:
    """Every record, by name; an absent file is an empty registry."""
    path = path or registry_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ZooError(f"cannot read {path} ({exc.strerror or exc})") from None
    try:
        data = json.loads(text)
        if data.get("format") != FORMAT or not isinstance(data.get("datasets"), dict):
            raise ValueError("not a zoo local-datasets file")
    except (ValueError, AttributeError) as exc:
        raise ZooError(f"{path} is damaged ({exc}); fix it or delete it (your image files are not in it)") from None
    if data.get("format_version", 0) > FORMAT_VERSION:
        raise ZooError(f"{path} was written by a newer zoo (format {data['format_version']}); upgrade zoo")
    return dict(data["datasets"])


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path.lock`` while reading, changing and rewriting ``path``."""
    try:
        import fcntl
    except ImportError:  # not POSIX: the atomic rename still keeps the file whole
        yield
        return
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _write(path: Path, records: dict[str, Record]) -> None:
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "datasets": dict(sorted(records.items()))}
    atomic_write_text(path, json.dumps(payload, indent=2) + "\n")


@contextlib.contextmanager
def _editing() -> Iterator[dict[str, Record]]:
    """The records, locked; what the block leaves in the dict is written back atomically."""
    path = zoo_home() / REGISTRY_NAME
    try:
        with _locked(path):
            records = read_records(path)
            yield records
            _write(path, records)
    except OSError as exc:
        raise ZooError(f"cannot update {path} ({exc.strerror or exc}); check that ZOO_HOME is writable") from None


def spec_record(spec: LocalDatasetSpec) -> Record:
    """What the registry keeps of a decoded local dataset."""
    return {
        "source": spec.source,
        "options": spec.options.to_dict(),
        "summary": spec.summary,
        "augment": spec.augment,
        "classes": list(spec.classes),
        "shape": list(spec.shape),
        "mean": list(spec.mean),
        "std": list(spec.std),
    }


def add_record(spec: LocalDatasetSpec) -> None:
    """Register ``spec`` under its name; a name already taken is a usage error."""
    with _editing() as records:
        if spec.name in records:
            raise UsageError(
                f"dataset {spec.name!r} is already registered ({records[spec.name]['source']}); "
                f"'zoo data remove {spec.name}' first"
            )
        records[spec.name] = {**spec_record(spec), "added": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def remove_record(name: str) -> Record:
    """Forget ``name``; returns its record. The source files are never touched."""
    with _editing() as records:
        if name not in records:
            known = ", ".join(sorted(records)) or "none"
            raise UsageError(f"no local dataset {name!r} is registered (registered: {known}); see 'zoo data list'")
        return records.pop(name)


def update_record(spec: LocalDatasetSpec) -> None:
    """Refresh what the registry remembers (classes, shape, stats) after the files changed.

    Best effort: the record is only a summary for listing, so a read-only
    ``ZOO_HOME`` does not stop a run.
    """
    with contextlib.suppress(ZooError), _editing() as records:
        if spec.name in records:
            records[spec.name].update(spec_record(spec))


def spec_from_record(name: str, record: Record) -> LocalDatasetSpec:
    """The :class:`LocalDatasetSpec` a record describes (as last decoded)."""
    try:
        return LocalDatasetSpec(
            name=name,
            files=(),
            loader=LOCAL_LOADER,
            classes=tuple(record["classes"]),
            shape=tuple(record["shape"]),  # type: ignore[arg-type]
            mean=tuple(record["mean"]),
            std=tuple(record["std"]),
            summary=record.get("summary", ""),
            augment=record.get("augment", "none"),
            source=record["source"],
            options=LocalOptions.from_dict(record.get("options", {})),
        )
    except (KeyError, TypeError, ValueError, ZooError) as exc:
        raise ZooError(f"{registry_path()}: the record of {name!r} is damaged ({exc}); 'zoo data remove {name}' "
                       "and add it again") from None


@hookimpl
def zoo_register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    """Register the datasets ``zoo data add`` recorded in ``ZOO_HOME``."""
    for name, record in read_records().items():
        register(spec_from_record(name, record))


# -- paths as datasets ---------------------------------------------------------------


def is_path_reference(text: str) -> bool:
    """Whether a ``--dataset`` value that is no registered name means a path."""
    return (
        "/" in text
        or os.sep in text
        or text.startswith((".", "~"))
        or text.lower().endswith(_SOURCE_SUFFIXES)
        or os.path.exists(text)
    )


def absolute_source(text: str) -> str:
    """``text`` as an absolute, normalised path (symbolic links kept), checked to exist."""
    path = os.path.abspath(os.path.expanduser(text))
    if not os.path.exists(path):
        raise UsageError(f"dataset path {text} does not exist; give a folder of class folders, a .csv or a .npz")
    kind_ok = os.path.isdir(path) or path.lower().endswith(_SOURCE_SUFFIXES)
    if not kind_ok:
        raise UsageError(f"{text} is neither a folder nor a .csv or .npz file; see docs/datasets.md (your own data)")
    return path


def path_spec(text: str, options: LocalOptions | None = None) -> LocalDatasetSpec:
    """An unregistered, not yet decoded spec for the source at ``text`` (named by its absolute path)."""
    source = absolute_source(text)
    return LocalDatasetSpec(
        name=source, files=(), loader=LOCAL_LOADER, classes=(), shape=(0, 0, 1), mean=(0.0,), std=(1.0,),
        source=source, options=options or LocalOptions(),
    )

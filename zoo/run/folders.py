"""Run folders on disk and the run store: never reuse a folder, and re-register runs a store lost.

A run's default folder is ``zoo_home()/runs/<id>-<model>-<dataset>``. It is created
exclusively: when the name exists (a store that was reset hands out old ids again)
the run gets a fresh name, never the old folder. New ids also continue after the
highest id an existing folder is named after. ``zoo runs rebuild`` registers the runs
whose folders hold a verified ``checkpoint.json`` but which the store does not know.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePath
from typing import Any

from zoo.api.errors import ZooError

SIDECAR = "checkpoint.json"
LAST_STATE = Path("state") / "last.json"
_ID_PREFIX = re.compile(r"^(\d+)-")


def default_root(*, create: bool = True) -> Path:
    """``zoo_home()/runs``: where run folders go by default."""
    from zoo.api.paths import runs_dir, zoo_home

    return runs_dir() if create else zoo_home(create=False) / "runs"


def is_run_folder(path: Path) -> bool:
    """Whether ``path`` holds a checkpoint sidecar or a training state written by zoo."""
    return (path / SIDECAR).is_file() or (path / LAST_STATE).is_file()


def run_folders(root: Path) -> list[Path]:
    """``root`` itself when it is a run folder, else its sub-folders that are, sorted by name."""
    if not root.is_dir():
        return []
    if is_run_folder(root):
        return [root]
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir())
    except OSError:
        return []
    return [p for p in children if is_run_folder(p)]


def highest_folder_id(root: Path) -> int:
    """The highest run id a folder in ``root`` is named after (``12-alexnet-...`` is 12); 0 if none."""
    try:
        names = [entry.name for entry in root.iterdir()]
    except OSError:
        return 0
    ids = [int(match.group(1)) for name in names if (match := _ID_PREFIX.match(name))]
    return max(ids, default=0)


def run_folder_name(run_id: int, model: str, dataset: str) -> str:
    """``12-alexnet-torch-bn-fashion-mnist``: one path component whatever the names hold (a dataset
    given as a path contributes its last part; ``timm/resnet18`` becomes ``timm-resnet18``)."""
    parts = [_slug(model.replace("/", "-")), _slug(PurePath(dataset).name or dataset)]
    return "-".join([str(run_id), *parts])


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "-", text).strip("-.") or "data"


def create_run_folder(root: Path, name: str) -> Path:
    """Create ``root/name``, or ``root/name-2``, ``-3``, ... when it exists: never an existing folder."""
    root.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 10_000):
        candidate = root / (name if attempt == 1 else f"{name}-{attempt}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise ZooError(f"{root} holds 10,000 folders named {name}*; clean it up or pass `output` DIR")


def orphaned_folders_note(store: Any) -> str | None:
    """One line when ``store`` records no runs while the default root holds run folders, else None."""
    if store.run_count():
        return None
    root = default_root(create=False)
    found = len(run_folders(root))
    if not found:
        return None
    folders = "1 run folder is" if found == 1 else f"{found} run folders are"
    return (f"the run store {store.path} records no runs, but {folders} in {root}; "
            "'zoo runs rebuild' registers them again")


@dataclass
class RebuildReport:
    """What ``zoo runs rebuild`` did: runs registered, folders already known, folders skipped and why."""

    registered: list[tuple[int, str, Path]] = field(default_factory=list)
    known: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def rebuild(store: Any, roots: list[Path], *, dry_run: bool = False) -> RebuildReport:
    """Register every finished run under ``roots`` (run folders or their parents) that ``store`` lacks.

    Idempotent: a folder a run already records is left alone, so running it twice adds nothing.
    """
    from zoo.run.locks import folder_in_use

    report = RebuildReport()
    seen: set[Path] = set()
    for root in roots:
        for folder in run_folders(root):
            folder = folder.resolve()
            if folder in seen:
                continue
            seen.add(folder)
            if not (folder / SIDECAR).is_file():
                report.skipped.append((folder, "a training state but no checkpoint: an unfinished run"))
                continue
            if folder_in_use(folder):
                report.skipped.append((folder, "in use by a running zoo process"))
                continue
            try:
                fields = _run_fields(folder)
            except ZooError as exc:
                report.skipped.append((folder, str(exc)))
                continue
            if dry_run:
                if _known(store, folder):
                    report.known.append(folder)
                else:
                    report.registered.append((fields.get("preferred_id") or 0, fields["model"], folder))
                continue
            run_id = store.adopt_run(**fields)
            if run_id is None:
                report.known.append(folder)
            else:
                report.registered.append((run_id, fields["model"], folder))
    return report


def _known(store: Any, folder: Path) -> bool:
    return any(record.output_dir and Path(record.output_dir).resolve() == folder for record in store.list_runs())


def _run_fields(folder: Path) -> dict[str, Any]:
    """``RunStore.adopt_run``'s arguments from a folder's verified checkpoint and its last state's history."""
    from zoo.run.checkpoint import read_checkpoint
    from zoo.run.plan import reuse_key

    checkpoint = read_checkpoint(folder)  # checks the sidecar's schema and the weights' sha256
    meta = checkpoint.metadata
    recipe = meta.get("recipe") if isinstance(meta.get("recipe"), dict) else {}
    environment = meta.get("environment") if isinstance(meta.get("environment"), dict) else {}
    metrics = {k: float(v) for k, v in (meta.get("metrics") or {}).items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)}
    finished = _timestamp(meta.get("created")) or datetime.fromtimestamp(
        (folder / SIDECAR).stat().st_mtime).astimezone()
    started = finished - timedelta(seconds=metrics.get("train_seconds", 0.0))
    run_id = meta.get("run_id")
    return {
        "model": checkpoint.model, "backend": str(meta["backend"]), "dataset": str(meta["dataset"]),
        "recipe": recipe, "environment": environment,
        "reuse_key": reuse_key(checkpoint.model, str(meta["dataset"]), recipe, environment),
        "output_dir": folder, "started": _iso(started), "finished": _iso(finished),
        "epochs": _history(folder), "metrics": metrics,
        "artifacts": [("checkpoint", str(checkpoint.weights), str(meta["weights_sha256"]))],
        "preferred_id": run_id if isinstance(run_id, int) and not isinstance(run_id, bool) and run_id > 0 else None,
    }


def _history(folder: Path) -> list[dict[str, Any]]:
    """The epochs recorded in ``state/last.json`` (empty when there is none or it is unreadable)."""
    try:
        manifest = json.loads((folder / LAST_STATE).read_text(encoding="utf-8"))
        history = manifest.get("history", []) if isinstance(manifest, dict) else []
        return [dict(item) for item in history if isinstance(item, dict) and isinstance(item.get("epoch"), int)]
    except (OSError, ValueError, TypeError):
        return []


def _timestamp(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")

"""The part of the run store that records runs made elsewhere: folders found on disk
(``zoo runs rebuild``), runs a Ray task trained in a private store (``zoo.run.transfer``) and
checkpoints ``zoo convert`` moved to the other framework (``zoo.run.converted``)."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from zoo.run.records import EPOCH_FIELDS, epoch_values, utc_now
from zoo.run.sqlite_file import SqliteFile


def to_json(value: Mapping[str, Any]) -> str:
    """A mapping as the store keeps it: JSON text, keys sorted."""
    return json.dumps(dict(value), sort_keys=True, default=str)


def _insert_results(conn: sqlite3.Connection, run_id: int, epochs: Sequence[Mapping[str, Any]],
                    metrics: Mapping[str, float] | None, artifacts: Sequence[tuple[str, str, str]]) -> None:
    for epoch in epochs:
        conn.execute(
            f"INSERT OR REPLACE INTO epochs (run_id, {', '.join(EPOCH_FIELDS)})"
            f" VALUES (?, {', '.join('?' for _ in EPOCH_FIELDS)})", (run_id, *epoch_values(epoch)))
    conn.executemany("INSERT INTO metrics (run_id, name, value) VALUES (?, ?, ?)",
                     [(run_id, str(name), float(value)) for name, value in (metrics or {}).items()])
    conn.executemany("INSERT INTO artifacts (run_id, kind, path, sha256) VALUES (?, ?, ?, ?)",
                     [(run_id, kind, path, digest) for kind, path, digest in artifacts])


class ForeignRuns(SqliteFile):
    """Registering finished runs that no process of this store trained; :class:`zoo.run.store.RunStore`
    is the whole store (it sets ``_host`` and provides ``fail_run``)."""

    _host: str

    def fail_run(self, run_id: int, reason: str, *, status: str = "failed") -> None:
        raise NotImplementedError

    def adopt_run(
        self,
        *,
        model: str,
        backend: str,
        dataset: str,
        recipe: Mapping[str, Any],
        environment: Mapping[str, Any],
        reuse_key: str,
        output_dir: Path,
        started: str,
        finished: str,
        epochs: Sequence[Mapping[str, Any]] = (),
        metrics: Mapping[str, float] | None = None,
        artifacts: Sequence[tuple[str, str, str]] = (),
        preferred_id: int | None = None,
    ) -> int | None:
        """Register a finished run found on disk (``zoo runs rebuild``); returns its id, or None when a
        run already records ``output_dir`` (checked and inserted in one transaction: never twice).

        It keeps ``preferred_id`` (the id the folder's checkpoint recorded) when that id is free.
        """
        folder = str(Path(output_dir).resolve())
        with self._transaction() as conn:
            for (known,) in conn.execute("SELECT output_dir FROM runs WHERE output_dir IS NOT NULL"):
                if known == folder or Path(known).resolve() == Path(folder):
                    return None
            if any(conn.execute("SELECT 1 FROM artifacts WHERE path = ?", (path,)).fetchone()
                   for _, path, _ in artifacts):
                return None
            free = preferred_id is not None and conn.execute(
                "SELECT 1 FROM runs WHERE id = ?", (preferred_id,)).fetchone() is None
            cursor = conn.execute(
                "INSERT INTO runs (id, model, backend, dataset, recipe, environment, reuse_key, status, reason,"
                " output_dir, pid, hostname, started, finished, heartbeat)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 'finished', ?, ?, NULL, ?, ?, ?, ?)",
                (preferred_id if free else None, model, backend, dataset, to_json(recipe), to_json(environment),
                 reuse_key, "registered again by 'zoo runs rebuild' from its checkpoint.json", folder,
                 environment.get("hostname"), started, finished, finished),
            )
            run_id = int(cursor.lastrowid)
            _insert_results(conn, run_id, epochs, metrics, artifacts)
        return run_id

    def record_conversion(
        self,
        *,
        model: str,
        backend: str,
        dataset: str,
        recipe: Mapping[str, Any],
        environment: Mapping[str, Any],
        reuse_key: str,
        output_dir: Path,
        epochs: Sequence[Mapping[str, Any]],
        metrics: Mapping[str, float],
        artifacts: Sequence[tuple[str, str, str]],
        converted_from: Mapping[str, Any],
    ) -> int:
        """Register a converted checkpoint as a finished run of ``model`` (its ``fit_details`` hold
        ``converted_from``); a converted run already recorded in ``output_dir`` (a conversion written
        again with ``--overwrite``) is replaced, in the same transaction."""
        folder = str(Path(output_dir).resolve())
        now = utc_now()
        with self._transaction() as conn:
            conn.execute("DELETE FROM runs WHERE output_dir = ? AND fit_details LIKE '%\"converted_from\"%'",
                         (folder,))
            cursor = conn.execute(
                "INSERT INTO runs (model, backend, dataset, recipe, environment, reuse_key, status, output_dir,"
                " pid, hostname, started, finished, heartbeat, fit_details)"
                " VALUES (?, ?, ?, ?, ?, ?, 'finished', ?, NULL, ?, ?, ?, ?, ?)",
                (model, backend, dataset, to_json(recipe), to_json(environment), reuse_key, folder, self._host,
                 now, now, now, json.dumps({"converted_from": dict(converted_from)}, default=str)),
            )
            run_id = int(cursor.lastrowid)
            _insert_results(conn, run_id, epochs, metrics, artifacts)
        return run_id

    def import_run(self, record: Mapping[str, Any], place: Callable[[int], Path]) -> int:
        """Record a finished run trained elsewhere (a Ray task's private store, ``record`` as
        :func:`dataclasses.asdict` gives a :class:`RunRecord`) under a new id of this store.

        ``place(run_id)`` puts the run's files in their folder here and returns it. Until that is done the
        run reads ``running`` (owned by this process, so ``crashed`` should it die); then its epochs, metrics,
        artifacts (their paths moved to the new folder) and its original times land in one transaction.
        """
        now = utc_now()
        with self._transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO runs (model, backend, dataset, recipe, environment, reuse_key, status, pid, hostname,"
                " started, heartbeat) VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)",
                (record["model"], record["backend"], record["dataset"], to_json(record["recipe"]),
                 to_json(record["environment"]), record["reuse_key"], os.getpid(), self._host,
                 record.get("started") or now, now),
            )
            run_id = int(cursor.lastrowid)
        try:
            folder = place(run_id)
        except BaseException as exc:
            self.fail_run(run_id, f"its files could not be brought here: {type(exc).__name__}: {exc}")
            raise
        source = str(record.get("output_dir") or "")
        details = dict(record.get("fit_details") or {})
        with self._transaction() as conn:
            moved = [(a["kind"], str(folder) + str(a["path"])[len(source):]
                      if source and str(a["path"]).startswith(source) else str(a["path"]), a["sha256"])
                     for a in record.get("artifacts", ())]
            _insert_results(conn, run_id, record.get("epochs", ()), record.get("metrics"), moved)
            conn.execute(
                "UPDATE runs SET status = 'finished', finished = ?, heartbeat = ?, output_dir = ?, execution = ?,"
                " fit_details = ? WHERE id = ?",
                (record.get("finished") or utc_now(), utc_now(), str(folder), record.get("execution"),
                 json.dumps(details, default=str), run_id),
            )
        return run_id

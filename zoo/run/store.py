"""The run store: every training run, its epochs, metrics and artifacts, in one SQLite file.

The file is ``zoo_home()/runs.sqlite`` (``zoo.run.sqlite_file``: WAL, one short transaction per
write, read-only readers, a full disk named). A run's stored status is ``running``, ``finished``,
``failed`` or ``interrupted``. Readers see an *effective* status: a ``running`` run whose heartbeat
is older than ``stale_after`` seconds, or whose process on this host is gone, reads as ``crashed``.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.api.errors import DiskFull, UsageError, ZooError
from zoo.run.records import (
    EPOCH_FIELDS,
    STATUSES,
    RunRecord,
    epoch_values,
    parse_time,
    pid_alive,
    require_resumable,
    utc_now,
)
from zoo.run.store_foreign import ForeignRuns, to_json
from zoo.run.store_schema import SCHEMA_VERSION

if TYPE_CHECKING:
    from zoo.api.backend import EpochMetrics

STORE_NAME = "runs.sqlite"
STALE_AFTER = 120.0
BEAT_EVERY = 5.0  # seconds between a running run's heartbeats: a killed run's duration is right to within this


class RunStore(ForeignRuns):
    """The SQLite run store; ``path`` defaults to ``zoo_home()/runs.sqlite``."""

    def __init__(
        self, path: Path | None = None, *, stale_after: float = STALE_AFTER, read_only: bool = False
    ) -> None:
        try:
            if path is None:
                from zoo.api.paths import zoo_home

                path = zoo_home(create=not read_only) / STORE_NAME
            if not read_only:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            where = exc.filename or path
            raise ZooError(f"cannot create {where}: {exc.strerror}; set ZOO_HOME to a writable directory") from exc
        self.path = Path(path)
        self.stale_after = stale_after
        self.read_only = read_only
        self._host = socket.gethostname()
        self._uri: str | None = None  # read-only: the URI that opened the file; None: no file (no runs)
        with self._errors():
            if read_only:
                self._open_read_only()
            else:
                self._open_schema()
                self._keep_reserve()

    def _reopen_for_upgrade(self) -> None:
        RunStore(self.path, stale_after=self.stale_after)

    # -- writes -----------------------------------------------------------------

    def start_run(
        self,
        *,
        model: str,
        backend: str,
        dataset: str,
        recipe: Mapping[str, Any],
        environment: Mapping[str, Any],
        reuse_key: str,
        output_dir: str | None = None,
        after_id: int = 0,
    ) -> int:
        """Record a new ``running`` run by this process; returns its id, which is above ``after_id``
        (the highest id a run folder on disk is named after: a reset store never hands out an id
        that an old folder already carries)."""
        now = utc_now()
        with self._transaction() as conn:
            row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'runs'").fetchone()
            chosen = after_id + 1 if after_id >= (row[0] if row else 0) else None
            cursor = conn.execute(
                "INSERT INTO runs (id, model, backend, dataset, recipe, environment, reuse_key, status, output_dir,"
                " pid, hostname, started, heartbeat) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?)",
                (chosen, model, backend, dataset, to_json(recipe), to_json(environment), reuse_key,
                 None if output_dir is None else str(output_dir), os.getpid(), self._host, now, now),
            )
            return int(cursor.lastrowid)

    def heartbeat(self, run_id: int) -> None:
        """Mark run ``run_id`` as alive now."""
        with self._transaction() as conn:
            _require(conn, run_id)
            conn.execute("UPDATE runs SET heartbeat = ? WHERE id = ?", (utc_now(), run_id))

    def set_output_dir(self, run_id: int, output_dir: str) -> None:
        """Record where run ``run_id`` writes its files (when it is known only after ``start_run``)."""
        with self._transaction() as conn:
            _require(conn, run_id)
            conn.execute("UPDATE runs SET output_dir = ? WHERE id = ?", (str(output_dir), run_id))

    def set_fit_details(self, run_id: int, details: Mapping[str, Any]) -> None:
        """Record what the backend said about run ``run_id``'s fit (``FitResult.extra``): how it ran the
        steps (``execution``), notes such as "resumed on another device", where a resume started."""
        execution = details.get("execution")
        with self._transaction() as conn:
            _require(conn, run_id)
            conn.execute("UPDATE runs SET execution = ?, fit_details = ? WHERE id = ?",
                         (None if execution is None else str(execution), json.dumps(dict(details), default=str),
                          run_id))

    @contextmanager
    def keep_alive(self, run_id: int, every: float = BEAT_EVERY) -> Iterator[None]:
        """Beat run ``run_id``'s heartbeat from a background thread every ``every`` seconds.

        Without beats, other hosts would read a run in a long epoch as ``crashed``, and
        a killed run's duration (start to last beat) would stop at its last epoch.
        A failed beat is skipped, never raised.
        """
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(every):
                with suppress(ZooError):  # a busy store: the next beat retries
                    self.heartbeat(run_id)

        thread = threading.Thread(target=beat, name=f"zoo-run-{run_id}-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=1.0)

    def log_epoch(self, run_id: int, metrics: EpochMetrics | Mapping[str, Any]) -> None:
        """Record one epoch (replacing an earlier record of the same epoch) and beat the heartbeat."""
        values = epoch_values(metrics)
        with self._transaction() as conn:
            _require(conn, run_id)
            conn.execute(
                f"INSERT OR REPLACE INTO epochs (run_id, {', '.join(EPOCH_FIELDS)})"
                f" VALUES (?, {', '.join('?' for _ in EPOCH_FIELDS)})",
                (run_id, *values),
            )
            conn.execute("UPDATE runs SET heartbeat = ? WHERE id = ?", (utc_now(), run_id))

    def log_metrics(self, run_id: int, metrics: Mapping[str, float]) -> None:
        """Record (or overwrite) named scalar metrics of run ``run_id``."""
        rows = [(run_id, str(name), float(value)) for name, value in metrics.items()]
        with self._transaction() as conn:
            _require(conn, run_id)
            conn.executemany(
                "INSERT INTO metrics (run_id, name, value) VALUES (?, ?, ?)"
                " ON CONFLICT (run_id, name) DO UPDATE SET value = excluded.value",
                rows,
            )

    def add_artifact(self, run_id: int, kind: str, path: str, sha256: str) -> None:
        """Record a file the run wrote (``kind`` e.g. ``checkpoint``); re-adding updates the digest."""
        with self._transaction() as conn:
            _require(conn, run_id)
            conn.execute(
                "INSERT INTO artifacts (run_id, kind, path, sha256) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (run_id, kind, path) DO UPDATE SET sha256 = excluded.sha256",
                (run_id, kind, str(path), sha256),
            )

    def reopen_run(self, run_id: int) -> RunRecord:
        """Mark an interrupted, crashed or failed run ``running`` again, owned by this process (``--resume``)."""
        with self._transaction() as conn:
            row = _require(conn, run_id)
            status = self._effective_status(row)
            require_resumable(run_id, status)
            now = utc_now()
            conn.execute(
                "UPDATE runs SET status = 'running', reason = NULL, finished = NULL, pid = ?, hostname = ?,"
                " heartbeat = ? WHERE id = ?",
                (os.getpid(), self._host, now, run_id),
            )
        return self.get(run_id)

    def continue_run(self, run_id: int, *, recipe: Mapping[str, Any], reuse_key: str) -> RunRecord:
        """Mark a finished converted run ``running`` again, owned by this process, with the ``recipe`` it now
        trains to and a new ``reuse_key`` (``zoo train --resume`` on a converted run: ``zoo.run.converted``)."""
        with self._transaction() as conn:
            row = _require(conn, run_id)
            if row["status"] != "finished":
                raise UsageError(f"run {run_id} is {self._effective_status(row)}; only a finished converted run "
                                 "trains on")
            now = utc_now()
            conn.execute(
                "UPDATE runs SET status = 'running', reason = NULL, finished = NULL, pid = ?, hostname = ?,"
                " heartbeat = ?, recipe = ?, reuse_key = ? WHERE id = ?",
                (os.getpid(), self._host, now, to_json(recipe), reuse_key, run_id),
            )
        return self.get(run_id)

    def finish_run(self, run_id: int) -> None:
        """Mark a running run ``finished``."""
        self._end(run_id, "finished", None)

    def fail_run(self, run_id: int, reason: str, *, status: str = "failed") -> None:
        """Mark a running run ``failed`` (or ``interrupted``) with a one-line ``reason``."""
        if status not in ("failed", "interrupted"):
            raise ValueError(f"status must be 'failed' or 'interrupted', got {status!r}")
        self._end(run_id, status, reason)

    def _end(self, run_id: int, status: str, reason: str | None) -> None:
        try:
            self._write_end(run_id, status, reason)
        except DiskFull:
            if not self._release_reserve():
                raise
            self._write_end(run_id, status, reason)  # the reserve's room holds this one record

    def _write_end(self, run_id: int, status: str, reason: str | None) -> None:
        now = utc_now()
        with self._transaction() as conn:
            stored = _require(conn, run_id)["status"]
            if stored != "running":
                raise ZooError(f"run {run_id} is already {stored}; only a running run can become {status}")
            conn.execute(
                "UPDATE runs SET status = ?, reason = ?, finished = ?, heartbeat = ? WHERE id = ?",
                (status, reason, now, now, run_id),
            )

    def remove(self, run_id: int) -> RunRecord:
        """Delete run ``run_id`` with its epochs, metrics and artifact rows; returns what was removed.

        Files on disk are left alone (``zoo runs rm --delete-files`` removes the output directory).
        """
        with self._transaction() as conn:
            record = self._load(conn, [_require(conn, run_id)])[0]
            conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        return record

    # -- reads ------------------------------------------------------------------

    def run_count(self) -> int:
        """How many runs the store holds."""
        with self._transaction(write=False) as conn:
            return int(conn.execute("SELECT count(*) FROM runs").fetchone()[0])

    def get(self, run_id: int) -> RunRecord:
        """Run ``run_id``; ``UsageError`` if there is none."""
        with self._transaction(write=False) as conn:
            return self._load(conn, [_require(conn, run_id)])[0]

    def resolve(self, ref: str) -> int:
        """The id a user means by ``ref``: a run number or ``last`` (the latest run)."""
        text = str(ref).strip()
        with self._transaction(write=False) as conn:
            if text.lower() == "last":
                row = conn.execute("SELECT max(id) FROM runs").fetchone()
                if row[0] is None:
                    raise UsageError("no runs recorded yet; train one with 'zoo train'")
                return int(row[0])
            if not text.isdecimal():
                raise UsageError(f"a run is a number or 'last', got {ref!r}; see 'zoo runs list'")
            return int(_require(conn, int(text))["id"])

    def list_runs(
        self, *, model: str | None = None, dataset: str | None = None, status: str | None = None
    ) -> list[RunRecord]:
        """Runs in id order, filtered by model glob, dataset and effective status (all case-insensitive)."""
        if status is not None and status.lower() not in STATUSES:
            raise UsageError(f"`status` must be one of {', '.join(STATUSES)}, got {status!r}")
        query, params = "SELECT * FROM runs", []
        if dataset is not None:
            query += " WHERE lower(dataset) = lower(?)"
            params.append(dataset)
        with self._transaction(write=False) as conn:
            rows = conn.execute(query + " ORDER BY id", params).fetchall()
            if model is not None:
                rows = [row for row in rows if fnmatchcase(row["model"].lower(), model.lower())]
            records = self._load(conn, rows)
        if status is not None:
            records = [record for record in records if record.status == status.lower()]
        return records

    def find_finished(self, reuse_key: str) -> RunRecord | None:
        """The most recently finished run recorded with ``reuse_key``, or None."""
        with self._transaction(write=False) as conn:
            row = conn.execute(
                "SELECT * FROM runs WHERE reuse_key = ? AND status = 'finished'"
                " ORDER BY finished DESC, id DESC LIMIT 1",
                (reuse_key,),
            ).fetchone()
            return None if row is None else self._load(conn, [row])[0]

    def _load(self, conn: sqlite3.Connection, rows: Sequence[sqlite3.Row]) -> list[RunRecord]:
        """Records for ``rows`` of ``runs``, with their child rows, in one snapshot."""
        ids = [row["id"] for row in rows]
        epochs: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        metrics: dict[int, dict[str, float]] = {i: {} for i in ids}
        artifacts: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        for chunk in _chunks(ids, 500):
            marks = ", ".join("?" for _ in chunk)
            for row in conn.execute(f"SELECT * FROM epochs WHERE run_id IN ({marks}) ORDER BY epoch", chunk):
                epochs[row["run_id"]].append({name: row[name] for name in EPOCH_FIELDS})
            for row in conn.execute(f"SELECT * FROM metrics WHERE run_id IN ({marks}) ORDER BY name", chunk):
                metrics[row["run_id"]][row["name"]] = row["value"]
            for row in conn.execute(f"SELECT * FROM artifacts WHERE run_id IN ({marks}) ORDER BY rowid", chunk):
                artifacts[row["run_id"]].append({"kind": row["kind"], "path": row["path"], "sha256": row["sha256"]})
        return [
            RunRecord(
                id=row["id"], model=row["model"], backend=row["backend"], dataset=row["dataset"],
                recipe=json.loads(row["recipe"]), environment=json.loads(row["environment"]),
                reuse_key=row["reuse_key"], status=self._effective_status(row), reason=row["reason"],
                output_dir=row["output_dir"], started=row["started"], finished=row["finished"],
                epochs=epochs[row["id"]], metrics=metrics[row["id"]], artifacts=artifacts[row["id"]],
                pid=row["pid"], hostname=row["hostname"], heartbeat=row["heartbeat"], execution=row["execution"],
                fit_details=json.loads(row["fit_details"] or "{}"),
            )
            for row in rows
        ]

    def _effective_status(self, row: sqlite3.Row) -> str:
        if row["status"] != "running":
            return row["status"]
        beat = parse_time(row["heartbeat"])
        if beat is not None and (datetime.now(timezone.utc) - beat).total_seconds() > self.stale_after:
            return "crashed"
        if row["hostname"] == self._host and row["pid"] is not None and not pid_alive(row["pid"]):
            return "crashed"
        return "running"


def _require(conn: sqlite3.Connection, run_id: int) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM runs WHERE id = ?", (int(run_id),)).fetchone()
    if row is None:
        raise UsageError(f"no run {run_id}; see 'zoo runs list'")
    return row


def _chunks(items: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


__all__ = ["SCHEMA_VERSION", "STALE_AFTER", "STATUSES", "RunRecord", "RunStore"]

"""The run store: every training run, its epochs, metrics and artifacts, in one SQLite file.

The file is ``zoo_home()/runs.sqlite``. It is opened in WAL mode with a busy
timeout, and every write is one short transaction, so several processes can
record runs at once and a process killed mid-write leaves the file intact.
Each operation opens its own connection: a store is safe to use from threads
and after ``fork``.

A run's stored status is ``running``, ``finished``, ``failed`` or
``interrupted``. Readers see an *effective* status: a ``running`` run whose
heartbeat is older than ``stale_after`` seconds, or whose process on this
host is gone, reads as ``crashed``.

``RunStore(read_only=True)`` never writes (no schema upgrade, no journal): it
reads a store on a full disk or in a read-only ``ZOO_HOME``. A full disk is a
:class:`~zoo.errors.DiskFull` error naming the file; the store keeps a small
reserve file beside itself that it gives up to record why a run failed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import sys
import threading
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.errors import DiskFull, UsageError, ZooError
from zoo.runs_schema import MIGRATIONS, SCHEMA_VERSION, migrate, too_new

if TYPE_CHECKING:
    from zoo.backend import EpochMetrics

STORE_NAME = "runs.sqlite"
STALE_AFTER = 120.0
BEAT_EVERY = 5.0  # seconds between a running run's heartbeats: a killed run's duration is right to within this
BUSY_TIMEOUT = 30.0
# Given up on a full disk so that the failure itself can still be recorded (a few WAL pages and the index).
RESERVE_BYTES = 256 << 10
SQLITE_IOERR, SQLITE_FULL = 10, 13
STORED_STATUSES = ("running", "finished", "failed", "interrupted")
STATUSES = (*STORED_STATUSES, "crashed")
EPOCH_FIELDS = (
    "epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "images_per_sec", "seconds", "lr",
    "warmup_steps", "warmup_seconds", "steady_images_per_sec",
)
_EPOCH_INTEGERS = ("epoch", "warmup_steps")
_EPOCH_DEFAULTS = {"warmup_steps": 0, "warmup_seconds": 0.0}  # an epoch logged without them (older backends)



def utc_now() -> str:
    """The current UTC time as ISO 8601 with milliseconds (sorts as text)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (POSIX; assumed alive elsewhere)."""
    if sys.platform == "win32" or pid <= 0:
        return True  # os.kill(pid, 0) would terminate the process on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class RunRecord:
    """One recorded run as readers see it.

    ``status`` is the effective status (``crashed`` for a ``running`` run whose
    process is gone); timestamps are ISO 8601 UTC text; ``epochs`` are dicts
    with the :class:`~zoo.backend.EpochMetrics` fields, in epoch order.
    """

    id: int
    model: str
    backend: str
    dataset: str
    recipe: dict[str, Any]
    environment: dict[str, Any]
    reuse_key: str
    status: str
    reason: str | None
    output_dir: str | None
    started: str
    finished: str | None
    epochs: list[dict[str, Any]]
    metrics: dict[str, float]
    artifacts: list[dict[str, Any]]
    pid: int | None = None
    hostname: str | None = None
    heartbeat: str | None = None
    execution: str | None = None  # how the backend ran the steps (e.g. eager, cuda-graphs); None before it said

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish; to now while running; to the last heartbeat if crashed."""
        start = _parse_time(self.started)
        if start is None:
            return None
        if self.finished:
            end = _parse_time(self.finished)
        elif self.status == "running":
            end = datetime.now(timezone.utc)
        else:
            end = _parse_time(self.heartbeat)
        return None if end is None else max(0.0, (end - start).total_seconds())

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON, with ``duration`` in seconds."""
        data = asdict(self)
        data["duration"] = self.duration
        return data


class RunStore:
    """The SQLite run store; ``path`` defaults to ``zoo_home()/runs.sqlite``."""

    def __init__(
        self, path: Path | None = None, *, stale_after: float = STALE_AFTER, read_only: bool = False
    ) -> None:
        try:
            if path is None:
                from zoo.paths import zoo_home

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

    # -- connections and schema -------------------------------------------------

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn SQLite's operational errors into one-line ``ZooError`` s."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if self._disk_full(exc):
                raise DiskFull(
                    f"No space left on device: cannot write to the run store {self.path} ({text}); free some space"
                ) from exc
            if "locked" in text or "busy" in text:
                raise ZooError(
                    f"run store {self.path} stayed locked for {BUSY_TIMEOUT:g} s by another process; try again"
                ) from exc
            raise ZooError(f"cannot use run store {self.path}: {text}; check the file and its directory") from exc
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.IntegrityError):
                raise
            raise ZooError(
                f"{self.path} is not a readable zoo run store ({exc}); move it aside or set ZOO_HOME"
            ) from exc

    def _disk_full(self, exc: sqlite3.OperationalError) -> bool:
        """SQLITE_FULL, or an I/O error on a file system with (next to) no space left."""
        code = getattr(exc, "sqlite_errorcode", None)
        primary = code & 0xFF if isinstance(code, int) else None
        if primary == SQLITE_FULL or "database or disk is full" in str(exc):
            return True
        if primary == SQLITE_IOERR or "disk I/O error" in str(exc):
            try:
                return shutil.disk_usage(self.path.parent).free < (1 << 20)
            except OSError:
                return False
        return False

    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            return self._connect_read_only()
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")  # with WAL: a killed process never loses a commit
        return conn

    def _connect_read_only(self) -> sqlite3.Connection:
        if self._uri is None:  # no store file yet: an empty, in-memory store of the current schema
            conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            migrate(conn, MIGRATIONS)
        else:
            conn = sqlite3.connect(self._uri, uri=True, timeout=BUSY_TIMEOUT, isolation_level=None,
                                   check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
        conn.row_factory = sqlite3.Row
        return conn

    def _open_read_only(self) -> None:
        """Find a way to read the file without writing a byte: ``mode=ro`` (which needs the WAL index
        to exist or be creatable), else ``immutable=1`` (a read-only or full file system, where
        nothing can be writing it)."""
        if self.path.parent.exists() and not self.path.parent.is_dir():
            raise ZooError(f"{self.path.parent} is not a directory; set ZOO_HOME to zoo's directory")
        if not self.path.is_file() or self.path.stat().st_size == 0:
            return
        quoted = urllib.parse.quote(str(self.path.resolve()))
        failure: sqlite3.Error | None = None
        for flags in ("mode=ro", "immutable=1"):
            self._uri = f"file:{quoted}?{flags}"
            try:
                conn = self._connect()
                try:
                    version = conn.execute("PRAGMA user_version").fetchone()[0]
                    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                finally:
                    conn.close()
                break
            except sqlite3.OperationalError as exc:
                failure = exc
        else:
            assert failure is not None
            raise failure
        if version > SCHEMA_VERSION:
            raise too_new(self.path, version, SCHEMA_VERSION)
        if version == 0:
            self._uri = None  # an empty file (': > runs.sqlite'): no runs
        elif version < SCHEMA_VERSION:
            RunStore(self.path, stale_after=self.stale_after)  # upgrading needs a writer, once

    def _keep_reserve(self) -> None:
        """Make sure the reserve file exists while there is room for it (a no-op when it does)."""
        reserve = self._reserve_path
        if reserve.exists():
            return
        try:
            with open(reserve, "wb") as handle:
                if hasattr(os, "posix_fallocate"):
                    os.posix_fallocate(handle.fileno(), 0, RESERVE_BYTES)
                else:  # pragma: no cover - macOS, Windows
                    handle.write(b"\0" * RESERVE_BYTES)
        except OSError:
            with suppress(OSError):
                reserve.unlink()

    @property
    def _reserve_path(self) -> Path:
        return self.path.with_name(f".{self.path.name}.reserve")

    def _release_reserve(self) -> bool:
        """Delete the reserve file to make room; whether there was one."""
        try:
            self._reserve_path.unlink()
        except OSError:
            return False
        return True

    @contextmanager
    def _transaction(self, *, write: bool = True) -> Iterator[sqlite3.Connection]:
        """One connection, one transaction: committed on success, rolled back on any error."""
        if write and self.read_only:
            raise ZooError(f"run store {self.path} was opened read-only; nothing can be recorded")
        with self._errors():
            conn = self._connect()
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield conn
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            finally:
                conn.close()

    def _open_schema(self) -> None:
        conn = self._connect()
        try:
            self._check_version(conn)
            conn.execute("PRAGMA journal_mode = WAL")
            migrate(conn, MIGRATIONS, path=self.path)
        finally:
            conn.close()

    def _check_version(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise too_new(self.path, version, SCHEMA_VERSION)

    @property
    def schema_version(self) -> int:
        """The schema version stored in the file."""
        with self._transaction(write=False) as conn:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])

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
                (chosen, model, backend, dataset, _to_json(recipe), _to_json(environment), reuse_key,
                 None if output_dir is None else str(output_dir), os.getpid(), self._host, now, now),
            )
            return int(cursor.lastrowid)

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
                (preferred_id if free else None, model, backend, dataset, _to_json(recipe), _to_json(environment),
                 reuse_key, "registered again by 'zoo runs rebuild' from its checkpoint.json", folder,
                 environment.get("hostname"), started, finished, finished),
            )
            run_id = int(cursor.lastrowid)
            for epoch in epochs:
                conn.execute(
                    f"INSERT OR REPLACE INTO epochs (run_id, {', '.join(EPOCH_FIELDS)})"
                    f" VALUES (?, {', '.join('?' for _ in EPOCH_FIELDS)})", (run_id, *_epoch_values(epoch)))
            conn.executemany("INSERT INTO metrics (run_id, name, value) VALUES (?, ?, ?)",
                             [(run_id, str(name), float(value)) for name, value in (metrics or {}).items()])
            conn.executemany("INSERT INTO artifacts (run_id, kind, path, sha256) VALUES (?, ?, ?, ?)",
                             [(run_id, kind, path, digest) for kind, path, digest in artifacts])
        return run_id

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

    def set_execution(self, run_id: int, execution: str) -> None:
        """Record how the backend ran run ``run_id``'s training steps (``FitResult.extra["execution"]``)."""
        with self._transaction() as conn:
            _require(conn, run_id)
            conn.execute("UPDATE runs SET execution = ? WHERE id = ?", (str(execution), run_id))

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
        values = _epoch_values(metrics)
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
            if status not in ("interrupted", "crashed", "failed"):
                raise UsageError(f"run {run_id} is {status}; only an interrupted, crashed or failed run can be resumed")
            now = utc_now()
            conn.execute(
                "UPDATE runs SET status = 'running', reason = NULL, finished = NULL, pid = ?, hostname = ?,"
                " heartbeat = ? WHERE id = ?",
                (os.getpid(), self._host, now, run_id),
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
            raise UsageError(f"--status must be one of {', '.join(STATUSES)}, got {status!r}")
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
            )
            for row in rows
        ]

    def _effective_status(self, row: sqlite3.Row) -> str:
        if row["status"] != "running":
            return row["status"]
        beat = _parse_time(row["heartbeat"])
        if beat is not None and (datetime.now(timezone.utc) - beat).total_seconds() > self.stale_after:
            return "crashed"
        if row["hostname"] == self._host and row["pid"] is not None and not _pid_alive(row["pid"]):
            return "crashed"
        return "running"


def _require(conn: sqlite3.Connection, run_id: int) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM runs WHERE id = ?", (int(run_id),)).fetchone()
    if row is None:
        raise UsageError(f"no run {run_id}; see 'zoo runs list'")
    return row


def _to_json(value: Mapping[str, Any]) -> str:
    return json.dumps(dict(value), sort_keys=True, default=str)


def _epoch_values(metrics: EpochMetrics | Mapping[str, Any]) -> tuple[Any, ...]:
    get = metrics.get if isinstance(metrics, Mapping) else lambda name: getattr(metrics, name, None)
    values: list[Any] = []
    for name in EPOCH_FIELDS:
        value = get(name)
        if value is None:
            value = _EPOCH_DEFAULTS.get(name)
        values.append(None if value is None else int(value) if name in _EPOCH_INTEGERS else float(value))
    return tuple(values)


def _chunks(items: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


__all__ = ["SCHEMA_VERSION", "STALE_AFTER", "STATUSES", "RunRecord", "RunStore"]

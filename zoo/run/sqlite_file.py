"""One SQLite file shared by processes: WAL, short transactions, read-only readers, a full disk named.

Every write is one short transaction on its own connection, so several processes can write at
once, a process killed mid-write leaves the file intact, and a store object is safe to use from
threads and after ``fork``. ``read_only=True`` never writes a byte (no schema upgrade, no journal):
it reads a file on a full disk or in a read-only directory. A full disk is a
:class:`~zoo.api.DiskFull` error naming the file; a small reserve file kept beside it is given up
so that a failure can still be recorded.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from zoo.api.errors import DiskFull, ZooError
from zoo.run.store_schema import MIGRATIONS, SCHEMA_VERSION, migrate, too_new

BUSY_TIMEOUT = 30.0
# Given up on a full disk so that the failure itself can still be recorded (a few WAL pages and the index).
RESERVE_BYTES = 256 << 10
SQLITE_IOERR, SQLITE_FULL = 10, 13


class SqliteFile:
    """The store's file: connections, transactions, schema and the reserve; :class:`RunStore` adds the runs."""

    path: Path
    read_only: bool
    _uri: str | None  # read-only: the URI that opened the file; None: no file (no runs)

    def _reopen_for_upgrade(self) -> None:
        """Upgrade an older schema in place (which needs a writer), once."""
        raise NotImplementedError


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
            self._reopen_for_upgrade()

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


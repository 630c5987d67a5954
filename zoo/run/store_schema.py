"""The run store's schema: ordered migrations, versioned by ``PRAGMA user_version``.

Version 0 is an empty file. ``MIGRATIONS[i]`` takes the schema from version
``i`` to ``i + 1``; released migrations are never edited, a schema change
appends one. Every pending migration runs in one transaction, so a file is
always at exactly one known version.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from zoo.api.errors import ZooError

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: the initial schema
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            model TEXT NOT NULL,
            backend TEXT NOT NULL,
            dataset TEXT NOT NULL,
            recipe TEXT NOT NULL DEFAULT '{}',
            environment TEXT NOT NULL DEFAULT '{}',
            reuse_key TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'finished', 'failed', 'interrupted')),
            reason TEXT,
            output_dir TEXT,
            pid INTEGER,
            hostname TEXT,
            started TEXT NOT NULL,
            finished TEXT,
            heartbeat TEXT NOT NULL
        )""",
        "CREATE INDEX runs_by_reuse_key ON runs (reuse_key, status)",
        """CREATE TABLE epochs (
            run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            epoch INTEGER NOT NULL,
            train_loss REAL,
            train_accuracy REAL,
            val_loss REAL,
            val_accuracy REAL,
            images_per_sec REAL,
            seconds REAL,
            lr REAL,
            PRIMARY KEY (run_id, epoch)
        )""",
        """CREATE TABLE metrics (
            run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            value REAL,
            PRIMARY KEY (run_id, name)
        )""",
        """CREATE TABLE artifacts (
            run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            path TEXT NOT NULL,
            sha256 TEXT,
            UNIQUE (run_id, kind, path)
        )""",
    ),
    (  # 2: steady-state figures per epoch (issue 24), and how the backend ran the steps
        "ALTER TABLE epochs ADD COLUMN warmup_steps INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE epochs ADD COLUMN warmup_seconds REAL NOT NULL DEFAULT 0",
        "ALTER TABLE epochs ADD COLUMN steady_images_per_sec REAL",
        "ALTER TABLE runs ADD COLUMN execution TEXT",
    ),
    (  # 3: what the backend said about the fit (FitResult.extra: notes, where a resume started), as JSON
        "ALTER TABLE runs ADD COLUMN fit_details TEXT",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, migrations: Sequence[Sequence[str]], *, path: Path | str = "") -> int:
    """Bring the database on ``conn`` to version ``len(migrations)`` in one transaction; returns it.

    The version lives in ``PRAGMA user_version`` (0 for a new file). A file at a
    newer version than ``migrations`` know is refused with a ``ZooError``.
    """
    target = len(migrations)
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > target:
            raise too_new(path, version, target)
        for statements in migrations[version:]:
            for statement in statements:
                conn.execute(statement)
        if version < target:
            conn.execute(f"PRAGMA user_version = {int(target)}")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return target


def too_new(path: Path | str, version: int, known: int) -> ZooError:
    """The error for a file written by a newer zoo."""
    return ZooError(
        f"run store {path} has schema version {version}, newer than this zoo knows ({known}); upgrade zoo"
    )

"""The run store on real SQLite files: schema, round trips, filters, crashes and concurrent writers."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest

from zoo.api.backend import EpochMetrics
from zoo.api.errors import UsageError, ZooError
from zoo.run.store import SCHEMA_VERSION, RunStore
from zoo.run.store_schema import MIGRATIONS, migrate

POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals and pids")


def epoch(n: int, *, val: bool = True) -> EpochMetrics:
    return EpochMetrics(
        epoch=n, train_loss=1.0 / n, train_accuracy=0.5 + n / 100, val_loss=1.5 / n if val else None,
        val_accuracy=0.4 + n / 100 if val else None, images_per_sec=1000.0 + n, seconds=2.0, lr=1e-3,
    )


def start(store: RunStore, model: str = "alexnet-torch", dataset: str = "fashion-mnist", key: str = "key") -> int:
    return store.start_run(
        model=model, backend=model.split("-")[1], dataset=dataset, recipe={"lr": 1e-3, "epochs": 2},
        environment={"python": "3.11"}, reuse_key=key,
    )


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(tmp_path / "runs.sqlite")


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path)


# -- schema ---------------------------------------------------------------------


def test_new_store_has_current_schema_in_wal_mode(store: RunStore) -> None:
    assert store.schema_version == SCHEMA_VERSION == len(MIGRATIONS)
    with raw(store.path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"runs", "epochs", "metrics", "artifacts"} <= tables
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    RunStore(store.path)  # reopening an up-to-date file is a no-op
    assert store.schema_version == SCHEMA_VERSION


def test_default_location_is_zoo_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))
    assert RunStore().path == tmp_path / "home" / "runs.sqlite"
    assert (tmp_path / "home" / "runs.sqlite").is_file()


def test_a_store_from_a_newer_zoo_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    with raw(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        conn.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, future TEXT)")
    with pytest.raises(ZooError, match=rf"schema version {SCHEMA_VERSION + 1}.*upgrade zoo"):
        RunStore(path)
    with raw(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal"


def test_a_file_that_is_not_a_database_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ZooError, match="not a readable zoo run store"):
        RunStore(path)


def test_migrations_upgrade_an_older_file_and_keep_its_rows(store: RunStore) -> None:
    run_id = start(store)
    store.log_epoch(run_id, epoch(1))
    newer = (*MIGRATIONS, ("ALTER TABLE runs ADD COLUMN note TEXT", "CREATE INDEX runs_by_model ON runs (model)"))
    conn = sqlite3.connect(store.path, isolation_level=None)
    try:
        assert migrate(conn, newer) == SCHEMA_VERSION + 1
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        assert conn.execute("SELECT model, note FROM runs").fetchall() == [("alexnet-torch", None)]
    finally:
        conn.close()
    with pytest.raises(ZooError, match="upgrade zoo"):
        RunStore(store.path)  # this zoo knows only SCHEMA_VERSION now


def test_a_version_1_store_gains_the_steady_state_fields_and_keeps_its_epochs(tmp_path: Path) -> None:
    """Issue 24's migration: epochs logged before it read back with no warm-up and no steady figure; new epochs
    keep all three fields, and a run records how its steps ran."""
    path = tmp_path / "runs.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        migrate(conn, MIGRATIONS[:1])
    finally:
        conn.close()
    with raw(path) as conn:  # one run and one epoch through version 1's columns only
        conn.execute("INSERT INTO runs (model, backend, dataset, reuse_key, started, heartbeat)"
                     " VALUES ('lenet5-torch', 'torch', 'fashion-mnist', 'k', '2026-01-01T00:00:00+00:00',"
                     " '2026-01-01T00:00:00+00:00')")
        conn.execute("INSERT INTO epochs (run_id, epoch, train_loss, train_accuracy, images_per_sec, seconds, lr)"
                     " VALUES (1, 1, 0.5, 0.8, 900.0, 3.0, 0.001)")
    store = RunStore(path)
    assert store.schema_version == SCHEMA_VERSION
    record = store.get(1)
    assert (record.epochs[0]["warmup_steps"], record.epochs[0]["warmup_seconds"]) == (0, 0.0)
    assert record.epochs[0]["steady_images_per_sec"] is None and record.execution is None
    EpochMetrics(**record.epochs[0])  # old epochs still load as EpochMetrics (zoo.resume reads them so)
    store.log_epoch(1, replace(epoch(2), warmup_steps=3, warmup_seconds=0.25, steady_images_per_sec=1234.5))
    store.set_fit_details(1, {"execution": "cuda-graphs"})
    record = store.get(1)
    assert record.epochs[1]["warmup_steps"] == 3 and isinstance(record.epochs[1]["warmup_steps"], int)
    assert (record.epochs[1]["warmup_seconds"], record.epochs[1]["steady_images_per_sec"]) == (0.25, 1234.5)
    assert record.execution == "cuda-graphs" and record.to_dict()["execution"] == "cuda-graphs"


def test_a_failing_migration_leaves_the_file_at_its_old_version(store: RunStore) -> None:
    broken = (*MIGRATIONS, ("CREATE TABLE half (x)", "THIS IS NOT SQL"))
    conn = sqlite3.connect(store.path, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError):
            migrate(conn, broken)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'half'").fetchone()[0] == 0
    finally:
        conn.close()


# -- recording and reading --------------------------------------------------------


def test_start_log_finish_get_round_trip(store: RunStore) -> None:
    run_id = start(store)
    store.log_epoch(run_id, epoch(1))
    store.log_epoch(run_id, epoch(2, val=False))
    store.log_epoch(run_id, {"epoch": 1, "train_loss": 0.9, "train_accuracy": 0.6, "images_per_sec": 5.0,
                             "seconds": 1.0, "lr": 1e-3})  # a re-logged epoch replaces the first record
    store.log_metrics(run_id, {"top1": 0.875, "top5": 0.99})
    store.log_metrics(run_id, {"top1": 0.88})
    store.add_artifact(run_id, "checkpoint", "/runs/1/weights.safetensors", "a" * 64)
    store.add_artifact(run_id, "checkpoint", "/runs/1/weights.safetensors", "b" * 64)
    assert store.get(run_id).status == "running"
    store.finish_run(run_id)

    record = store.get(run_id)
    assert (record.id, record.model, record.backend, record.dataset) == (run_id, "alexnet-torch", "torch",
                                                                        "fashion-mnist")
    assert record.recipe == {"lr": 1e-3, "epochs": 2} and record.environment == {"python": "3.11"}
    assert record.status == "finished" and record.reason is None and record.reuse_key == "key"
    assert record.finished >= record.started and record.duration is not None and record.duration >= 0
    assert record.pid == os.getpid()
    assert [e["epoch"] for e in record.epochs] == [1, 2]
    assert record.epochs[0]["train_loss"] == 0.9 and record.epochs[0]["val_loss"] is None
    assert record.epochs[1] == {"epoch": 2, "train_loss": 0.5, "train_accuracy": 0.52, "val_loss": None,
                                "val_accuracy": None, "images_per_sec": 1002.0, "seconds": 2.0, "lr": 1e-3,
                                "warmup_steps": 0, "warmup_seconds": 0.0, "steady_images_per_sec": None}
    assert EpochMetrics(**record.epochs[1]) == epoch(2, val=False)  # a stored epoch reads back as it was logged
    assert record.metrics == {"top1": 0.88, "top5": 0.99}
    assert record.artifacts == [{"kind": "checkpoint", "path": "/runs/1/weights.safetensors", "sha256": "b" * 64}]
    assert record.to_dict()["duration"] == record.duration


def test_failed_and_interrupted_runs_keep_their_reason(store: RunStore) -> None:
    failed, interrupted = start(store), start(store)
    store.fail_run(failed, "ValueError: loss is nan")
    store.fail_run(interrupted, "interrupted by the user", status="interrupted")
    assert (store.get(failed).status, store.get(failed).reason) == ("failed", "ValueError: loss is nan")
    assert store.get(interrupted).status == "interrupted"
    with pytest.raises(ZooError, match="already failed"):
        store.finish_run(failed)
    with pytest.raises(ValueError):
        store.fail_run(start(store), "x", status="crashed")


def test_unknown_runs_and_bad_references_are_usage_errors(store: RunStore) -> None:
    with pytest.raises(UsageError, match="no runs recorded yet"):
        store.resolve("last")
    first, second = start(store), start(store)
    assert store.resolve("last") == store.resolve("LAST") == second
    assert store.resolve(f" {first} ") == first
    for bad in ("x", "-1", "", "1.5", "last-1"):
        with pytest.raises(UsageError, match="a number or 'last'"):
            store.resolve(bad)
    with pytest.raises(UsageError, match=r"^no run 99; see 'zoo runs list'$"):
        store.resolve("99")
    for call in (store.get, store.heartbeat, store.finish_run, store.remove):
        with pytest.raises(UsageError, match="no run 99"):
            call(99)
    with pytest.raises(UsageError, match="no run 99"):
        store.log_epoch(99, epoch(1))


def test_list_filters_by_model_glob_dataset_and_status(store: RunStore) -> None:
    a = start(store, "alexnet-torch", "fashion-mnist")
    b = start(store, "alexnet-keras-bn", "cifar10")
    c = start(store, "alexnet-torch-bn", "cifar10")
    store.finish_run(a)
    store.fail_run(b, "boom")

    def ids(**filters: str) -> list[int]:
        return [record.id for record in store.list_runs(**filters)]

    assert ids() == [a, b, c]
    assert ids(model="ALEXNET-TORCH*") == [a, c]
    assert ids(model="*-bn", dataset="CIFAR10") == [b, c]
    assert ids(status="finished") == [a] and ids(status="failed") == [b] and ids(status="running") == [c]
    assert ids(model="vgg*") == []
    with pytest.raises(UsageError, match="`status` must be one of"):
        store.list_runs(status="done")


def test_find_finished_picks_the_latest_finished_run_for_the_key(store: RunStore) -> None:
    older, newer, failed, running = (start(store, key="k") for _ in range(4))
    other = start(store, key="other")
    for run_id in (older, newer):
        store.finish_run(run_id)
    store.fail_run(failed, "boom")
    store.fail_run(other, "boom")
    found = store.find_finished("k")
    assert found is not None and found.id == newer and found.status == "finished"
    assert store.find_finished("other") is None and store.find_finished("nothing") is None
    assert store.get(running).status == "running"


def test_remove_cascades_to_epochs_metrics_and_artifacts(store: RunStore) -> None:
    gone, kept = start(store), start(store)
    for run_id in (gone, kept):
        store.log_epoch(run_id, epoch(1))
        store.log_metrics(run_id, {"top1": 0.5})
        store.add_artifact(run_id, "checkpoint", f"/runs/{run_id}/w", "c" * 64)
        store.finish_run(run_id)
    removed = store.remove(gone)
    assert removed.id == gone and len(removed.epochs) == 1 and removed.metrics == {"top1": 0.5}
    with raw(store.path) as conn:
        for table in ("epochs", "metrics", "artifacts"):
            counts = dict(conn.execute(f"SELECT run_id, count(*) FROM {table} GROUP BY run_id").fetchall())
            assert counts == {kept: 1}, table
    assert [record.id for record in store.list_runs()] == [kept]


def test_output_dir_can_be_set_after_the_run_starts(store: RunStore) -> None:
    run_id = start(store)
    assert store.get(run_id).output_dir is None
    store.set_output_dir(run_id, "/runs/1-alexnet")
    assert store.get(run_id).output_dir == "/runs/1-alexnet"


# -- liveness -------------------------------------------------------------------


def test_a_stale_heartbeat_reads_as_crashed_and_a_beat_revives_it(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite", stale_after=0.3)
    run_id = start(store)
    assert store.get(run_id).status == "running"
    time.sleep(0.5)
    assert store.get(run_id).status == "crashed"
    assert [r.id for r in store.list_runs(status="crashed")] == [run_id]
    store.heartbeat(run_id)
    assert store.get(run_id).status == "running"
    with store.keep_alive(run_id, every=0.05):
        time.sleep(0.6)
        assert store.get(run_id).status == "running"


def test_another_hosts_run_is_judged_by_its_heartbeat_only(store: RunStore) -> None:
    run_id = start(store)
    with raw(store.path) as conn:  # a dead pid, but on another host: this host cannot check it
        conn.execute("UPDATE runs SET hostname = 'elsewhere', pid = 2147483646 WHERE id = ?", (run_id,))
    assert store.get(run_id).status == "running"
    with raw(store.path) as conn:
        conn.execute("UPDATE runs SET heartbeat = '2000-01-01T00:00:00.000+00:00' WHERE id = ?", (run_id,))
    assert store.get(run_id).status == "crashed"


def _python(script: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@POSIX_ONLY
def test_a_process_killed_with_sigkill_leaves_a_crashed_run(store: RunStore) -> None:
    child = _python(
        """
        import sys, time
        from zoo.run.store import RunStore
        store = RunStore(sys.argv[1])
        run_id = store.start_run(model="alexnet-torch", backend="torch", dataset="fashion-mnist",
                                 recipe={}, environment={}, reuse_key="k")
        print(run_id, flush=True)
        time.sleep(60)
        """,
        str(store.path),
    )
    try:
        run_id = int(child.stdout.readline())
        assert store.get(run_id).status == "running"
        assert store.get(run_id).pid == child.pid
    finally:
        child.kill()
        child.wait(timeout=10)
    record = store.get(run_id)
    assert record.status == "crashed" and record.finished is None
    assert [r.id for r in store.list_runs(status="crashed")] == [run_id]


@POSIX_ONLY
def test_killing_a_writer_mid_stream_leaves_the_database_intact(store: RunStore) -> None:
    child = _python(
        """
        import sys
        from zoo.run.store import RunStore
        store = RunStore(sys.argv[1])
        run_id = store.start_run(model="m-torch", backend="torch", dataset="d", recipe={}, environment={},
                                 reuse_key="k")
        print(run_id, flush=True)
        for n in range(1, 100000):
            store.log_epoch(run_id, {"epoch": n, "train_loss": 1.0, "train_accuracy": 0.5, "images_per_sec": 1.0,
                                     "seconds": 1.0, "lr": 0.1})
            store.log_metrics(run_id, {"last_epoch": n})
        """,
        str(store.path),
    )
    run_id = int(child.stdout.readline())
    time.sleep(0.8)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    with raw(store.path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    record = store.get(run_id)
    logged = [e["epoch"] for e in record.epochs]
    assert len(logged) > 5 and logged == list(range(1, len(logged) + 1))
    assert record.metrics["last_epoch"] in (len(logged), len(logged) - 1)
    assert record.status == "crashed"
    follow_up = start(store)  # the store still takes writes
    store.finish_run(follow_up)


def test_two_processes_record_complete_runs_at_the_same_time(store: RunStore, tmp_path: Path) -> None:
    go = tmp_path / "go"
    script = """
        import sys, time
        from pathlib import Path
        from zoo.api.backend import EpochMetrics
        from zoo.run.store import RunStore
        store, name, go = RunStore(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
        while not go.exists():
            time.sleep(0.01)
        run_id = store.start_run(model=name, backend="torch", dataset="d", recipe={"worker": name},
                                 environment={}, reuse_key=name)
        for n in range(1, 51):
            store.log_epoch(run_id, EpochMetrics(n, 1.0 / n, n / 100, 2.0 / n, n / 200, 10.0 * n, 0.01, 0.1))
            store.log_metrics(run_id, {"top1": n / 100})
            store.heartbeat(run_id)
        store.add_artifact(run_id, "checkpoint", f"/runs/{name}", "d" * 64)
        store.finish_run(run_id)
        print(run_id)
    """
    workers = [_python(script, str(store.path), name, str(go)) for name in ("alexnet-torch", "alexnet-keras")]
    go.touch()
    outputs = [worker.communicate(timeout=60) for worker in workers]
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
    ids = sorted(int(out) for out, _ in outputs)
    with raw(store.path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    for record in store.list_runs():
        assert record.id in ids and record.status == "finished"
        assert record.recipe == {"worker": record.model}
        assert [e["epoch"] for e in record.epochs] == list(range(1, 51))
        assert all(e["train_loss"] == 1.0 / e["epoch"] and e["images_per_sec"] == 10.0 * e["epoch"]
                   for e in record.epochs)
        assert record.metrics == {"top1": 0.5} and len(record.artifacts) == 1
    first, second = store.list_runs()
    assert first.started < second.finished and second.started < first.finished  # they overlapped

"""``zoo runs`` through the installed executable, on a real run store in a private ZOO_HOME."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from zoo.api.backend import EpochMetrics
from zoo.run.store import RunStore

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def store(zoo_env: dict[str, str]) -> RunStore:
    """The store the ``zoo`` subprocess sees (``$ZOO_HOME/runs.sqlite``)."""
    return RunStore(Path(zoo_env["ZOO_HOME"]) / "runs.sqlite")


def record_run(store: RunStore, model: str, *, status: str = "finished", epochs: int = 3,
               output_dir: Path | None = None, dataset: str = "fashion-mnist") -> int:
    run_id = store.start_run(
        model=model, backend=model.split("-")[1], dataset=dataset, recipe={"lr": 0.001, "epochs": epochs},
        environment={"python": "3.11", "device": "cpu"}, reuse_key=f"key-{model}",
        output_dir=None if output_dir is None else str(output_dir),
    )
    for n in range(1, epochs + 1):
        store.log_epoch(run_id, EpochMetrics(n, 2.0 / n, 0.3 + n / 10, 2.2 / n, 0.25 + n / 10, 900.0, 1.5, 1e-3))
    if status == "finished":
        store.log_metrics(run_id, {"top1": 0.8125, "top5": 0.99, "test_loss": 0.41})
        store.add_artifact(run_id, "checkpoint", f"/runs/{run_id}/weights.safetensors", "e" * 64)
        store.finish_run(run_id)
    elif status in ("failed", "interrupted"):
        store.fail_run(run_id, "ValueError: [bad] input", status=status)
    return run_id


def assert_one_line_error(result, code: int, text: str) -> None:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert text in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_list_json(run_zoo, store: RunStore) -> None:
    a = record_run(store, "alexnet-torch")
    b = record_run(store, "alexnet-keras-bn", status="failed", dataset="cifar10")
    c = record_run(store, "alexnet-torch-bn", status="running", epochs=1)

    rows = json.loads(run_zoo("runs", "list", "--format", "json").stdout)
    assert [row["id"] for row in rows] == [a, b, c]
    assert list(rows[0]) == ["id", "model", "backend", "dataset", "status", "top1_pct", "epochs", "started",
                             "duration_s"]
    assert rows[0]["top1_pct"] == 81.25 and rows[0]["epochs"] == 3 and rows[0]["status"] == "finished"
    assert rows[1]["status"] == "failed" and rows[1]["top1_pct"] is None
    assert rows[2]["status"] == "running" and rows[2]["epochs"] == 1  # its writer (this process) is alive


def test_list_filters_and_table(run_zoo, store: RunStore) -> None:
    a = record_run(store, "alexnet-torch")
    record_run(store, "alexnet-keras-bn", status="failed", dataset="cifar10")
    c = record_run(store, "alexnet-torch-bn", dataset="cifar10")

    result = run_zoo("runs", "list", "--model", "ALEXNET-TORCH*", "--status", "finished", "-f", "csv")
    assert result.returncode == 0, result.stderr
    assert [int(row["id"]) for row in csv.DictReader(io.StringIO(result.stdout))] == [a, c]
    result = run_zoo("runs", "list", "--dataset", "cifar10", "--status", "failed", "-f", "json")
    assert [row["model"] for row in json.loads(result.stdout)] == ["alexnet-keras-bn"]

    table = run_zoo("runs", "list")
    assert table.returncode == 0, table.stderr
    assert "alexnet-keras-bn" in table.stdout and "failed" in table.stdout and "3/3" in table.stdout

    none = run_zoo("runs", "list", "--model", "vgg*")
    assert none.returncode == 0 and none.stdout == "" and "no run matches" in none.stderr


def test_list_on_an_empty_store_says_so(run_zoo) -> None:
    result = run_zoo("runs", "list")
    assert result.returncode == 0 and result.stdout == ""
    assert "no runs recorded yet" in result.stderr
    assert json.loads(run_zoo("runs", "list", "-f", "json").stdout) == []


def test_show_json_table_and_plot(run_zoo, store: RunStore, tmp_path: Path) -> None:
    record_run(store, "alexnet-keras-bn", status="failed")
    last = record_run(store, "alexnet-torch", epochs=4)

    shown = json.loads(run_zoo("runs", "show", "last", "--format", "json").stdout)
    assert shown["id"] == last and shown["status"] == "finished"
    assert shown["recipe"] == {"epochs": 4, "lr": 0.001} and shown["environment"]["device"] == "cpu"
    assert shown["metrics"]["top1"] == 0.8125 and [e["epoch"] for e in shown["epochs"]] == [1, 2, 3, 4]
    assert shown["artifacts"][0]["sha256"] == "e" * 64 and shown["duration"] >= 0

    table = run_zoo("runs", "show", "1")
    assert table.returncode == 0, table.stderr
    for text in ("alexnet-keras-bn", "failed", "ValueError: [bad] input", "recipe", "environment", "epochs"):
        assert text in table.stdout, text

    plot = tmp_path / "plots" / "curves.png"
    result = run_zoo("runs", "show", str(last), "--plot", str(plot))
    assert result.returncode == 0, result.stderr
    data = plot.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000
    assert f"curves written to {plot}" in result.stderr
    assert [p.name for p in plot.parent.iterdir()] == ["curves.png"]  # no temporary file left behind


def test_bad_references_exit_2_with_one_line(run_zoo, store: RunStore) -> None:
    assert_one_line_error(run_zoo("runs", "show", "last"), 2, "no runs recorded yet")
    record_run(store, "alexnet-torch")
    assert_one_line_error(run_zoo("runs", "show", "99"), 2, "no run 99; see 'zoo runs list'")
    assert_one_line_error(run_zoo("runs", "show", "abc"), 2, "a number or 'last'")
    assert_one_line_error(run_zoo("runs", "rm", "99", "--yes"), 2, "no run 99")
    assert_one_line_error(run_zoo("runs", "list", "--status", "done"), 2, "--status must be one of")
    assert_one_line_error(run_zoo("runs", "show", "1", "--format", "csv"), 2, "--format must be one of")
    assert_one_line_error(run_zoo("runs", "show", "1", "--plot", "curves.gif"), 2, "--plot writes png")


def test_rm_asks_for_yes_and_deletes_files_only_when_asked(run_zoo, store: RunStore, tmp_path: Path) -> None:
    outputs = tmp_path / "outputs"
    kept_dir, gone_dir = outputs / "kept", outputs / "gone"
    for directory in (kept_dir, gone_dir):
        directory.mkdir(parents=True)
        (directory / "weights.safetensors").write_bytes(b"w")
    kept = record_run(store, "alexnet-torch", output_dir=kept_dir)
    gone = record_run(store, "alexnet-keras", output_dir=gone_dir)

    assert_one_line_error(run_zoo("runs", "rm", str(kept)), 2, "pass --yes")
    assert store.get(kept).id == kept

    result = run_zoo("runs", "rm", str(kept), "--yes")
    assert result.returncode == 0, result.stderr
    assert f"removed run {kept}" in result.stderr
    assert [r.id for r in store.list_runs()] == [gone]
    assert kept_dir.is_dir()  # files stay without --delete-files

    result = run_zoo("runs", "rm", "last", "--yes", "--delete-files")
    assert result.returncode == 0, result.stderr
    assert store.list_runs() == [] and not gone_dir.exists() and outputs.is_dir()


def test_rm_refuses_a_live_run_and_a_shared_output_dir(run_zoo, store: RunStore, tmp_path: Path) -> None:
    live = record_run(store, "alexnet-torch", status="running")  # written by this (alive) process
    assert_one_line_error(run_zoo("runs", "rm", str(live), "--yes"), 1, "still running")
    shared = tmp_path / "shared"
    shared.mkdir()
    first = record_run(store, "alexnet-torch", output_dir=shared)
    record_run(store, "alexnet-keras", output_dir=shared)
    assert_one_line_error(run_zoo("runs", "rm", str(first), "--yes", "--delete-files"), 1, "also the output of run")
    assert shared.is_dir() and store.get(first).id == first


def test_export_csv_to_stdout_and_json_to_a_file(run_zoo, store: RunStore, tmp_path: Path) -> None:
    done = record_run(store, "alexnet-torch")
    failed = record_run(store, "alexnet-keras", status="interrupted")

    result = run_zoo("runs", "export")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [int(row["id"]) for row in rows] == [done, failed]
    assert float(rows[0]["top1"]) == 0.8125 and float(rows[0]["test_loss"]) == 0.41 and rows[1]["top1"] == ""
    assert rows[1]["status"] == "interrupted" and json.loads(rows[0]["recipe"]) == {"epochs": 3, "lr": 0.001}

    target = tmp_path / "export" / "runs.json"
    result = run_zoo("runs", "export", "--format", "json", "--output", str(target))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and "exported 2 run(s)" in result.stderr
    exported = json.loads(target.read_text())
    assert [row["id"] for row in exported] == [done, failed]
    assert exported[0]["top5"] == 0.99 and exported[0]["epochs"] == 3
    assert exported[0]["environment"] == {"device": "cpu", "python": "3.11"}
    assert [p.name for p in target.parent.iterdir()] == ["runs.json"]

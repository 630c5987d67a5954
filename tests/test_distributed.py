"""Past one worker: ``zoo compare --jobs 2``, ``--executor ray`` on a real local Ray cluster (two CPUs on
127.0.0.1, started once for the module), and ``zoo train --nproc-per-node 2`` (torchrun, DDP, two gloo
processes). The data is the example plugin's ``digits`` (scikit-learn's bundled real digits): tiny LeNet-5
runs, one epoch, so that one compare serves several asserts."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, MakeDir, pip_install_target

pytest.importorskip("ray", reason="needs zoo[ray] (make setup installs it)")

TRAIN = ["--dataset", "digits", "--epochs", "1", "--limit", "300", "--limit-test", "200", "--batch-size", "50",
         "--deterministic", "--keras-backend", "jax"]
RECIPE = [*TRAIN, "--bench-steps", "2", "--bench-warmup", "1"]
LENETS = {"lenet5-torch", "lenet5-keras"}
# DDP against one process at the same global batch: the same examples and augmentation per step, gradients
# averaged by gloo instead of summed in one pass, so only the order of float sums differs.
LOSS_TOLERANCE = 1e-4
TOP1_TOLERANCE = 0.01  # two images of 200


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def base_env(module_tmp: MakeDir, dataset_cache: Path) -> dict[str, str]:
    """Private zoo homes per test, the shared dataset cache, a real plugin whose model's worker is killed,
    one thread per framework (two workers share the 2 cores), Ray's token check off (a local cluster)."""
    site = module_tmp("killed-site")
    pip_install_target(REPO / "tests" / "plugin_packages" / "zoo-failing-model", site)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZOO_", "RAY_"))}
    env.update(ZOO_CACHE_DIR=str(dataset_cache), PYTHONPATH=str(site), COLUMNS="250", TF_CPP_MIN_LOG_LEVEL="2",
               RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0", OMP_NUM_THREADS="1")
    return env


def _zoo(zoo_exe: Path, env: dict[str, str], home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(zoo_exe), *args], capture_output=True, text=True, env={**env, "ZOO_HOME": str(home)},
                          timeout=600)


def _runs(zoo_exe: Path, env: dict[str, str], home: Path) -> list[dict]:
    listed = _zoo(zoo_exe, env, home, "runs", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout)


def _show(zoo_exe: Path, env: dict[str, str], home: Path, run_id: int) -> dict:
    shown = _zoo(zoo_exe, env, home, "runs", "show", str(run_id), "-f", "json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


@pytest.fixture(scope="module")
def cluster(base_env: dict[str, str]) -> Iterator[str]:
    """A real Ray head on 127.0.0.1 with two CPUs (``ray start --head --block``), stopped by its own pid."""
    port = _free_port()
    temp = Path(tempfile.mkdtemp(prefix="zr", dir="/tmp"))  # Ray's socket paths must stay short
    ray = Path(sys.executable).with_name("ray")
    process = subprocess.Popen(
        [str(ray), "start", "--head", "--block", f"--port={port}", "--node-ip-address=127.0.0.1", "--num-cpus=2",
         "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"],
        env=base_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.5)
        else:
            pytest.fail("the local Ray head did not start within 60 s")
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()  # `ray start --block` stops its raylet, GCS and workers on SIGTERM
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):  # whatever of its own session is left
            os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def local(zoo_exe: Path, base_env: dict[str, str], module_tmp: MakeDir) -> dict:
    """``--jobs 2``: both LeNets at once, each worker with one thread, both writing the store."""
    home = module_tmp("local-home")
    result = _zoo(zoo_exe, base_env, home, "compare", "lenet5-*", *RECIPE, "--jobs", "2", "--format", "json")
    assert result.returncode == 0, result.stderr
    return {"home": home, "report": json.loads(result.stdout)}


@pytest.fixture(scope="module")
def on_ray(zoo_exe: Path, base_env: dict[str, str], module_tmp: MakeDir, cluster: str) -> dict:
    """The same comparison as Ray tasks on the local cluster, with a model whose worker is killed mid-run;
    then again, which reuses the finished runs."""
    home = module_tmp("ray-home")
    args = ["compare", "lenet5-*", "killed-torch", *RECIPE, "--executor", "ray", "--address", cluster,
            "--format", "json"]
    first = _zoo(zoo_exe, base_env, home, *args)
    assert first.returncode == 0, first.stderr
    again = _zoo(zoo_exe, base_env, home, *args)
    assert again.returncode == 0, again.stderr
    return {"home": home, "report": json.loads(first.stdout), "again": json.loads(again.stdout)}


def _rows(report: dict) -> dict[str, dict]:
    return {row["model"]: row for row in report["rows"]}


def test_jobs_2_runs_workers_side_by_side_and_the_store_stays_whole(local, zoo_exe, base_env) -> None:
    rows = _rows(local["report"])
    assert set(rows) == LENETS and all(rows[m]["status"] == "ok" for m in LENETS)
    assert local["report"]["conditions"]["jobs"] == 2
    # Both measured while the other ran on the same CPU: flagged in the row and in the stored run.
    assert all(rows[m]["contended"] for m in LENETS)
    runs = _runs(zoo_exe, base_env, local["home"])
    assert sorted(run["model"] for run in runs) == sorted(LENETS)
    assert all(run["status"] == "finished" for run in runs)
    folders = set()
    for model in LENETS:
        (run_id,) = rows[model]["run_ids"]
        record = _show(zoo_exe, base_env, local["home"], run_id)
        folders.add(record["output_dir"])
        assert record["model"] == model and record["metrics"]["contended"] == 1.0
        assert record["environment"]["threads"] == "1"  # each worker's thread variables: the conditions line too
        assert rows[model]["top1_pct"] == pytest.approx(100 * record["metrics"]["top1"], abs=0.005)
        assert Path(record["output_dir"], "checkpoint.json").is_file()
    assert len(folders) == 2


def test_ray_gives_the_local_rows_and_the_same_store_content(local, on_ray, zoo_exe, base_env) -> None:
    local_rows, ray_rows = _rows(local["report"]), _rows(on_ray["report"])
    for model in LENETS:
        assert ray_rows[model]["status"] == "ok", ray_rows[model]
        assert ray_rows[model]["top1_pct"] == local_rows[model]["top1_pct"], model
        assert ray_rows[model]["source"].startswith("measured run ")
    assert on_ray["report"]["conditions"]["executor"] == "ray"
    local_runs = {run["model"]: run for run in _runs(zoo_exe, base_env, local["home"])}
    ray_runs = {run["model"]: run for run in _runs(zoo_exe, base_env, on_ray["home"])}
    assert set(ray_runs) == LENETS  # the killed task left nothing in the driver's store
    for model in LENETS:
        here = _show(zoo_exe, base_env, local["home"], local_runs[model]["id"])
        there = _show(zoo_exe, base_env, on_ray["home"], ray_runs[model]["id"])
        for key in ("reuse_key", "recipe", "dataset", "backend", "status", "execution"):
            assert here[key] == there[key], (model, key)
        assert [e["train_loss"] for e in here["epochs"]] == [e["train_loss"] for e in there["epochs"]]
        assert here["metrics"]["top1"] == there["metrics"]["top1"]
        # The files came back through the object store into the driver's runs folder, under the new id.
        folder = Path(there["output_dir"])
        assert folder.parent == on_ray["home"] / "runs" and folder.name.startswith(f"{there['id']}-")
        sidecar = json.loads((folder / "checkpoint.json").read_text())
        assert sidecar["run_id"] == there["id"]
        (artifact,) = there["artifacts"]
        assert Path(artifact["path"]).parent == folder and Path(artifact["path"]).is_file()


def test_a_killed_ray_task_fails_its_row_with_the_reason(on_ray) -> None:
    row = _rows(on_ray["report"])["killed-torch"]
    assert row["status"] == "failed"
    assert row["reason"].startswith("ray task failed (") and "died" in row["reason"].lower(), row["reason"]


def test_a_ray_rerun_reuses_the_finished_runs(on_ray) -> None:
    first, again = _rows(on_ray["report"]), _rows(on_ray["again"])
    for model in LENETS:
        assert again[model]["source"] == first[model]["source"].replace("measured", "reused")
        assert again[model]["top1_pct"] == first[model]["top1_pct"]


def test_ctrl_c_cancels_the_ray_tasks_and_keeps_the_store_consistent(
    zoo_exe: Path, base_env: dict[str, str], module_tmp: MakeDir, cluster: str
) -> None:
    home = module_tmp("ray-ctrl-c")
    log = home / "stderr.txt"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [str(zoo_exe), "compare", "lenet5-torch", "--dataset", "digits", "--epochs", "500", "--batch-size", "20",
             "--executor", "ray", "--address", cluster, "--format", "json"],
            stdout=subprocess.PIPE, stderr=stderr, text=True, env={**base_env, "ZOO_HOME": str(home)})
        deadline = time.monotonic() + 120
        while "epoch 1/500" not in log.read_text() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=120)
    assert process.returncode == 130, log.read_text()[-2000:]
    report = json.loads(out)
    assert report["interrupted"] and report["rows"][0]["status"] == "interrupted"
    assert _runs(zoo_exe, base_env, home) == []  # nothing half-imported


@pytest.fixture(scope="module")
def ddp(local: dict, zoo_exe: Path, base_env: dict[str, str], module_tmp: MakeDir) -> dict:
    """``zoo train lenet5-torch --nproc-per-node 2`` (torchrun, two gloo processes) twice side by side (mostly
    start-up): uninterrupted, in the ``--jobs 2`` home (its result), and stopped at step 3 of 6 in a home of
    its own (``ZOO_STOP_AFTER_STEPS``: a signal would race six short steps)."""
    args = [str(zoo_exe), "train", "lenet5-torch", *TRAIN, "--nproc-per-node", "2", "--format", "json"]
    stopped_home = module_tmp("ddp-resume")
    processes = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env={**base_env, "ZOO_HOME": str(home), **extra})
                 for home, extra in ((local["home"], {}), (stopped_home, {"ZOO_STOP_AFTER_STEPS": "3"}))]
    (out, err), stopped = processes[0].communicate(timeout=600), processes[1].communicate(timeout=600)
    assert processes[0].returncode == 0, err[-3000:]
    return {"result": json.loads(out), "stopped_home": stopped_home, "stopped_code": processes[1].returncode,
            "stopped_stderr": stopped[1]}


def test_ddp_on_two_gloo_processes_matches_one_process(local, ddp, zoo_exe, base_env) -> None:
    """Rank 0 records and checkpoints the run; its losses and top-1 are the one-process run's (the same recipe
    trained by ``--jobs 2`` above) within the stated tolerance; the checkpoint loads in one process."""
    home, summary = local["home"], ddp["result"]
    ddp = _show(zoo_exe, base_env, home, summary["run_id"])
    assert ddp["fit_details"]["distributed"]["world_size"] == 2
    assert ddp["fit_details"]["distributed"]["backend"] == "gloo"
    (single_id,) = _rows(local["report"])["lenet5-torch"]["run_ids"]
    single = _show(zoo_exe, base_env, home, single_id)
    assert ddp["reuse_key"] == single["reuse_key"]  # the same recipe and data
    for mine, theirs in zip(ddp["epochs"], single["epochs"], strict=True):
        assert mine["train_loss"] == pytest.approx(theirs["train_loss"], abs=LOSS_TOLERANCE)
        assert mine["val_loss"] == pytest.approx(theirs["val_loss"], abs=LOSS_TOLERANCE)
    assert ddp["metrics"]["top1"] == pytest.approx(single["metrics"]["top1"], abs=TOP1_TOLERANCE)
    runs = _runs(zoo_exe, base_env, home)
    assert len([run for run in runs if run["model"] == "lenet5-torch"]) == 2  # one record per run, not per rank
    scored = _zoo(zoo_exe, base_env, home, "evaluate", summary["checkpoint"], "--limit-test", "200", "-f", "json")
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout)["top1_pct"] == pytest.approx(100 * ddp["metrics"]["top1"])


def test_an_interrupted_ddp_run_resumes_to_the_uninterrupted_runs_end(local, ddp, zoo_exe, base_env) -> None:
    """Stopped at step 3 of 6, the two-process run exits 130 and says how to resume, launch options included;
    resumed so, it ends where the uninterrupted run did, and its checkpoint loads in one process."""
    home, stderr = ddp["stopped_home"], ddp["stopped_stderr"]
    assert ddp["stopped_code"] == 130, stderr[-3000:]
    assert "training stopped at epoch 1, step 3 of 6" in stderr and "Traceback" not in stderr
    hint = re.search(r"resume with 'zoo (train --resume \d+[^']*)'", stderr)
    assert hint is not None and hint[1].endswith(" --nproc-per-node 2"), stderr[-2000:]
    (run,) = _runs(zoo_exe, base_env, home)  # one record, not one per rank
    assert run["status"] == "interrupted"
    resumed = _zoo(zoo_exe, base_env, home, *hint[1].split(), "--format", "json")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    result = json.loads(resumed.stdout)
    record = _show(zoo_exe, base_env, home, result["run_id"])
    assert record["status"] == "finished" and record["fit_details"]["distributed"]["world_size"] == 2
    uninterrupted = _show(zoo_exe, base_env, local["home"], ddp["result"]["run_id"])
    assert record["epochs"][0]["val_loss"] == pytest.approx(uninterrupted["epochs"][0]["val_loss"],
                                                            abs=LOSS_TOLERANCE)
    assert result["top1_pct"] == pytest.approx(ddp["result"]["top1_pct"], abs=100 * TOP1_TOLERANCE)
    scored = _zoo(zoo_exe, base_env, home, "evaluate", result["checkpoint"], "--limit-test", "200", "-f", "json")
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout)["top1_pct"] == pytest.approx(result["top1_pct"])


def test_ctrl_c_with_jobs_2_interrupts_every_worker_and_records_it(
    zoo_exe: Path, base_env: dict[str, str], module_tmp: MakeDir
) -> None:
    home = module_tmp("jobs-ctrl-c")
    log = home / "stderr.txt"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [str(zoo_exe), "compare", "lenet5-torch", "--dataset", "digits", "--epochs", "500", "--batch-size", "20",
             "--seeds", "0,1", "--jobs", "2", "--format", "json"],
            stdout=subprocess.PIPE, stderr=stderr, text=True, env={**base_env, "ZOO_HOME": str(home)})
        deadline = time.monotonic() + 120
        while log.read_text().count("epoch 1/500") < 2 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=120)
    assert process.returncode == 130, log.read_text()[-2000:]
    (row,) = json.loads(out)["rows"]
    assert row["status"] == "interrupted"
    runs = _runs(zoo_exe, base_env, home)
    assert len(runs) == 2 and all(run["status"] == "interrupted" for run in runs)  # each saved a resumable state


def test_keras_on_jax_trains_data_parallel_over_two_devices_like_one(local, zoo_exe, base_env) -> None:
    """``--nproc-per-node 2`` on a zoo-keras model: keras.distribution.DataParallel over two XLA host devices in
    one process; the same losses and top-1 as the one-device run of the same recipe (``--jobs 2`` above)."""
    home = local["home"]
    result = _zoo(zoo_exe, base_env, home, "train", "lenet5-keras", *TRAIN, "--nproc-per-node", "2",
                  "--format", "json")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    parallel = _show(zoo_exe, base_env, home, summary["run_id"])
    assert parallel["fit_details"]["distributed"]["world_size"] == 2
    (single_id,) = _rows(local["report"])["lenet5-keras"]["run_ids"]
    single = _show(zoo_exe, base_env, home, single_id)
    assert parallel["reuse_key"] == single["reuse_key"]
    for mine, theirs in zip(parallel["epochs"], single["epochs"], strict=True):
        assert mine["train_loss"] == pytest.approx(theirs["train_loss"], abs=LOSS_TOLERANCE)
        assert mine["val_loss"] == pytest.approx(theirs["val_loss"], abs=LOSS_TOLERANCE)
    assert parallel["metrics"]["top1"] == pytest.approx(single["metrics"]["top1"], abs=TOP1_TOLERANCE)

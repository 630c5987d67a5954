"""Runs survive faults: real signals to real training processes, resume, NaN, full disks, kills."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.processes import Training, tmpfs

FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
pytestmark = pytest.mark.skipif(not FASHION.exists(), reason="needs Debian's dataset-fashion-mnist (make setup)")

# Big enough that an epoch outlasts the signal's delivery, small enough for a 2-core CPU.
EPOCHS = 2
RECIPE = ["--dataset", "fashion-mnist", "--epochs", str(EPOCHS), "--limit", "1000", "--limit-test", "200",
          "--batch-size", "50", "--seed", "5", "--val-split", "0.2", "--image-size", "28"]
MODELS = ["alexnet-torch-bn", "alexnet-keras-bn"]
RESUME_TOLERANCE = 0.005  # test top-1, absolute: resumed vs uninterrupted, same seed


@pytest.fixture
def env(tmp_path: Path, dataset_cache: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}
    base.update(ZOO_HOME=str(tmp_path / "home"), ZOO_CACHE_DIR=str(dataset_cache), COLUMNS="200",
                TF_CPP_MIN_LOG_LEVEL="2")
    return base


def _zoo(zoo_exe: Path, env: dict[str, str], *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([str(zoo_exe), *args], capture_output=True, text=True, env=env, timeout=timeout)


def _run(env: dict[str, str], run_id: int) -> dict:
    with sqlite3.connect(Path(env["ZOO_HOME"]) / "runs.sqlite") as conn:
        conn.row_factory = sqlite3.Row
        return dict(conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone())


@pytest.mark.slow
@pytest.mark.parametrize(  # both backends and both signals, each once
    ("model", "signum"),
    [("alexnet-torch-bn", signal.SIGTERM), ("alexnet-keras-bn", signal.SIGINT)],
    ids=["torch-SIGTERM", "keras-SIGINT"],
)
def test_interrupted_run_resumes_to_the_same_result(zoo_exe, env, model, signum) -> None:
    straight = _zoo(zoo_exe, env, "train", model, *RECIPE, "--format", "json")
    assert straight.returncode == 0, straight.stderr
    expected = json.loads(straight.stdout)

    training = Training(zoo_exe, env, model, *RECIPE, "--format", "json")
    training.wait_for(f"epoch 1/{EPOCHS}")
    training.process.send_signal(signum)
    code, _, stderr = training.finish()
    assert code == 130, stderr
    assert "resume with 'zoo train --resume" in stderr and "Traceback" not in stderr
    run_id = int(stderr.split("--resume ")[1].split("'")[0])
    record = _run(env, run_id)
    assert record["status"] == "interrupted"
    assert (Path(record["output_dir"]) / "state" / "last.json").is_file()
    changed = _zoo(zoo_exe, env, "train", "--resume", str(run_id), "--epochs", str(EPOCHS + 1))
    assert changed.returncode == 2 and changed.stderr.strip().count("\n") == 0, changed.stderr
    assert ("drop --epochs (only --device, --compile, --compile-mode, --channels-last and --save-every may change)"
            in changed.stderr)

    resumed = _zoo(zoo_exe, env, "train", "--resume", str(run_id), "--format", "json")
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads(resumed.stdout)
    assert result["run_id"] == run_id and _run(env, run_id)["status"] == "finished"
    assert result["top1_pct"] == pytest.approx(expected["top1_pct"], abs=100 * RESUME_TOLERANCE)
    shown = json.loads(_zoo(zoo_exe, env, "runs", "show", str(run_id), "-f", "json").stdout)
    assert [e["epoch"] for e in shown["epochs"]] == list(range(1, EPOCHS + 1))


def test_second_ctrl_c_quits_at_once_and_leaves_the_store_intact(zoo_exe, env) -> None:
    training = Training(zoo_exe, env, "alexnet-torch-bn", *RECIPE)
    training.wait_for(f"epoch 1/{EPOCHS}")
    training.process.send_signal(signal.SIGINT)
    training.process.send_signal(signal.SIGINT)
    started = time.monotonic()
    code, _, stderr = training.finish(timeout=60)
    assert code == 130 and time.monotonic() - started < 30, stderr
    assert "Traceback" not in stderr
    with sqlite3.connect(Path(env["ZOO_HOME"]) / "runs.sqlite") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        (status,) = conn.execute("SELECT status FROM runs").fetchone()
    assert status == "interrupted"


@pytest.mark.parametrize("model", MODELS)
def test_nan_loss_stops_with_epoch_step_and_hint(zoo_exe, env, model) -> None:
    result = _zoo(zoo_exe, env, "train", model, "--dataset", "fashion-mnist", "--epochs", "2", "--limit", "400",
                  "--limit-test", "100", "--batch-size", "50", "--lr", "1e9")
    assert result.returncode == 1, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert "the training loss became" in line and "at epoch 1, step" in line and "lower the learning rate" in line
    with sqlite3.connect(Path(env["ZOO_HOME"]) / "runs.sqlite") as conn:
        assert conn.execute("SELECT status FROM runs").fetchone()[0] == "failed"


def test_deterministic_cpu_runs_give_identical_weights(zoo_exe, env, tmp_path: Path) -> None:
    digests = []
    for name in ("a", "b"):
        result = _zoo(zoo_exe, env, "train", "alexnet-torch-bn", "--dataset", "fashion-mnist", "--epochs", "1",
                      "--limit", "300", "--limit-test", "100", "--batch-size", "50", "--seed", "9",
                      "--deterministic", "--device", "cpu", "--output", str(tmp_path / name))
        assert result.returncode == 0, result.stderr
        sidecar = json.loads((tmp_path / name / "checkpoint.json").read_text())
        assert sidecar["recipe"]["seed"] == 9 and sidecar["recipe"]["deterministic"] is True
        digests.append(sidecar["weights_sha256"])
    assert digests[0] == digests[1]


KILL_WHILE_SAVING = """
import sys, numpy as np
from pathlib import Path
from zoo.api.backend import EpochMetrics
from zoo.run.states import run_control
control = run_control(Path(sys.argv[1]))
payload = np.random.default_rng(0).bytes(32 << 20)
for epoch in range(1, 10_000):
    history = [EpochMetrics(e, 1.0, 0.5, 1.0, 0.5, 100.0, 1.0, 1e-3) for e in range(1, epoch + 1)]
    control.save_state(epoch=epoch, step=0, history=history, suffix=".bin",
                       writer=lambda path: path.write_bytes(payload + epoch.to_bytes(4, "little")))
    print(epoch, flush=True)
"""


@pytest.mark.parametrize("delay", [0.05, 0.4, 1.3])
def test_sigkill_while_saving_keeps_the_previous_state(tmp_path: Path, delay: float) -> None:
    from zoo.run.states import load_resume_point

    state = tmp_path / "state"
    process = subprocess.Popen([sys.executable, "-c", KILL_WHILE_SAVING, str(state)], stdout=subprocess.PIPE,
                               text=True, cwd=REPO)
    assert process.stdout is not None
    first = process.stdout.readline()  # one state is complete
    time.sleep(delay)
    process.kill()
    process.wait()
    point = load_resume_point(state)  # verifies the file against the manifest's sha256
    assert point is not None and point.epoch >= int(first)
    assert point.path.read_bytes()[-4:] == point.epoch.to_bytes(4, "little")
    best = load_resume_point(state, "best.json")
    assert best is not None and best.epoch == 1  # every epoch scored 0.5: the first stays the best
    kept = {"last.json", "best.json", point.path.name, best.path.name}
    leftovers = [p.name for p in state.iterdir() if p.name not in kept]
    # At most a hidden temporary file, and an older complete state killed before its pruning
    # (the next save prunes both); never a partial file under a name a manifest points to.
    assert all(name.startswith((".", "state-e")) for name in leftovers), leftovers


@pytest.fixture
def tiny_disk(tmp_path: Path):
    with tmpfs(tmp_path / "disk", "4m") as disk:
        yield disk


def test_full_disk_is_refused_before_training(zoo_exe, env, tiny_disk: Path) -> None:
    result = _zoo(zoo_exe, env, "train", "alexnet-torch-bn", *RECIPE, "--output", str(tiny_disk / "run"))
    assert result.returncode == 1
    line = result.stderr.strip().splitlines()[-1]
    assert "MB free but alexnet-torch-bn's checkpoints need about" in line
    assert "epoch" not in result.stderr
    assert not (tiny_disk / "run").exists()  # refused before the folder was made


def test_disk_filling_up_during_training_fails_at_the_save_without_partial_files(zoo_exe, env, tiny_disk) -> None:
    # lenet5-torch (examples/zoo-lenet) needs ~2 MB of checkpoints: the check passes, then the disk fills.
    training = Training(zoo_exe, env, "lenet5-torch", "--dataset", "fashion-mnist", "--epochs", "3",
                        "--limit", "3000", "--limit-test", "100", "--batch-size", "20", "--output",
                        str(tiny_disk / "run"))
    training.wait_for("epoch 1/3")
    # Unbuffered, so that closing the file cannot raise again; the run's own states may have filled
    # the disk already, in which case even creating the file fails: the disk is full either way.
    with contextlib.suppress(OSError), open(tiny_disk / "filler", "wb", buffering=0) as handle:
        while True:
            handle.write(b"\0" * 65536)
    code, _, stderr = training.finish()
    assert code == 1, stderr
    assert "No space left on device" in stderr.strip().splitlines()[-1] and "Traceback" not in stderr
    names = [p.name for p in (tiny_disk / "run").rglob("*")]
    assert not [n for n in names if ".tmp" in n], names

"""zoo-keras on TensorFlow, data-parallel: ``zoo train lenet5-keras --nproc-per-node 2`` trains under
``tf.distribute.MirroredStrategy`` over two logical CPU devices (two real replicas), against one replica at the
same global batch, on real Fashion-MNIST (300 images, one epoch, 6 steps of 50: the last one 20 real images
and 30 filler rows, so one replica holds no real image at all)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import MakeDir
from zoo.grid.placement import slots

FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
pytestmark = [  # TensorFlow is looked for, not imported: the runs import it in their own processes
    pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="needs TensorFlow (zoo-keras)"),
    pytest.mark.skipif(not FASHION.exists(), reason="needs Debian's dataset-fashion-mnist (make setup)"),
]

TRAIN = ["lenet5-keras", "--dataset", "fashion-mnist", "--epochs", "1", "--limit", "300", "--limit-test", "200",
         "--batch-size", "50", "--deterministic", "--keras-backend", "tensorflow", "--format", "json"]
# Two replicas against one at the same global batch: the same batches, each replica's share of the batch's
# mean loss summed by the strategy, so only the order of float sums differs (measured: 3e-7, the same top-1).
LOSS_TOLERANCE = 1e-4
TOP1_TOLERANCE = 0.01  # two images of 200
ONE_THREAD = slots(2, cores=2)[0].env  # TF_NUM_INTRAOP_THREADS=1, ...
STEP_FUNCTIONS = ("train_step", "test_step", "predict_step")
# Runs `zoo ARGS` in this process with Keras' step methods counted: their Python bodies run only while
# tf.function traces them (once per replica and trace), so the counts are the traces times the replicas.
COUNTING = """
import collections, json, sys
from zoo_keras.runtime import keras
counts = collections.Counter()
def counted(name, original):
    def step(self, *args, **kwargs):
        counts[name] += 1
        return original(self, *args, **kwargs)
    return step
for name in {names}:
    setattr(keras.Model, name, counted(name, getattr(keras.Model, name)))
from zoo.cli import main
out, sys.argv = sys.argv[1], ["zoo", *sys.argv[2:]]
try:
    main()
finally:
    with open(out, "w") as f:
        json.dump(counts, f)
"""


@pytest.fixture(scope="module")
def env(module_tmp: MakeDir, dataset_cache: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ZOO_", "KERAS_BACKEND", "XLA_FLAGS"))}
    base.update(ZOO_HOME=str(module_tmp("keras-mirrored-home")), ZOO_CACHE_DIR=str(dataset_cache), COLUMNS="200",
                TF_CPP_MIN_LOG_LEVEL="2")
    return base


def _zoo(zoo_exe: Path, env: dict[str, str], *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(zoo_exe), *args], capture_output=True, text=True, env={**env, **extra}, timeout=600)


def _show(zoo_exe: Path, env: dict[str, str], run_id: int) -> dict:
    shown = _zoo(zoo_exe, env, "runs", "show", str(run_id), "-f", "json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _finish(process: subprocess.Popen) -> subprocess.CompletedProcess:
    out, err = process.communicate(timeout=600)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@pytest.fixture(scope="module")
def runs(zoo_exe: Path, env: dict[str, str], module_tmp: MakeDir) -> dict:
    """Three runs side by side (each is mostly TensorFlow's start-up): one replica, with the thread variables
    ``zoo compare --jobs 2`` gives a worker on this 2-core CPU (``ONE_THREAD``); two replicas
    (``--nproc-per-node 2``, in a fresh process with its step traces counted, the devices asked for before
    TensorFlow loads as the CLI does); two replicas stopped at step 3 of 6. Their outcomes and the counts."""
    out = module_tmp("traces") / "counts.json"
    started = {
        "single": _start([str(zoo_exe), "train", *TRAIN], {**env, **ONE_THREAD}),
        "mirrored": _start([sys.executable, "-c", COUNTING.format(names=STEP_FUNCTIONS), str(out), "train", *TRAIN,
                            "--nproc-per-node", "2"],
                           {**env, "ZOO_DATA_PARALLEL_DEVICES": "2", "KERAS_BACKEND": "tensorflow"}),
        "stopped": _start([str(zoo_exe), "train", *TRAIN, "--nproc-per-node", "2"],
                          {**env, "ZOO_STOP_AFTER_STEPS": "3"}),
    }
    done = {name: _finish(process) for name, process in started.items()}
    for name in ("single", "mirrored"):
        assert done[name].returncode == 0, done[name].stderr[-3000:]
    return {"single": json.loads(done["single"].stdout), "mirrored": json.loads(done["mirrored"].stdout),
            "counts": json.loads(out.read_text()), "stopped": done["stopped"]}


@pytest.fixture(scope="module")
def single(runs: dict) -> dict:
    return runs["single"]


@pytest.fixture(scope="module")
def mirrored(runs: dict) -> tuple[dict, dict[str, int]]:
    return runs["mirrored"], runs["counts"]


def test_two_mirrored_replicas_train_like_one_and_the_record_says_how(zoo_exe, env, single, mirrored) -> None:
    result, _ = mirrored
    parallel, one = _show(zoo_exe, env, result["run_id"]), _show(zoo_exe, env, single["run_id"])
    details = parallel["fit_details"]["distributed"]
    assert details["strategy"] == "MirroredStrategy" and details["replicas"] == 2
    assert [device.rsplit(":", 2)[-2:] for device in details["devices"]] == [["CPU", "0"], ["CPU", "1"]]
    assert (details["global_batch"], details["per_replica_batch"]) == (50, 25)
    assert parallel["fit_details"]["steps_per_execution"] == 1  # keras-team/keras#19246 (zoo_keras.training)
    assert "distributed" not in one["fit_details"]
    assert one["environment"]["threads"] == "1"  # as its thread variables say (the conditions line's "N threads")
    assert parallel["reuse_key"] == one["reuse_key"]  # the same recipe and data
    for mine, theirs in zip(parallel["epochs"], one["epochs"], strict=True):
        assert mine["train_loss"] == pytest.approx(theirs["train_loss"], abs=LOSS_TOLERANCE)
        assert mine["val_loss"] == pytest.approx(theirs["val_loss"], abs=LOSS_TOLERANCE)
    assert parallel["metrics"]["top1"] == pytest.approx(one["metrics"]["top1"], abs=TOP1_TOLERANCE)
    assert parallel["metrics"]["top1"] > 0.2  # it learned (chance: 0.1)


def test_each_step_function_is_traced_once_under_the_strategy(mirrored) -> None:
    _, counts = mirrored
    assert counts == {name: 2 for name in STEP_FUNCTIONS}, counts  # one trace, run once per replica


@pytest.fixture(scope="module")
def afterwards(zoo_exe: Path, env: dict[str, str], runs: dict) -> dict:
    """Side by side: the two-replica checkpoint scored by ``zoo evaluate`` in one process, and the stopped run
    resumed with the command its hint gives (or ``None`` when there is no hint: the test says why)."""
    stopped = runs["stopped"]
    hint = re.search(r"resume with 'zoo (train --resume \d+[^']*)'", stopped.stderr)
    scoring = _start([str(zoo_exe), "evaluate", runs["mirrored"]["checkpoint"], "--limit-test", "200", "-f", "json"],
                     env)
    resuming = _start([str(zoo_exe), *hint[1].split(), "--format", "json"], env) if hint else None
    return {"scored": _finish(scoring), "hint": hint[1] if hint else None,
            "resumed": _finish(resuming) if resuming else None}


def test_the_checkpoint_is_saved_once_and_loads_in_one_process(mirrored, afterwards) -> None:
    result, _ = mirrored
    assert len(list(Path(result["checkpoint"]).glob("*.keras"))) == 1
    scored = afterwards["scored"]
    assert scored.returncode == 0, scored.stderr[-2000:]
    assert json.loads(scored.stdout)["top1_pct"] == pytest.approx(result["top1_pct"])


def test_an_interrupted_mirrored_run_resumes_with_the_hint_to_the_same_end(zoo_exe, env, runs, mirrored,
                                                                           afterwards) -> None:
    expected, _ = mirrored
    stopped = runs["stopped"]
    assert stopped.returncode == 130, stopped.stderr[-2000:]
    line = stopped.stderr.strip().splitlines()[-1]
    assert "training stopped at epoch 1, step 3 of 6" in line and "Traceback" not in stopped.stderr
    assert line.endswith(f"resume with 'zoo {afterwards['hint']}'"), line
    assert afterwards["hint"].endswith(" --nproc-per-node 2"), line
    resumed = afterwards["resumed"]
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    result = json.loads(resumed.stdout)
    record = _show(zoo_exe, env, result["run_id"])
    assert record["status"] == "finished" and record["fit_details"]["resumed_from"] == {"epoch": 0, "step": 3}
    assert record["fit_details"]["distributed"]["replicas"] == 2
    uninterrupted = _show(zoo_exe, env, expected["run_id"])
    assert record["epochs"][0]["val_loss"] == pytest.approx(uninterrupted["epochs"][0]["val_loss"],
                                                            abs=LOSS_TOLERANCE)
    assert result["top1_pct"] == pytest.approx(expected["top1_pct"], abs=100 * TOP1_TOLERANCE)


def test_keras_on_pytorch_is_refused_in_one_line_naming_the_backends_that_can(zoo_exe, env) -> None:
    refused = _zoo(zoo_exe, env, "train", *TRAIN[:-4], "--keras-backend", "torch", "--nproc-per-node", "2")
    assert refused.returncode == 2 and refused.stderr.strip().count("\n") == 0, refused.stderr
    assert "add --keras-backend jax or --keras-backend tensorflow" in refused.stderr



@pytest.mark.parametrize(("variables", "environment", "flags"), [
    ({"WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2", "RANK": "0"}, {}, " --nproc-per-node 2"),
    ({"WORLD_SIZE": "16", "LOCAL_WORLD_SIZE": "8", "GROUP_RANK": "0", "MASTER_ADDR": "node0", "MASTER_PORT": "29400"},
     {}, " --nproc-per-node 8 --nnodes 2 --node-rank 0 --master-addr node0 --master-port 29400"),
    ({"ZOO_DATA_PARALLEL_DEVICES": "2"}, {"keras_backend": "jax"}, " --nproc-per-node 2 --keras-backend jax"),
    ({"ZOO_DATA_PARALLEL_DEVICES": "2"}, {"keras_backend": "tensorflow"}, " --nproc-per-node 2"),
    ({}, {"keras_backend": "tensorflow"}, ""),
], ids=["torchrun", "two-nodes", "keras-jax", "keras-tensorflow", "one-process"])
def test_the_resume_hint_carries_the_launch_options(monkeypatch, variables, environment, flags) -> None:
    """What an interrupted run's hint adds after ``zoo train --resume ID`` (torchrun's variables as it sets them)."""
    from zoo.run.distributed import resume_flags

    for name in ("WORLD_SIZE", "LOCAL_WORLD_SIZE", "RANK", "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT",
                 "ZOO_DATA_PARALLEL_DEVICES"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert resume_flags(environment) == flags

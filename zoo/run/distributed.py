"""``zoo train MODEL --nproc-per-node N [--nnodes M ...]``: one run, data-parallel, launched by torchrun.

:func:`launch` starts ``python -m torch.distributed.run ... -m zoo train ...`` (the same command without the
launch options); torchrun starts N processes per node and sets ``RANK`` / ``WORLD_SIZE`` in each. Rank 0 runs
``zoo train`` as always (run store, run folder, states, test scoring, checkpoint); every other rank runs
:func:`train_replica`: the same plan and data, the backend's ``fit`` with a control that saves nothing, and
no record. The backend does the data parallelism (zoo-torch: DDP, ``zoo_torch.distributed``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zoo.api.backend import SilentProgress
from zoo.api.config import TrainConfig
from zoo.api.control import RunControl
from zoo.api.errors import TrainingInterrupted, UsageError
from zoo.run.outputs import STATE_DIR
from zoo.run.plan import plan_run, prepare_run
from zoo.run.signals import stop_on_signals
from zoo.run.states import load_resume_point

# Backends whose fit joins torchrun's process group (a plugin's own torch-based backend may be added), and
# those that spread one process's batches over several devices (zoo-keras: keras.distribution on JAX,
# MirroredStrategy on TensorFlow).
TORCHRUN_BACKENDS = ("torch",)
IN_PROCESS_BACKENDS = ("keras",)
DEVICES_ENV = "ZOO_DATA_PARALLEL_DEVICES"
DEFAULT_PORT = 29500
# torchrun reports any rank's non-zero exit as a failure (a "ChildFailedError" panel, exit 1), an interrupted
# run's included; so an interrupted rank 0 leaves its exit status (130) in this file and exits 0, and the
# launcher exits with it.
STATUS_ENV = "ZOO_LAUNCH_STATUS_FILE"
INTERRUPTED = 130
LAUNCH_OPTIONS = ("--nproc-per-node", "--nnodes", "--node-rank", "--master-addr", "--master-port")


def rank() -> int:
    """This process's rank under torchrun (0 outside it)."""
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    """How many processes train together (1 outside torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def check_backend(backend: str, model: str) -> None:
    """Refuse a data-parallel run of a model whose backend cannot train one."""
    if backend not in (*TORCHRUN_BACKENDS, *IN_PROCESS_BACKENDS):
        raise UsageError(f"--nproc-per-node trains zoo-torch and zoo-keras (JAX, TensorFlow) models data-parallel; "
                         f"{model} is a {backend} model: train it in one process")


def in_process(backend: str) -> bool:
    """Whether ``backend`` spreads one process over several devices (no torchrun)."""
    return backend in IN_PROCESS_BACKENDS


def use_local_devices(count: int) -> None:
    """Ask this process's backend for ``count`` devices (before any framework is imported): on a CPU, XLA shows
    that many host devices, each with its share of the threads."""
    if count < 1:
        raise UsageError(f"--nproc-per-node must be at least 1, got {count}")
    os.environ[DEVICES_ENV] = str(count)
    flag = f"--xla_force_host_platform_device_count={count}"
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flag}".strip()


def resume_flags(environment: dict[str, str] | None = None) -> str:
    """The options a resume needs to run as this run did (`` --nproc-per-node 2``, `` --keras-backend jax``, ...):
    torchrun's layout of this process, the devices asked of an in-process backend, a Keras backend other than
    the default one (``environment`` is the run's)."""
    flags: list[str] = []
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "0") or 0)
    if local and world_size() > 1:
        flags.append(f"--nproc-per-node {local}")
        nodes = world_size() // local
        if nodes > 1:
            flags.append(f"--nnodes {nodes} --node-rank {os.environ.get('GROUP_RANK', '0')} "
                         f"--master-addr {os.environ.get('MASTER_ADDR', '127.0.0.1')} "
                         f"--master-port {os.environ.get('MASTER_PORT', DEFAULT_PORT)}")
    elif os.environ.get(DEVICES_ENV, "1").strip() not in ("", "1"):
        flags.append(f"--nproc-per-node {os.environ[DEVICES_ENV].strip()}")
    keras_backend = (environment or {}).get("keras_backend")
    if keras_backend and keras_backend != "tensorflow":
        flags.append(f"--keras-backend {keras_backend}")
    return "".join(f" {flag}" for flag in flags)


def without_launch_options(argv: Sequence[str]) -> list[str]:
    """``argv`` with the launch options (``--nproc-per-node 2``, ``--nnodes=2``, ...) left out."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in LAUNCH_OPTIONS:
            skip = "=" not in arg
            continue
        kept.append(arg)
    return kept


def launch(argv: Sequence[str], *, nproc: int, nnodes: int = 1, node_rank: int = 0,
           master_addr: str = "127.0.0.1", master_port: int | None = None) -> int:
    """Run ``zoo <argv>`` under torchrun; its exit status (that of the first rank to fail, else 0). One node
    without a ``master_port`` runs torchrun ``--standalone`` (a free local port)."""
    if nproc < 1 or nnodes < 1 or not 0 <= node_rank < nnodes:
        raise UsageError("--nproc-per-node and --nnodes must be at least 1, --node-rank below --nnodes")
    if nnodes == 1 and master_port is None:
        where = ["--standalone"]
    else:
        where = [f"--nnodes={nnodes}", f"--node-rank={node_rank}", f"--master-addr={master_addr}",
                 f"--master-port={master_port or DEFAULT_PORT}"]
    command = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}", *where, "-m", "zoo", *argv]
    status = Path(tempfile.mkstemp(prefix="zoo-launch-", suffix=".status")[1])
    env = {**os.environ, STATUS_ENV: str(status)}
    if "OMP_NUM_THREADS" not in env:  # torchrun would set 1; the cores are shared out instead
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // nproc))
    try:
        process = subprocess.Popen(command, env=env)
        try:
            code = process.wait()
        except KeyboardInterrupt:  # pass it on (torchrun stops the ranks; each saves a state) and wait for them
            process.send_signal(signal.SIGINT)
            process.wait()
            return INTERRUPTED
        return INTERRUPTED if code == 0 and status.read_text().strip() == str(INTERRUPTED) else code
    finally:
        status.unlink(missing_ok=True)


def settle_exit(code: object) -> object:
    """The exit status a ``zoo`` process under :func:`launch` should end with: 0 instead of an interrupted rank
    0's 130, which goes to the launcher through the status file (torchrun would report it as a failure)."""
    path = os.environ.get(STATUS_ENV)
    if code != INTERRUPTED or not path or "RANK" not in os.environ:
        return code
    if rank() == 0:
        Path(path).write_text(str(INTERRUPTED))
    return 0


def train_replica(model: str | None, dataset: str | None, *, overrides: dict[str, Any],
                  data_dir: str | Path | None, resume: str | None) -> None:
    """A rank above 0: the run's plan, data and fit, with nothing recorded or saved (rank 0 does that)."""
    from zoo.run.store import RunStore

    point = None
    if resume is not None:
        store = RunStore(read_only=True)
        record = store.get(store.resolve(resume))
        runtime = {k: v for k, v in overrides.items() if v is not None}
        plan = plan_run(record.model, record.dataset, TrainConfig.build(record.recipe, runtime))
        if record.output_dir:
            point = load_resume_point(Path(record.output_dir) / STATE_DIR)
    else:
        assert model is not None and dataset is not None
        plan = plan_run(model, dataset, overrides=overrides)
    prepared = prepare_run(plan, data_dir)
    control = RunControl(resume=point)
    with stop_on_signals(control), contextlib.suppress(TrainingInterrupted):  # rank 0 says it, with the hint
        plan.backend.fit(plan.spec, prepared.data, plan.config, SilentProgress(), control)

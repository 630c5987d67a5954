"""Where ``zoo compare --jobs N``'s workers run: one device each where there are several, CPU threads
shared out so that N workers together never ask for more threads than the machine has cores.

Each worker slot gets environment variables, read by the frameworks when they start: ``CUDA_VISIBLE_DEVICES``
(one GPU per slot, round robin when slots outnumber GPUs), ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` (torch's
intra-op pool), TensorFlow's ``TF_NUM_INTRAOP_THREADS`` / ``TF_NUM_INTEROP_THREADS``, and for one thread
XLA's single-threaded Eigen flag (JAX). Slots that share a GPU also get ``XLA_PYTHON_CLIENT_PREALLOCATE=false``:
JAX otherwise reserves 75% of the GPU's memory when it starts, and a second JAX worker on that GPU fails
(TensorFlow already grows its memory as it needs it: zoo_keras.runtime; PyTorch's allocator does).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from zoo.api.errors import UsageError

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                    "TF_NUM_INTEROP_THREADS")
ONE_THREAD_XLA = "--xla_cpu_multi_thread_eigen=false"
# JAX's GPU memory settings: a user who set one of these chose how JAX shares a GPU, and zoo leaves it.
JAX_MEMORY_VARIABLES = (
    "XLA_PYTHON_CLIENT_PREALLOCATE", "XLA_PYTHON_CLIENT_MEM_FRACTION", "XLA_PYTHON_CLIENT_ALLOCATOR",
)


@dataclass(frozen=True)
class Slot:
    """One worker slot: the device it is given (``cpu`` or ``cuda:K``) and its environment."""

    device: str
    threads: int
    env: dict[str, str]


def parse_devices(text: str | None) -> list[str]:
    """``"cuda:0,cuda:1"`` as a list; ``cpu`` is allowed; a usage error names a bad entry."""
    if not text:
        return []
    devices = [part.strip().lower() for part in text.split(",") if part.strip()]
    for device in devices:
        index = device.partition(":")[2]
        if device != "cpu" and not (device.startswith("cuda:") and index.isdecimal()):
            raise UsageError(f"--devices takes a comma-separated list like cuda:0,cuda:1 (or cpu), got {device!r}")
    return devices


def visible_gpus() -> list[str]:
    """The GPUs this host shows (``cuda:K``), from ``CUDA_VISIBLE_DEVICES`` or ``nvidia-smi -L``, without
    importing a framework."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [f"cuda:{part.strip()}" for part in visible.split(",") if part.strip() and part.strip() != "-1"]
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        listing = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    gpus = [line for line in listing.splitlines() if line.startswith("GPU")]
    return [f"cuda:{index}" for index in range(len(gpus))]


def cpu_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def slots(jobs: int, devices: Sequence[str] = (), *, cores: int | None = None) -> list[Slot]:
    """``jobs`` slots: devices given round robin (``devices``, else every visible GPU, else the CPU), and
    ``cores // jobs`` threads each (at least one; never more than an ``OMP_NUM_THREADS`` already set)."""
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {jobs}")
    devices = list(devices) or visible_gpus() or ["cpu"]
    threads = max(1, (cores or cpu_cores()) // jobs)
    inherited = os.environ.get("OMP_NUM_THREADS", "")
    if inherited.isdecimal() and int(inherited) > 0:
        threads = min(threads, int(inherited))
    placed = [devices[index % len(devices)] for index in range(jobs)]
    jax_chose = any(name in os.environ for name in JAX_MEMORY_VARIABLES)
    made = []
    for device in placed:
        env = dict.fromkeys(THREAD_VARIABLES, str(threads))
        if threads == 1:
            env["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + ONE_THREAD_XLA).strip()
        # A GPU slot sees its one device as cuda:0; a CPU slot sees none, so "auto" picks the CPU.
        env["CUDA_VISIBLE_DEVICES"] = device.partition(":")[2] if device.startswith("cuda:") else "-1"
        if device.startswith("cuda:") and placed.count(device) > 1 and not jax_chose:
            env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
        made.append(Slot(device, threads, env))
    return made

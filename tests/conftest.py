"""Shared fixtures: the installed ``zoo`` executable and an isolated environment for it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Spinning OpenMP threads fight each other on a shared 2-core machine: let idle threads sleep.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # pytest-xdist runs two workers on the 2 cores (pyproject.toml): one thread per framework in each,
    # inherited by the zoo processes the tests start, so that they share the cores instead of
    # oversubscribing them (torch reads OMP_NUM_THREADS, TensorFlow its own two, XLA a flag).
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ.setdefault(name, "1")
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")

REPO = Path(__file__).resolve().parent.parent
ZOO_EXE = Path(sys.executable).with_name("zoo")

RunZoo = Callable[..., subprocess.CompletedProcess]
MakeDir = Callable[[str], Path]


@pytest.fixture(scope="session")
def zoo_exe() -> Path:
    """The console script installed by ``pip install -e .`` in this environment."""
    if not ZOO_EXE.exists():
        pytest.fail(f"{ZOO_EXE} is missing: install the project with 'make setup' first")
    return ZOO_EXE


@pytest.fixture
def zoo_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a zoo subprocess: private home and cache, no inherited zoo settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}
    env["ZOO_HOME"] = str(tmp_path / "zoo-home")
    env["ZOO_CACHE_DIR"] = str(tmp_path / "zoo-cache")
    env["COLUMNS"] = "200"
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return env


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """Run torch on one CPU thread: on a shared 2-core machine OpenMP's two threads spin at every
    barrier, and a busy neighbour made a training test 3.4x slower with two threads than with one
    (85 s against 25 s). The code under test is the same either way."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def module_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakeDir]:
    """``module_tmp(name)``: a fresh folder for a module's shared fixtures, removed when the module ends.
    A module's runs write hundreds of MB of checkpoints and states; kept to the end of the session they
    added up to 9 GB and filled a CI machine's disk."""
    made: list[Path] = []

    def make(name: str) -> Path:
        made.append(tmp_path_factory.mktemp(name))
        return made[-1]

    yield make
    for path in made:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def dataset_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One parsed-dataset cache shared by the tests that train (parsing once is enough)."""
    return tmp_path_factory.mktemp("dataset-cache")


def pip_install_target(package: Path, target: Path) -> None:
    """Really pip-install ``package`` (no deps) into ``target``, importable via PYTHONPATH."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(package)],
        check=True, capture_output=True, text=True,
    )


@pytest.fixture
def run_zoo(zoo_exe: Path, zoo_env: dict[str, str]) -> RunZoo:
    """Run the installed ``zoo`` with arguments; returns the completed process (text mode)."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 600, **kwargs: object):
        merged = dict(zoo_env)
        merged.update(env or {})
        return subprocess.run(
            [str(zoo_exe), *args], capture_output=True, text=True, env=merged, timeout=timeout, **kwargs
        )

    return run

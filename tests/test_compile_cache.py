"""JAX's persistent compilation cache under zoo-keras: a program compiled by one run is loaded by the next.

Real ``zoo train`` and ``zoo compare`` processes on real Fashion-MNIST (Debian's package), Keras on
JAX, each test with its own ``ZOO_CACHE_DIR`` so that no other test's programs are in it.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
pytestmark = [
    pytest.mark.skipif(not FASHION.exists(), reason="needs Debian's dataset-fashion-mnist (make setup)"),
    pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed"),
]
RECIPE = ["--dataset", "fashion-mnist", "--limit", "600", "--limit-test", "300", "--epochs", "1",
          "--batch-size", "64", "--augment", "none", "--keras-backend", "jax"]


def zoo(zoo_exe: Path, env: dict[str, str], *args: str) -> dict:
    done = subprocess.run([str(zoo_exe), *args, "--format", "json"], capture_output=True, text=True, env=env,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_a_second_run_loads_every_program_the_first_compiled(zoo_exe: Path, zoo_env: dict[str, str]) -> None:
    cache = Path(zoo_env["ZOO_CACHE_DIR"]) / "compiled" / "jax"
    first = zoo(zoo_exe, zoo_env, "train", "lenet5-keras", *RECIPE, "--seed", "0")
    stored = zoo(zoo_exe, zoo_env, "runs", "show", str(first["run_id"]))
    assert stored["environment"]["compile_cache"] == str(cache)
    assert stored["fit_details"]["compile_cache"]["hits"] == 0  # a fresh cache: everything compiled
    assert stored["fit_details"]["compile_cache"]["misses"] > 0
    assert any(path.name.startswith("jit_train_step-") for path in cache.iterdir())

    # The same recipe again, trained anew (--rerun) by zoo compare's worker, another process.
    report = zoo(zoo_exe, zoo_env, "compare", "lenet5-keras", *RECIPE, "--seeds", "0", "--rerun", "--bench-steps", "2",
                 "--bench-warmup", "0")
    (row,) = report["rows"]
    assert row["compile_cache_hits_pct"] == 100.0  # no program of its fit was compiled again
    (second_id,) = row["run_ids"]
    second = zoo(zoo_exe, zoo_env, "runs", "show", str(second_id))
    assert second["fit_details"]["compile_cache"] == {"hits": stored["fit_details"]["compile_cache"]["misses"],
                                                      "misses": 0}
    # A loaded program is the compiled one: the same run gives the same model.
    assert second["metrics"]["top1"] == stored["metrics"]["top1"] == pytest.approx(first["top1_pct"] / 100, abs=1e-4)
    assert second["metrics"]["test_loss"] == pytest.approx(stored["metrics"]["test_loss"], rel=1e-6)


NO_FILELOCK = "import sys; sys.modules['filelock'] = None; "  # `import filelock` raises ImportError


@pytest.mark.parametrize(("variables", "prelude", "expected_setting", "expected_dir"), [
    ({"ZOO_COMPILE_CACHE": "off"}, "", "off", "None"),
    ({"JAX_COMPILATION_CACHE_DIR": "{tmp}/mine"}, "", "user: {tmp}/mine", "{tmp}/mine"),
    ({}, NO_FILELOCK, "off (filelock is not installed)", "None"),
])
def test_the_users_choice_of_cache_is_kept(zoo_env: dict[str, str], tmp_path: Path, variables: dict[str, str],
                                           prelude: str, expected_setting: str, expected_dir: str) -> None:
    """``ZOO_COMPILE_CACHE=off`` leaves JAX without a disk cache; a user's own ``JAX_COMPILATION_CACHE_DIR``
    stays as JAX read it; without filelock (JAX's cache lock) the cache stays off. The environment says which."""
    env = {**zoo_env, "KERAS_BACKEND": "jax", **{k: v.format(tmp=tmp_path) for k, v in variables.items()}}
    script = (prelude + "import jax; from zoo_keras.runtime import environment; "
              "print(environment('cpu')['compile_cache']); print(jax.config.jax_compilation_cache_dir)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == [expected_setting.format(tmp=tmp_path), expected_dir.format(tmp=tmp_path)]
    assert not (Path(zoo_env["ZOO_CACHE_DIR"]) / "compiled").exists()

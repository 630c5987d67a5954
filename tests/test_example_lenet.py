"""examples/zoo-lenet, pip-installed like any third-party plugin, through the installed ``zoo``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "zoo-lenet"
LENETS = ["lenet5-keras", "lenet5-torch"]


@pytest.fixture(scope="session")
def lenet_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """zoo-lenet really installed by pip (from a copy, so the checkout gets no build files)."""
    source = tmp_path_factory.mktemp("lenet-source") / "zoo-lenet"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".*"))
    target = tmp_path_factory.mktemp("lenet-site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(source)],
        check=True, capture_output=True, text=True,
    )
    return target


@pytest.fixture
def with_lenet(lenet_site: Path, zoo_env: dict[str, str]) -> dict[str, str]:
    """The zoo environment with zoo-lenet discoverable."""
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(lenet_site), zoo_env.get("PYTHONPATH")]))}


def test_lenet_is_listed_and_reported(run_zoo, with_lenet) -> None:
    result = run_zoo("list", "lenet5-*", "-f", "json", env=with_lenet)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["name"] for row in rows] == LENETS
    assert {row["plugin"] for row in rows} == {"zoo-lenet"}
    assert rows[0]["input_size"] == [1, 32, 32]
    report = json.loads(run_zoo("plugins", "-f", "json", env=with_lenet).stdout)
    assert report["failed"] == []
    (lenet,) = [p for p in report["loaded"] if p["name"] == "lenet"]
    assert lenet["distribution"] == "zoo-lenet" and lenet["version"] == "0.1.0"
    assert lenet["models"] == LENETS and lenet["datasets"] == ["digits"]
    assert "min_img_size" in run_zoo("info", "lenet5-torch", "-f", "json", env=with_lenet).stdout


def test_the_examples_own_tests_pass_against_the_installed_copy(lenet_site: Path, zoo_env) -> None:
    env = {**zoo_env, "PYTHONPATH": str(lenet_site)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests"),
         "--rootdir", str(EXAMPLE)],
        capture_output=True, text=True, env=env, cwd=lenet_site, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "skipped" not in result.stdout.splitlines()[-1], result.stdout


def test_digits_through_the_data_layer(run_zoo, with_lenet) -> None:
    if run_zoo("data", "--help").returncode != 0:
        pytest.skip("'zoo data' is not mounted in zoo/cli.py yet")
    result = run_zoo("data", "download", "digits", env=with_lenet)
    assert result.returncode == 0, result.stderr
    info = run_zoo("data", "info", "digits", "-f", "json", env=with_lenet)
    assert info.returncode == 0, info.stderr
    splits = json.loads(info.stdout)["splits"]
    assert splits["train"]["count"] == 1_438 and splits["test"]["count"] == 359


@pytest.mark.slow
@pytest.mark.parametrize("model", LENETS)
def test_lenet_trains_on_digits_and_beats_chance(run_zoo, with_lenet, model: str, tmp_path: Path) -> None:
    result = run_zoo(
        "train", model, "--dataset", "digits", "--epochs", "2", "--output", str(tmp_path / "ckpt"), "-f", "json",
        env=with_lenet,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["model"] == model and summary["dataset"] == "digits"
    assert summary["test_count"] == 359
    assert summary["top1_pct"] > 50, summary  # chance is 10%; about 85% after two epochs


# `zoo compare 'lenet5-*' 'alexnet-*-bn'` with this example installed is covered by tests/test_compare.py,
# which trains, scores and times all four models once for the whole suite.

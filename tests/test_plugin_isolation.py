"""Real, pip-installed misbehaving plugins: each fails alone, and zoo says so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGES = REPO / "tests" / "plugin_packages"


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory into which pip really installs the three misbehaving plugin packages."""
    target = tmp_path_factory.mktemp("plugin-site")
    for package in ("zoo-broken-import", "zoo-broken-hook", "zoo-duplicate"):
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
             "--target", str(target), str(PACKAGES / package)],
            check=True, capture_output=True, text=True,
        )
    return target


@pytest.fixture
def with_plugins(plugin_site: Path, zoo_env: dict[str, str]) -> dict[str, str]:
    """The zoo environment with the misbehaving plugins importable (and discoverable)."""
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(plugin_site), zoo_env.get("PYTHONPATH")]))}


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("zoo: warning:")]


def test_broken_plugins_do_not_take_listing_down(run_zoo, with_plugins) -> None:
    result = run_zoo("list", "-f", "json", env=with_plugins)
    assert result.returncode == 0, result.stderr
    names = {row["name"] for row in json.loads(result.stdout)}
    assert {"alexnet-torch-res", "alexnet-keras-bn", "duplicate-own-torch"} <= names
    assert "half-registered-torch" not in names  # a hook that raised contributes nothing
    warnings = _warnings(result.stderr)
    assert len(warnings) == 3, result.stderr
    assert any("broken-import" in w and "zoo-broken-import exploded on import" in w for w in warnings)
    assert any("broken-hook" in w and "zoo_register_models" in w for w in warnings)


def test_duplicate_name_names_both_distributions(run_zoo, with_plugins) -> None:
    result = run_zoo("plugins", "-f", "json", env=with_plugins)
    failed = json.loads(result.stdout)["failed"]
    (dup,) = [f for f in failed if "registered by both" in f["error"]]
    assert "'alexnet-torch-bn' is registered by both zoo-duplicate and zoo-torch" in dup["error"]
    info = run_zoo("info", "alexnet-torch-bn", env=with_plugins)
    assert info.returncode == 1
    assert "registered by both zoo-duplicate and zoo-torch; uninstall one" in info.stderr
    listed = json.loads(run_zoo("list", "-f", "json", env=with_plugins).stdout)
    assert "alexnet-torch-bn" not in {row["name"] for row in listed}
    assert "alexnet-torch-res" in {row["name"] for row in listed}


def test_plugins_table_shows_failures_with_errors(run_zoo, with_plugins) -> None:
    result = run_zoo("plugins", env=with_plugins)
    assert result.returncode == 0
    assert "failed plugins" in result.stdout
    assert "RuntimeError: zoo-broken-import exploded on import" in result.stdout
    assert "ValueError: zoo-broken-hook failed inside its hook" in result.stdout


def test_strict_mode_makes_failures_fatal(run_zoo, with_plugins) -> None:
    result = run_zoo("list", env={**with_plugins, "ZOO_STRICT_PLUGINS": "1"})
    assert result.returncode == 1
    assert "ZOO_STRICT_PLUGINS" in result.stderr and "Traceback" not in result.stderr


def test_disabled_plugins_are_not_loaded(run_zoo, with_plugins) -> None:
    env = {**with_plugins, "ZOO_DISABLE_PLUGINS": "broken-import, zoo-broken-hook,duplicate"}
    result = run_zoo("plugins", "-f", "json", env=env)
    report = json.loads(result.stdout)
    assert report["failed"] == []
    assert sorted(report["disabled"]) == ["broken-hook", "broken-import", "duplicate"]
    assert _warnings(run_zoo("list", env=env).stderr) == []

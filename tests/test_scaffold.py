"""``zoo plugins new``: the generated package installs, passes its own test, and shows up in zoo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zoo.api.errors import UsageError
from zoo.plugins.scaffold import render_package, scaffold


def test_new_plugin_installs_tests_and_registers(run_zoo, zoo_env, tmp_path: Path) -> None:
    package = tmp_path / "zoo-mynet"
    created = run_zoo("plugins", "new", "mynet", "--backend", "torch", "--output", str(package))
    assert created.returncode == 0, created.stderr
    assert (package / "pyproject.toml").is_file() and "pip install -e" in created.stderr
    assert 'mynet = "zoo_mynet.plugin"' in (package / "pyproject.toml").read_text()

    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(package)],
        check=True, capture_output=True, text=True,
    )
    pythonpath = os.pathsep.join(filter(None, [str(site), zoo_env.get("PYTHONPATH")]))
    own_test = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=package, env={**zoo_env, "PYTHONPATH": pythonpath}, capture_output=True, text=True, timeout=300,
    )
    assert own_test.returncode == 0, own_test.stdout + own_test.stderr
    assert "3 passed" in own_test.stdout

    listed = run_zoo("list", "mynet-*", "-f", "json", env={"PYTHONPATH": pythonpath})
    assert listed.returncode == 0, listed.stderr
    assert [(row["name"], row["plugin"]) for row in json.loads(listed.stdout)] == [("mynet-torch", "zoo-mynet")]
    report = json.loads(run_zoo("plugins", "-f", "json", env={"PYTHONPATH": pythonpath}).stdout)
    assert report["failed"] == []
    assert [p["models"] for p in report["loaded"] if p["name"] == "mynet"] == [["mynet-torch"]]


def test_refuses_a_non_empty_target_and_a_bad_name(run_zoo, tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file.txt").write_text("mine")
    refused = run_zoo("plugins", "new", "mynet", "--output", str(tmp_path / "taken"))
    assert refused.returncode == 2
    assert "already exists and is not an empty directory" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr
    bad = run_zoo("plugins", "new", "My-Net", "--output", str(tmp_path / "new"))
    assert bad.returncode == 2 and "invalid plugin name 'My-Net'" in bad.stderr
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("name", ["1net", "my-net", "MyNet", "class", "", "a" * 41])
def test_invalid_names(name: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="invalid plugin name"):
        scaffold(name, output=tmp_path / "out")


def test_keras_template_and_empty_directory(tmp_path: Path) -> None:
    files = render_package("tiny_cnn", "keras")
    assert "import keras" in files["zoo_tiny_cnn/models.py"]
    assert 'name="tiny_cnn-keras"' in files["zoo_tiny_cnn/plugin.py"]
    assert "$" not in "".join(files.values())
    empty = tmp_path / "empty"
    empty.mkdir()
    written = scaffold("tiny_cnn", backend="keras", output=empty)
    assert {p.relative_to(empty).as_posix() for p in written} == set(files)
    with pytest.raises(UsageError, match="`backend` must be one of torch, keras"):
        render_package("tiny_cnn", "jax")

"""Untrusted input through the installed CLI: one line, non-zero exit, no traceback, nothing changed."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests import data_fixtures
from tests.conftest import REPO, MakeDir, pip_install_target

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def _checkpoint(directory: Path, model: str) -> Path:
    """A real (untrained) checkpoint of ``model`` for 1x28x28 images, written by zoo itself."""
    from zoo.api.backend import Preprocessing
    from zoo.plugins.backends import get_backend
    from zoo.plugins.registry import get_registry
    from zoo.run.checkpoint import save_checkpoint

    spec = get_registry().model(model).spec
    backend = get_backend(spec.backend)
    built = backend.build(spec, num_classes=10, in_chans=1, img_size=(28, 28))
    save_checkpoint(directory, backend=backend, model=built, spec=spec, dataset="fashion-mnist", classes=CLASSES,
                    image_shape=(28, 28, 1), preprocessing=Preprocessing((0.286,), (0.353,), (28, 28)),
                    recipe={}, environment={}, metrics={})
    return directory


def _replace_weights(directory: Path, data: bytes) -> Path:
    """Swap the weights and update the sidecar's digest, as an attacker controlling both would."""
    sidecar_path = directory / "checkpoint.json"
    sidecar = json.loads(sidecar_path.read_text())
    weights = directory / sidecar["weights"]
    weights.write_bytes(data)
    sidecar["weights_sha256"] = hashlib.sha256(data).hexdigest()
    sidecar_path.write_text(json.dumps(sidecar))
    return weights


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _one_line_failure(result: subprocess.CompletedProcess, code: int, text: str) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == code, result.stderr
    assert len(lines) == 1 and text in lines[0], result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def torch_checkpoint(module_tmp: MakeDir) -> Path:
    return _checkpoint(module_tmp("torch-ckpt") / "ckpt", "alexnet-torch-bn")


@pytest.fixture
def image(tmp_path: Path) -> Path:
    from PIL import Image

    path = tmp_path / "digit.png"
    Image.fromarray(np.full((28, 28), 128, dtype=np.uint8)).save(path)
    return path


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_crafted_pickle_as_weights_runs_nothing(run_zoo, torch_checkpoint: Path, tmp_path: Path, image) -> None:
    crafted = shutil.copytree(torch_checkpoint, tmp_path / "crafted")
    marker = tmp_path / "pwned"
    _replace_weights(crafted, pickle.dumps({"fc3.weight": _Exploit(marker)}))
    before = _snapshot(crafted)
    result = run_zoo("predict", str(crafted), str(image))
    _one_line_failure(result, 1, "does not match alexnet-torch-bn")
    assert not marker.exists()
    assert _snapshot(crafted) == before


def test_truncated_safetensors_is_refused(run_zoo, torch_checkpoint: Path, tmp_path: Path, image) -> None:
    truncated = shutil.copytree(torch_checkpoint, tmp_path / "truncated")
    weights = truncated / json.loads((truncated / "checkpoint.json").read_text())["weights"]
    _replace_weights(truncated, weights.read_bytes()[: weights.stat().st_size // 2])
    _one_line_failure(run_zoo("predict", str(truncated), str(image)), 1, "does not match alexnet-torch-bn")


def test_checkpoint_of_another_model_is_refused(run_zoo, torch_checkpoint: Path, tmp_path: Path, image) -> None:
    other = shutil.copytree(torch_checkpoint, tmp_path / "other")
    sidecar = json.loads((other / "checkpoint.json").read_text())
    sidecar["model"] = "alexnet-torch-small"
    (other / "checkpoint.json").write_text(json.dumps(sidecar))
    _one_line_failure(run_zoo("predict", str(other), str(image)), 1, "does not match alexnet-torch-small")


def test_keras_checkpoint_with_a_lambda_layer_is_refused(run_zoo, tmp_path: Path, image) -> None:
    from zoo_keras.runtime import keras  # TensorFlow imported the way that survives torch and triton

    directory = _checkpoint(tmp_path / "keras", "alexnet-keras-bn")
    marker = tmp_path / "pwned"
    command = f"touch {marker}"
    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Dense(10)(keras.layers.Flatten()(
        keras.layers.Lambda(lambda x: x + float(os.system(command) * 0))(inputs)))
    sidecar = json.loads((directory / "checkpoint.json").read_text())
    evil = directory / sidecar["weights"]
    keras.Model(inputs, outputs).save(evil)
    marker.unlink(missing_ok=True)  # saving traced the lambda once
    _replace_weights(directory, evil.read_bytes())
    result = run_zoo("predict", str(directory), str(image))
    _one_line_failure(result, 1, "Lambda layer")
    assert not marker.exists()


def test_unknown_backend_and_too_small_input_are_usage_errors(run_zoo, tmp_path: Path) -> None:
    site = tmp_path / "site"
    pip_install_target(REPO / "tests" / "plugin_packages" / "zoo-failing-model", site)
    orphan = run_zoo("info", "orphan-jaxx", "--input", "1x28x28", env={"PYTHONPATH": str(site)})
    _one_line_failure(orphan, 2, "unknown backend 'jaxx'; see 'zoo plugins'")
    small = run_zoo("info", "alexnet-torch-bn", "--input", "1x16x16")
    _one_line_failure(small, 2, "alexnet-torch-bn needs inputs of at least 25x25 pixels, got 16x16")


def test_escaping_dataset_archive_from_a_mirror_is_refused(run_zoo, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror" / "cifar10"
    data_fixtures.write_cifar10(mirror, replace={"../../escaped": b"gotcha"})
    cache = tmp_path / "cache"
    for server in data_fixtures.serve():
        server.add_dir("cifar10", mirror)
        result = run_zoo("data", "download", "cifar10",
                         env={"ZOO_DATASET_MIRROR": server.base, "ZOO_CACHE_DIR": str(cache), "ZOO_OFFLINE": ""})
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "cifar" in result.stderr.lower()
    assert not list(tmp_path.rglob("escaped"))
    assert not [p for p in cache.rglob("*") if p.is_file()]  # nothing kept from a file that failed its checksum


def test_crafted_cifar_batch_runs_nothing(run_zoo, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    data_dir = tmp_path / "data"
    data_fixtures.write_cifar10(data_dir / "cifar10", replace={"data_batch_1": pickle.dumps(_Exploit(marker))})
    # The archive fails the published checksum, so it is never opened; the restricted unpickler
    # behind it is exercised directly in test_data_formats.py.
    result = run_zoo("train", "alexnet-torch-small", "--dataset", "cifar10", "--data-dir", str(data_dir),
                     env={"ZOO_OFFLINE": "1"})
    _one_line_failure(result, 1, "cifar10")
    assert not marker.exists()

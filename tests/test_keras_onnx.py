"""``zoo export --format onnx`` of a Keras checkpoint on Keras' PyTorch backend.

Keras binds its backend when imported, so it runs in a process of its own: it converts a real
lenet5-torch checkpoint (Fashion-MNIST, one short epoch) to Keras and exports it; onnxruntime's
top-1 must equal the checkpoint's on real test images and the logits agree within 1e-4
(``export_checkpoint`` publishes nothing otherwise). TensorFlow's export and JAX's refusal (no
jax2onnx: its MaxPool graphs do not run in onnxruntime, docs/convert.md) are tested in test_convert.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TOLERANCE = 1e-4
IMAGES = 500
RECIPE = {"epochs": 1, "limit": 256, "limit_test": 64, "batch_size": 64, "augment": "none", "scheduler": "none",
          "device": "cpu"}


@pytest.fixture(scope="module")
def checkpoint(module_tmp, dataset_cache: Path) -> Path:
    """A real lenet5-torch checkpoint."""
    from zoo.run.training import train

    folder = module_tmp("keras-onnx") / "lenet5-torch"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZOO_CACHE_DIR", str(dataset_cache))
        patch.setenv("ZOO_HOME", str(folder.parent / "home"))
        train("lenet5-torch", "fashion-mnist", overrides=RECIPE, output=folder, record=False)
    return folder


def _export_on(backend: str, checkpoint: Path, out: Path, cache: Path) -> dict:
    script = textwrap.dedent(f"""
        import json
        from zoo.run.convert import convert_checkpoint
        from zoo.run.onnx_export import export_checkpoint
        from zoo_keras.runtime import keras
        converted = convert_checkpoint({str(checkpoint)!r}, to="keras", output={str(out / "keras")!r},
                                       check_images=0, record=False)
        result = export_checkpoint(converted.target.directory, output={str(out / "model.onnx")!r},
                                   check_images={IMAGES})
        print(json.dumps({{"backend": keras.backend.backend(), **result.parity.to_dict()}}))
    """)
    env = {**os.environ, "KERAS_BACKEND": backend, "JAX_PLATFORMS": "cpu", "ZOO_CACHE_DIR": str(cache),
           "ZOO_HOME": str(out / "home"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_keras_on_torch_onnx_export_agrees_with_the_checkpoint(checkpoint: Path, tmp_path: Path,
                                                               dataset_cache: Path) -> None:
    figures = _export_on("torch", checkpoint, tmp_path, dataset_cache)
    assert figures["backend"] == "torch" and figures["images"] == IMAGES
    assert figures["top1_agreement"] == 1.0 and figures["max_abs_logit_diff"] < TOLERANCE, figures
    assert (tmp_path / "model.onnx").stat().st_size > 0

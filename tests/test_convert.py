"""``zoo convert`` and ``zoo export``: the same trained weights in PyTorch, Keras and ONNX.

Real Fashion-MNIST; two real checkpoints (lenet5-torch and alexnet-torch-bn, one
short epoch on 256 images) serve every check of this module. Parameter round
trips use freshly built models with their BatchNorm statistics drawn at random
(every AlexNet variant, the classic one at its 67 px minimum). Keras on JAX runs
in a subprocess: Keras binds its backend when imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from zoo.api import ModelSpec, Preprocessing, UsageError
from zoo.api.errors import EXIT_USAGE
from zoo.run import conversion
from zoo.run.checkpoint import read_checkpoint, sha256_file

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TOLERANCE = 1e-4
ROUND_TRIPS = [  # (torch model, img_size): every AlexNet variant and lenet5, each at a cheap size
    ("alexnet-torch", (67, 67)),
    ("alexnet-torch-bn", (28, 28)),
    ("alexnet-torch-res", (28, 28)),
    ("alexnet-torch-small", (28, 28)),
    ("lenet5-torch", (28, 28)),
]
RECIPE = {"epochs": 1, "limit": 256, "limit_test": 64, "batch_size": 64, "image_size": 28, "min_image_size": None,
          "augment": "none", "scheduler": "none", "val_split": 0.1, "device": "cpu"}


@pytest.fixture(scope="module", autouse=True)
def private_home(module_tmp, dataset_cache: Path) -> Iterator[None]:
    """A private zoo home; the session's parsed-dataset cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZOO_HOME", str(module_tmp("convert-home")))
        patch.setenv("ZOO_CACHE_DIR", str(dataset_cache))
        yield


@pytest.fixture(scope="module")
def checkpoints(module_tmp) -> dict[str, Path]:
    """Two real torch checkpoints, trained briefly on real Fashion-MNIST."""
    from zoo.run.training import train

    root = module_tmp("convert")
    made = {}
    for name in ("lenet5-torch", "alexnet-torch-bn"):
        train(name, "fashion-mnist", overrides=RECIPE, output=root / name, record=False)
        made[name] = root / name
    return made


@pytest.fixture(scope="module")
def test_inputs() -> np.ndarray:
    """1,000 real Fashion-MNIST test images as float32 NHWC inputs (checkpoint preprocessing)."""
    from zoo.data import load_dataset
    from zoo.plugins.registry import get_registry

    spec = get_registry().datasets["fashion-mnist"].spec
    images = load_dataset("fashion-mnist").test.head(1000).images
    return conversion.model_inputs(images, Preprocessing(spec.mean, spec.std, (28, 28)))


# -- the numpy arithmetic -------------------------------------------------------------------------


def test_flatten_permutation_matches_the_layouts() -> None:
    """A dense layer over a flattened (C, H, W) map gives the same outputs over the (H, W, C) map."""
    rng = np.random.default_rng(0)
    c, h, w = 3, 2, 5
    weight = rng.integers(-9, 9, size=(4, c * h * w)).astype(np.float32)  # exact sums
    feature = rng.integers(-9, 9, size=(c, h, w)).astype(np.float32)
    kernel = conversion.dense_to_keras(weight, (h, w, c))
    np.testing.assert_array_equal(weight @ feature.reshape(-1), feature.transpose(1, 2, 0).reshape(-1) @ kernel)
    np.testing.assert_array_equal(conversion.dense_to_torch(kernel, (h, w, c)), weight)
    conv = rng.normal(size=(8, 3, 5, 3)).astype(np.float32)
    assert conversion.conv_to_keras(conv).shape == (5, 3, 3, 8)
    np.testing.assert_array_equal(conversion.conv_to_torch(conversion.conv_to_keras(conv)), conv)


def test_a_map_that_misses_a_weight_is_refused() -> None:
    """Every weight must be mapped: a forgotten layer is named, not silently left at its initial value."""
    from zoo.api import LayerMap, PluginError, WeightMap

    arrays = {"conv1.weight": np.zeros((6, 1, 5, 5), np.float32), "conv1.bias": np.zeros(6, np.float32),
              "fc3.weight": np.zeros((10, 6), np.float32), "fc3.bias": np.zeros(10, np.float32)}
    with pytest.raises(PluginError, match=r"unmapped: fc3\.bias, fc3\.weight"):
        conversion.to_keras(arrays, WeightMap((LayerMap("conv1", "conv1", "conv"),)), {})
    with pytest.raises(PluginError, match="more than once"):
        WeightMap((LayerMap("conv1", "conv1", "conv"), LayerMap("conv1", "conv2", "conv")))


# -- parameters: torch -> keras -> torch ---------------------------------------------------------


def _randomised(model) -> None:
    """BatchNorm statistics and affine parameters away from their initial 0/1, as training leaves them."""
    import torch

    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                for tensor, scale, shift in ((module.weight, 1, 0.5), (module.running_var, 1, 0.5),
                                             (module.bias, 0.05, 0), (module.running_mean, 0.05, 0)):
                    tensor.copy_(torch.rand(tensor.shape, generator=generator) * scale + shift)


@pytest.mark.parametrize(("name", "img_size"), ROUND_TRIPS)
def test_torch_keras_torch_round_trip_is_bit_identical(name: str, img_size: tuple[int, int],
                                                        test_inputs: np.ndarray) -> None:
    from zoo.plugins.backends import get_backend
    from zoo.plugins.registry import get_registry
    from zoo.run.convert import compare_logits, find_twin, move_weights, weight_map

    spec = get_registry().model(name).spec
    twin = find_twin(spec, "keras")
    mapping = weight_map(spec, twin)
    torch_backend, keras_backend = get_backend("torch"), get_backend("keras")
    original = torch_backend.build(spec, num_classes=10, in_chans=1, img_size=img_size)
    _randomised(original)
    keras_model = keras_backend.build(twin, num_classes=10, in_chans=1, img_size=img_size)
    move_weights(torch_backend, original, keras_backend, keras_model, mapping)
    back = torch_backend.build(spec, num_classes=10, in_chans=1, img_size=img_size)
    move_weights(keras_backend, keras_model, torch_backend, back, mapping)

    before, after = torch_backend.get_weights(original), torch_backend.get_weights(back)
    assert before.keys() == after.keys()
    for key, value in before.items():
        if not key.endswith("num_batches_tracked"):  # no Keras counterpart; unused with a set momentum
            assert value.dtype == after[key].dtype and np.array_equal(value, after[key]), key
    # The same outputs too, on real images (resized up for the classic variant).
    x = test_inputs[:16]
    if img_size != (28, 28):
        x = conversion._resize_axis(conversion._resize_axis(x, img_size[0], 1), img_size[1], 2)
    parity = compare_logits(torch_backend.logits(original, x, batch_size=16),
                            keras_backend.logits(keras_model, x, batch_size=16))
    assert parity.max_abs_logit_diff < TOLERANCE and parity.top1_agreement == 1.0


# -- real checkpoints --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def converted(checkpoints: dict[str, Path]) -> dict[str, object]:
    """Each trained checkpoint converted to Keras (TensorFlow) in this process, with its parity check."""
    from zoo.run.convert import convert_checkpoint

    return {name: convert_checkpoint(path, to="keras", check_images=1000) for name, path in checkpoints.items()}


@pytest.mark.parametrize("name", ["lenet5-torch", "alexnet-torch-bn"])
def test_converted_checkpoint_gives_the_same_logits_on_tensorflow(name: str, converted, checkpoints,
                                                                  test_inputs: np.ndarray) -> None:
    from zoo.run.checkpoint import load_checkpoint
    from zoo.run.convert import compare_logits

    result = converted[name]
    assert result.parity.images == 1000
    assert result.parity.max_abs_logit_diff < TOLERANCE and result.parity.top1_agreement == 1.0
    # A normal checkpoint of the other backend, whose sidecar names its origin.
    sidecar = read_checkpoint(result.target.directory).metadata
    assert sidecar["backend"] == "keras" and sidecar["model"] == name.replace("-torch", "-keras")
    origin = sidecar["converted_from"]
    assert origin["path"] == str(checkpoints[name].resolve()) and origin["backend"] == "torch"
    assert origin["weights_sha256"] == sha256_file(checkpoints[name] / "model.safetensors")
    # The same predictions through each backend's own predict path (its preprocessing, its batches).
    _, _, tb, tm = load_checkpoint(checkpoints[name])
    ckpt, _, kb, km = load_checkpoint(result.target.directory)
    from zoo.data import load_dataset

    images = load_dataset("fashion-mnist").test.head(500).images
    torch_p = tb.predict_proba(tm, images, ckpt.preprocessing, batch_size=250, device="cpu")
    keras_p = kb.predict_proba(km, images, ckpt.preprocessing, batch_size=250, device="cpu")
    assert np.array_equal(torch_p.argmax(1), keras_p.argmax(1))
    assert compare_logits(tb.logits(tm, test_inputs, batch_size=500),
                          kb.logits(km, test_inputs, batch_size=500)).max_abs_logit_diff < TOLERANCE


def test_keras_checkpoint_converts_back_to_the_same_torch_weights(converted, checkpoints, module_tmp) -> None:
    from zoo.plugins.backends import get_backend
    from zoo.run.checkpoint import load_checkpoint
    from zoo.run.convert import convert_checkpoint

    back = convert_checkpoint(converted["alexnet-torch-bn"].target.directory, to="torch",
                              output=module_tmp("back") / "bn", check_images=64)
    assert back.parity.max_abs_logit_diff < TOLERANCE
    torch_backend = get_backend("torch")
    before = torch_backend.get_weights(load_checkpoint(checkpoints["alexnet-torch-bn"])[3])
    after = torch_backend.get_weights(load_checkpoint(back.target.directory)[3])
    for key, value in before.items():
        if not key.endswith("num_batches_tracked"):
            assert np.array_equal(value, after[key]), key


def test_keras_on_jax_gives_the_same_logits(checkpoints, module_tmp) -> None:
    """Convert in a process whose Keras runs on JAX; its ONNX export names the backends that can."""
    out = module_tmp("jax")
    script = textwrap.dedent(f"""
        import json, sys
        from zoo.run.convert import convert_checkpoint
        from zoo.run.onnx_export import export_checkpoint
        from zoo.api import UsageError
        from zoo_keras.runtime import keras
        figures = {{"backend": keras.backend.backend()}}
        for name, path in {json.dumps({k: str(v) for k, v in checkpoints.items()})}.items():
            result = convert_checkpoint(path, to="keras", output="{out}/" + name, check_images=256)
            figures[name] = result.parity.to_dict()
        try:
            export_checkpoint("{out}/lenet5-torch", check_images=10)
        except UsageError as exc:
            figures["export"] = str(exc)
        print(json.dumps(figures))
    """)
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["backend"] == "jax"
    for name in checkpoints:
        assert figures[name]["images"] == 256
        assert figures[name]["max_abs_logit_diff"] < TOLERANCE and figures[name]["top1_agreement"] == 1.0
    if "export" in figures:  # jax2onnx not installed: one line naming a backend that can
        assert "jax2onnx" in figures["export"] and "--keras-backend" in figures["export"]


# -- ONNX --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["lenet5-torch", "alexnet-torch-bn"])
def test_torch_onnx_export_agrees_on_1000_test_images(name: str, checkpoints, module_tmp) -> None:
    from zoo.run.onnx_export import export_checkpoint

    target = module_tmp("onnx") / f"{name}.onnx"
    result = export_checkpoint(checkpoints[name], output=target, check_images=1000)
    assert target.is_file() and result.parity.images == 1000
    assert result.parity.top1_agreement == 1.0 and result.parity.max_abs_logit_diff < TOLERANCE
    with pytest.raises(UsageError, match="--overwrite"):
        export_checkpoint(checkpoints[name], output=target)


def test_keras_onnx_export_on_tensorflow_agrees_on_1000_test_images(converted) -> None:
    pytest.importorskip("tf2onnx")
    from zoo.run.onnx_export import export_checkpoint

    result = export_checkpoint(converted["lenet5-torch"].target.directory, check_images=1000)
    assert result.path == converted["lenet5-torch"].target.directory / "model.onnx"
    assert result.parity.top1_agreement == 1.0 and result.parity.max_abs_logit_diff < TOLERANCE


# -- refusals and the command line ---------------------------------------------------------------


def test_refusals_are_usage_errors(checkpoints, converted) -> None:
    from zoo.run.convert import convert_checkpoint, find_twin, weight_map

    lonely = ModelSpec(name="mynet-torch", backend="torch", family="mynet", builder="mynet.models:mynet")
    unmapped = ModelSpec(name="mynet-keras", backend="keras", family="mynet", builder="mynet.models:mynet")
    cases = [
        (lambda: find_twin(lonely, "keras"), "no keras twin"),
        (lambda: weight_map(lonely, unmapped), "declare no weight map"),
        (lambda: convert_checkpoint(checkpoints["lenet5-torch"], to="torch"), "already a torch model"),
        (lambda: convert_checkpoint(checkpoints["lenet5-torch"], to="keras"), "--overwrite"),  # written above
    ]
    for call, message in cases:
        with pytest.raises(UsageError, match=message) as info:
            call()
        assert info.value.exit_code == EXIT_USAGE and "\n" not in str(info.value)


def test_cli_convert_then_evaluate(checkpoints, run_zoo, tmp_path: Path) -> None:
    """End to end: `zoo convert` writes a Keras checkpoint that `zoo evaluate` scores like the original."""
    from zoo.run.evaluation import evaluate_checkpoint

    target = tmp_path / "lenet5-keras"
    env = {"ZOO_CACHE_DIR": os.environ["ZOO_CACHE_DIR"]}
    done = run_zoo("convert", str(checkpoints["lenet5-torch"]), "--to", "keras", "--output", str(target),
                   "--check", "200", "--format", "json", env=env)
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)[0]
    assert row["model"] == "lenet5-keras" and row["top1_agreement"] == 1.0
    again = run_zoo("convert", str(checkpoints["lenet5-torch"]), "--to", "keras", "--output", str(target), env=env)
    assert again.returncode == EXIT_USAGE and "--overwrite" in again.stderr and len(again.stderr.splitlines()) == 1
    bad = run_zoo("convert", str(checkpoints["lenet5-torch"]), "--to", "tensorflow", env=env)
    assert bad.returncode == EXIT_USAGE and "torch or keras" in bad.stderr and len(bad.stderr.splitlines()) == 1

    scored = run_zoo("evaluate", str(target), "--limit-test", "500", "-f", "json", env=env)
    assert scored.returncode == 0, scored.stderr
    original = evaluate_checkpoint(checkpoints["lenet5-torch"], limit_test=500, device="cpu")
    assert json.loads(scored.stdout)["top1_pct"] == 100 * original.evaluation.top1

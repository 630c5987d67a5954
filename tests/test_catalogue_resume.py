"""Resume for timm's and Keras Applications' models, and timm's fixed-size models at the data's own size.

Real ``zoo train`` processes on 200 real Fashion-MNIST images: a run stopped by Ctrl-C (SIGINT) after
its first epoch and resumed with ``zoo train --resume`` ends where an uninterrupted run of the same
recipe ends; ``evaluate`` then reads the resumed checkpoint in a fresh process (and, for the timm model,
``predict`` gives the uninterrupted checkpoint's probabilities and ``bench`` runs it at the same size).
``timm/test_vit`` is a ViT timm builds for 160x160 (``fixed_input_size``): zoo builds it at 32x32
(``--image-size 32``) through timm's ``img_size``, so resuming and loading must rebuild it at 32x32.
``keras/mobilenet`` (MobileNet v1) runs at 32x32, its smallest input. TensorFlow traces its training step
much faster than MobileNetV2's (this recipe's ``zoo train``: 48 s against 79 s on one thread here);
MobileNetV2 trains in tests/test_model_catalogues.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import MakeDir
from tests.processes import Training

FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
pytestmark = pytest.mark.skipif(not FASHION.exists(), reason="needs Debian's dataset-fashion-mnist (make setup)")

EPOCHS = 2
RECIPE = ["--dataset", "fashion-mnist", "--epochs", str(EPOCHS), "--limit", "200", "--limit-test", "100",
          "--batch-size", "20", "--seed", "3", "--deterministic", "--device", "cpu"]
MODELS = {  # model: its extra arguments, the image size it trains at
    "timm/test_vit": (["--image-size", "32"], (32, 32)),
    "keras/mobilenet": (["--image-size", "32"], (32, 32)),
}
# A Keras process costs ~30 s of CPU here (TensorFlow's import, tracing MobileNet): the Keras model skips
# predict and bench (evaluate already loads its resumed checkpoint in a fresh process; predict's image path
# is the backend's, tested with the AlexNets).
CHEAP = {"timm/test_vit"}
PNGS = 4


def _zoo(zoo_exe: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(zoo_exe), *args], capture_output=True, text=True, env=env, timeout=900)


def _json(result: subprocess.CompletedProcess) -> Any:
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def write_pngs(directory: Path, count: int) -> list[str]:
    """The first ``count`` real Fashion-MNIST test images as PNG files."""
    from PIL import Image

    from zoo.data import load_dataset

    images = load_dataset("fashion-mnist", progress=False).test.images[:count]
    directory.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        Image.fromarray(image[:, :, 0]).save(directory / f"{i}.png")
    return [str(directory / f"{i}.png") for i in range(count)]


def probabilities(result: subprocess.CompletedProcess) -> np.ndarray:
    """``zoo predict --top 10 --format json``'s probabilities, one row per image, by class."""
    rows = _json(result)
    return np.array([[p["probability"] for p in sorted(row["predictions"], key=lambda p: p["class"])]
                     for row in rows])


@pytest.fixture(scope="module")
def workspace(module_tmp: MakeDir, dataset_cache: Path) -> tuple[dict[str, str], list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}
    env.update(ZOO_HOME=str(module_tmp("catalogue-resume-home")), ZOO_CACHE_DIR=str(dataset_cache),
               COLUMNS="200", TF_CPP_MIN_LOG_LEVEL="2")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZOO_CACHE_DIR", str(dataset_cache))
        pngs = write_pngs(module_tmp("catalogue-pngs"), PNGS)
    return env, pngs


@pytest.fixture(scope="module")
def runs(zoo_exe: Path, workspace, module_tmp: MakeDir) -> Callable[[str], dict[str, Any]]:
    """Per model, once: an uninterrupted run, an interrupted one and its resume, and what evaluate,
    predict (on both checkpoints) and bench say."""
    env, pngs = workspace
    done: dict[str, dict[str, Any]] = {}

    def run(model: str) -> dict[str, Any]:
        if model in done:
            return done[model]
        extra, size = MODELS[model]
        out = module_tmp("catalogue-runs")
        straight = _json(_zoo(zoo_exe, env, "train", model, *RECIPE, *extra, "--output", str(out / "straight"),
                              "--format", "json"))
        training = Training(zoo_exe, env, model, *RECIPE, *extra, "--output", str(out / "resumed"))
        training.wait_for(f"epoch 1/{EPOCHS}")
        training.process.send_signal(signal.SIGINT)
        code, _, stderr = training.finish()
        resumed_with = stderr.split("--resume ")[1].split("'")[0] if "--resume " in stderr else ""
        resumed = _zoo(zoo_exe, env, "train", "--resume", resumed_with, "--format", "json") if resumed_with else None
        checkpoint = str(out / "resumed")
        evaluated = _zoo(zoo_exe, env, "evaluate", checkpoint, "--limit-test", "100", "--format", "json")
        predicted = {name: _zoo(zoo_exe, env, "predict", str(out / name), *pngs, "--top", "10", "--format", "json")
                     for name in (("straight", "resumed") if model in CHEAP else ())}
        bench = _zoo(zoo_exe, env, "bench", model, "--input", f"1x{size[0]}x{size[1]}", "--batch-size", "8",
                     "--steps", "2", "--warmup", "1", "--infer", "--format", "json") if model in CHEAP else None
        done[model] = {"straight": straight, "interrupted": (code, stderr), "resumed": resumed, "out": out,
                       "evaluated": evaluated, "predicted": predicted, "bench": bench}
        return done[model]

    return run


def _sidecar(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "checkpoint.json").read_text())


@pytest.mark.parametrize("model", [pytest.param(m, marks=pytest.mark.slow if m.startswith("keras/") else ())
                                   for m in MODELS])
def test_an_interrupted_run_resumes_to_the_uninterrupted_result(runs, model: str) -> None:
    done = runs(model)
    code, stderr = done["interrupted"]
    assert code == 130 and "resume with 'zoo train --resume" in stderr and "Traceback" not in stderr, stderr[-3000:]
    assert done["resumed"] is not None
    resumed, straight = _json(done["resumed"]), done["straight"]
    assert resumed["model"] == straight["model"] == model
    assert resumed["test_count"] == straight["test_count"] == 100
    # Same seed, deterministic CPU kernels, resumed from the state saved at the stop: the same network.
    assert resumed["top1_pct"] == straight["top1_pct"]
    assert resumed["test_loss"] == pytest.approx(straight["test_loss"], rel=1e-6)
    saved = _sidecar(done["out"] / "resumed")
    assert saved["preprocessing"]["img_size"] == list(MODELS[model][1])
    if model.startswith("timm/"):  # torch resumes bit for bit
        assert saved["weights_sha256"] == _sidecar(done["out"] / "straight")["weights_sha256"]


@pytest.mark.parametrize("model", [pytest.param(m, marks=pytest.mark.slow if m.startswith("keras/") else ())
                                   for m in MODELS])
def test_evaluate_predict_and_bench_use_the_resumed_checkpoint(runs, model: str) -> None:
    done = runs(model)
    resumed = _json(done["resumed"])
    evaluated = _json(done["evaluated"])
    assert evaluated["count"] == 100 and evaluated["top1_pct"] == pytest.approx(resumed["top1_pct"])
    assert evaluated["loss"] == pytest.approx(resumed["test_loss"], rel=1e-5)
    if model not in CHEAP:
        return
    got = probabilities(done["predicted"]["resumed"])
    assert got.shape == (PNGS, 10)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(got, probabilities(done["predicted"]["straight"]), atol=1e-5)
    report = _json(done["bench"])
    [row] = report["rows"]
    assert row["status"] == "ok" and row["infer_samples_per_sec"] > 0, row


def test_a_fixed_size_timm_model_is_built_at_the_datas_size_through_img_size(zoo_exe: Path, workspace) -> None:
    env, _ = workspace
    info = _json(_zoo(zoo_exe, env, "info", "timm/vit_tiny_patch16_224", "--input", "1x32x32", "--format", "json"))
    assert info["min_img_size"] == [16, 16] and info["input_size"] == [3, 224, 224]
    assert "create_model(img_size=(H, W))" in info["notes"] and "builds it at 32x32" in info["notes"]
    layers = {layer["name"]: layer for layer in info["layers"]}
    assert layers["patch_embed"]["output_shape"] in ([4, 192], "4x192")  # 2x2 patches of 16 px, not 14x14
    import timm

    expected = timm.create_model("vit_tiny_patch16_224", num_classes=10, in_chans=1, img_size=32)
    assert info["summary_at_input"]["param_count"] == sum(p.numel() for p in expected.parameters())
    below = _zoo(zoo_exe, env, "info", "timm/vit_tiny_patch16_224", "--input", "1x15x15")
    assert below.returncode == 2 and "at least 16x16" in below.stderr and below.stderr.count("\n") == 1, below.stderr


def test_pretrained_weights_fit_a_fixed_size_model_built_smaller(tmp_path: Path) -> None:
    import timm
    import torch
    from safetensors.torch import save_file

    from zoo_timm.models import create
    from zoo_timm.pretrained import load

    source = timm.create_model("test_vit", num_classes=10)  # at its native 160x160: 10x10 position embeddings
    weights = tmp_path / "test_vit.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(weights))
    model = create("test_vit", num_classes=10, in_chans=3, img_size=(32, 32))
    load(model, weights=str(weights))
    ours, theirs = model.state_dict(), source.state_dict()
    assert ours["pos_embed"].shape[1] < theirs["pos_embed"].shape[1]  # resampled by timm to 2x2 patches
    assert torch.equal(ours["blocks.0.attn.qkv.weight"], theirs["blocks.0.attn.qkv.weight"])
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 10)


def test_the_minimum_search_finds_sizes_a_doubling_skips() -> None:
    from zoo_timm.gen_index import minimum
    from zoo_timm.index import load_index

    index = load_index()["models"]
    # patch 16 x pooling kernel 3: runs at multiples of 48 only (16, 32, 64, ... 512 all fail).
    assert minimum("gemma4_vit_167m_enc", (3, 768, 768), False) == (48, False)
    assert minimum("inception_v3", (3, 299, 299), False) == (75, False)  # Keras' own minimum for it too
    assert minimum("deit_tiny_patch16_224", (3, 224, 224), True) == (16, True)
    assert index["gemma4_vit_167m_enc"]["min_img_size"] == [48, 48]
    assert index["inception_v3"]["min_img_size"] == [75, 75]
    assert index["deit_tiny_patch16_224"]["min_img_size"] == [16, 16] and index["deit_tiny_patch16_224"]["img_size"]


def test_a_size_timm_builds_but_cannot_run_is_one_line_naming_one_that_runs() -> None:
    from zoo.api import UsageError
    from zoo_timm.models import create

    with pytest.raises(UsageError) as refused:  # test_vit takes multiples of its 16 px patches only
        create("test_vit", num_classes=10, in_chans=1, img_size=(28, 28))
    message = str(refused.value)
    assert "built at 28x28 through timm's img_size" in message and "`image_size` 32" in message
    assert "\n" not in message
    assert create("test_vit", num_classes=10, in_chans=1, img_size=(32, 32)).zoo_img_size == (32, 32)

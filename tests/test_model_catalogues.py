"""timm's architectures (zoo-timm, ``timm/<name>``) and the Keras Applications (zoo-keras, ``keras/<name>``):
the index against the pinned timm, listing without a framework, sizes and parameters as timm counts them,
pretrained weights from files the tests write in the libraries' own formats, and one compare of an AlexNet,
a timm and a Keras model on real Fashion-MNIST, with a cross-framework pair chosen by ``--family``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tomllib

from tests.conftest import REPO, MakeDir

FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
FRAMEWORKS = ("torch", "timm", "tensorflow", "keras", "jax")


def _zoo(zoo_exe: Path, env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(zoo_exe), *args], capture_output=True, text=True, env=env, timeout=timeout)


def test_the_index_lists_exactly_the_pinned_timms_models() -> None:
    import timm

    from zoo_timm.index import load_index

    index = load_index()
    pyproject = tomllib.loads((REPO / "plugins" / "zoo-timm" / "pyproject.toml").read_text())
    assert f"timm=={timm.__version__}" in pyproject["project"]["dependencies"]
    assert index["timm"] == timm.__version__
    assert sorted(index["models"]) == sorted(timm.list_models())
    resnet18 = index["models"]["resnet18"]
    assert resnet18["family"] == "resnet" and resnet18["input_size"] == [3, 224, 224]
    assert resnet18["min_img_size"] == [32, 32] and resnet18["hf_hub_id"]


def test_listing_every_timm_model_imports_no_framework() -> None:
    code = (
        "import sys, io, contextlib\n"
        "from zoo.cli.app import app\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    app(['list', 'timm/*', 'keras/*', '--format', 'json'], standalone_mode=False)\n"
        f"loaded = sorted(m for m in sys.modules if m.split('.')[0] in {FRAMEWORKS!r})\n"
        "print(len(__import__('json').loads(out.getvalue())), loaded)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False)
    assert result.returncode == 0, result.stderr
    from zoo_keras.application_specs import APPLICATIONS
    from zoo_timm.index import load_index

    assert result.stdout.split(None, 1) == [str(len(load_index()["models"]) + len(APPLICATIONS)), "[]\n"]


def test_names_families_and_pairs(zoo_exe: Path, zoo_env: dict[str, str]) -> None:
    result = _zoo(zoo_exe, zoo_env, "list", "--family", "resnet50", "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows.keys() == {"timm/resnet50", "keras/resnet50"}
    assert {row["backend"] for row in rows.values()} == {"torch", "keras"}
    info = json.loads(_zoo(zoo_exe, zoo_env, "info", "keras/resnet50", "--format", "json").stdout)
    assert "1.001e-5" in info["notes"] and "v1.5" in info["notes"] and info["min_img_size"] == [32, 32]
    assert json.loads(_zoo(zoo_exe, zoo_env, "info", "keras/inception_v3", "--format", "json").stdout)[
        "min_img_size"] == [75, 75]


def test_info_counts_timms_own_parameters_and_refuses_below_the_minimum(
        zoo_exe: Path, zoo_env: dict[str, str]) -> None:
    import timm

    result = _zoo(zoo_exe, zoo_env, "info", "timm/resnet18", "--input", "3x32x32", "--format", "json")
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout)["summary_at_input"]
    model = timm.create_model("resnet18", num_classes=10)
    assert measured["param_count"] == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert measured["macs"] > 0
    small = _zoo(zoo_exe, zoo_env, "info", "timm/resnet18", "--input", "3x16x16")
    assert small.returncode == 2 and "at least 32x32" in small.stderr and len(small.stderr.strip().splitlines()) == 1


def test_timm_pretrained_weights_from_a_safetensors_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import timm
    import torch
    from safetensors.torch import save_file

    from zoo.api import UsageError, load_pretrained
    from zoo.run.building import create_model
    from zoo_timm.index import timm_spec

    torch.manual_seed(1)
    published = timm.create_model("resnet18")  # timm's own layout: 1000 classes, RGB stem
    path = tmp_path / "model.safetensors"
    save_file(published.state_dict(), str(path))
    model = create_model("timm/resnet18", num_classes=10, in_chans=1, img_size=(32, 32))
    load_pretrained(timm_spec("resnet18"), model, str(path))
    ours, theirs = model.state_dict(), published.state_dict()
    assert torch.equal(ours["layer3.1.conv2.weight"], theirs["layer3.1.conv2.weight"])
    assert torch.allclose(ours["conv1.weight"], theirs["conv1.weight"].sum(dim=1, keepdim=True))
    assert ours["fc.weight"].shape == (10, 512)
    # The same file where the Hugging Face cache keeps it: models--timm--resnet18.a1_in1k/snapshots/REV/.
    import huggingface_hub

    repo = tmp_path / "hub" / "models--timm--resnet18.a1_in1k"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    (repo / "snapshots" / ("0" * 40)).mkdir(parents=True)
    (repo / "snapshots" / ("0" * 40) / "model.safetensors").write_bytes(path.read_bytes())
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    cached = create_model("timm/resnet18", num_classes=10, in_chans=3, img_size=(32, 32))
    load_pretrained(timm_spec("resnet18"), cached)
    assert torch.equal(cached.state_dict()["conv1.weight"], theirs["conv1.weight"])
    pickled = tmp_path / "model.pth"
    torch.save(published.state_dict(), pickled)
    with pytest.raises(UsageError, match=r"not a \.safetensors file"):
        load_pretrained(timm_spec("resnet18"), model, str(pickled))


def test_keras_pretrained_weights_from_keras_and_h5_files(tmp_path: Path) -> None:
    from zoo.api import load_pretrained
    from zoo.plugins.backends import get_backend
    from zoo.run.building import create_model
    from zoo_keras.application_specs import application_spec

    published = create_model("keras/mobilenet_v2", num_classes=7, in_chans=3, img_size=(32, 32))
    published.save(tmp_path / "published.keras")
    published.save(tmp_path / "published.h5")  # Keras' legacy HDF5, the Applications' download format
    source = {layer.name: layer.get_weights() for layer in published.layers}
    for path in (tmp_path / "published.keras", tmp_path / "published.h5"):
        model = create_model("keras/mobilenet_v2", num_classes=10, in_chans=1, img_size=(32, 32))
        load_pretrained(application_spec("mobilenet_v2"), model, str(path))
        block = model.get_layer("block_3_project").get_weights()[0]
        np.testing.assert_array_equal(block, source["block_3_project"][0])
        stem = model.get_layer("Conv1").get_weights()[0]
        np.testing.assert_allclose(stem, source["Conv1"][0].sum(axis=2, keepdims=True), rtol=1e-6)
        assert model.get_layer("predictions").get_weights()[0].shape == (1280, 10)
    # zoo's own checkpoint of an application reads back, though Keras numbers its unnamed layers per process.
    backend = get_backend("keras")
    saved = backend.load(application_spec("mobilenet_v2"), backend.save(model, tmp_path / "run"), num_classes=10,
                         in_chans=1, img_size=(32, 32))
    np.testing.assert_array_equal(saved.get_layer("Conv1").get_weights()[0], stem)


def test_pretrained_without_a_local_copy_says_where_to_put_it(zoo_exe: Path, zoo_env: dict[str, str],
                                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {**zoo_env, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    common = ["--dataset", "fashion-mnist", "--epochs", "1", "--limit", "50", "--limit-test", "20",
              "--image-size", "32", "--pretrained"]
    timm_run = _zoo(zoo_exe, env, "train", "timm/resnet18", *common)
    assert timm_run.returncode == 2, timm_run.stderr
    assert "timm/resnet18.a1_in1k's model.safetensors" in timm_run.stderr and "--weights" in timm_run.stderr
    assert len(timm_run.stderr.strip().splitlines()) == 1, timm_run.stderr
    none = _zoo(zoo_exe, env, "train", "alexnet-torch-small", *common)
    assert none.returncode == 2 and "alexnet-torch-small has no pretrained weights" in none.stderr, none.stderr

    from zoo.api import UsageError
    from zoo_keras.applications import weights_path

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    with pytest.raises(UsageError, match="MobileNetV2's weights") as missing:
        weights_path("mobilenet_v2", None)
    assert str(tmp_path / "keras" / "models") in str(missing.value) and "`weights`" in str(missing.value)
    download = tmp_path / "keras" / "models" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
    download.parent.mkdir(parents=True)
    download.write_bytes(b"")
    (download.parent / "mobilenet_1_0_224_tf_no_top.h5").write_bytes(b"")  # MobileNet (v1)'s, not this one's
    assert weights_path("mobilenet_v2", None) == download


@pytest.fixture(scope="module")
def compared(zoo_exe: Path, module_tmp: MakeDir, dataset_cache: Path) -> dict:
    """One compare (an AlexNet, timm's ResNet-18 and MobileNetV2, Keras' MobileNetV2), then the mobilenet_v2
    pair by --family, which finds both halves trained by the first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}
    env.update(ZOO_HOME=str(module_tmp("catalogue-home")), ZOO_CACHE_DIR=str(dataset_cache), COLUMNS="250",
               TF_CPP_MIN_LOG_LEVEL="2")
    recipe = ["--dataset", "fashion-mnist", "--epochs", "1", "--limit", "200", "--limit-test", "100",
              "--batch-size", "50", "--image-size", "32", "--bench-steps", "1", "--bench-warmup", "0",
              "--format", "json"]
    three = _zoo(zoo_exe, env, "compare", "alexnet-torch-small", "timm/resnet18", "keras/mobilenet_v2",
                 "timm/mobilenetv2_100", *recipe)
    pair = _zoo(zoo_exe, env, "compare", "--family", "mobilenet_v2", *recipe)
    return {"three": three, "pair": pair}


@pytest.mark.slow
@pytest.mark.skipif(not FASHION.exists(), reason="needs Debian's dataset-fashion-mnist (make setup)")
def test_an_alexnet_a_timm_and_a_keras_model_in_one_table(compared: dict) -> None:
    result = compared["three"]
    assert result.returncode == 0, result.stderr
    rows = {row["model"]: row for row in json.loads(result.stdout)["rows"]}
    assert rows.keys() == {"alexnet-torch-small", "timm/resnet18", "keras/mobilenet_v2", "timm/mobilenetv2_100"}
    for name, row in rows.items():
        assert row["status"] == "ok", (name, row)
        assert 0 <= row["top1_pct"] <= 100 and row["param_count"] > 0 and row["gmacs"] > 0
        assert row["input_size"] in ("1x32x32", [1, 32, 32]), row["input_size"]
    assert rows["timm/resnet18"]["param_count"] > rows["keras/mobilenet_v2"]["param_count"]


@pytest.mark.slow
@pytest.mark.skipif(not FASHION.exists(), reason="needs Debian's dataset-fashion-mnist (make setup)")
def test_family_trains_both_halves_of_a_pair(compared: dict) -> None:
    result = compared["pair"]
    assert result.returncode == 0, result.stderr
    rows = {row["model"]: row for row in json.loads(result.stdout)["rows"]}
    assert rows.keys() == {"timm/mobilenetv2_100", "keras/mobilenet_v2"}
    assert all(row["status"] == "ok" for row in rows.values()), rows
    first = {row["model"]: row for row in json.loads(compared["three"].stdout)["rows"]}
    assert all(row["source"].startswith("reused run") for row in rows.values()), rows  # the first compare's runs
    assert {name: rows[name]["top1_pct"] for name in rows} == {name: first[name]["top1_pct"] for name in rows}
    timm_params, keras_params = rows["timm/mobilenetv2_100"]["param_count"], rows["keras/mobilenet_v2"]["param_count"]
    assert timm_params == keras_params  # same blocks and widths; BatchNorm epsilon and padding differ (zoo info)

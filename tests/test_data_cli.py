"""``zoo data ...`` through the installed executable, in subprocesses, offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.data_fixtures import IDX_FILES, write_idx_dataset

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
needs_fashion = pytest.mark.skipif(
    not (FASHION_DIR / "train-images-idx3-ubyte.gz").exists(),
    reason="Debian's dataset-fashion-mnist is not installed (make data)",
)


@pytest.fixture
def offline(tmp_path: Path) -> dict[str, str]:
    return {"ZOO_OFFLINE": "1", "ZOO_DATA_DIR": str(tmp_path / "no-data")}


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One cache for the module, so real Fashion-MNIST is parsed once."""
    return str(tmp_path_factory.mktemp("cli-cache"))


def test_data_list_json(run_zoo, offline) -> None:
    result = run_zoo("data", "list", "--format", "json", env=offline)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert {"mnist", "fashion-mnist", "cifar10", "cifar100"} <= set(rows)
    assert rows["cifar100"]["classes"] == 100 and rows["cifar10"]["input_size"] == [3, 32, 32]
    assert rows["mnist"]["plugin"] == "zoo" and rows["mnist"]["cached"] is False


def test_data_list_table(run_zoo, offline) -> None:
    result = run_zoo("data", "list", env=offline)
    assert result.returncode == 0, result.stderr
    assert "fashion-mnist" in result.stdout and "3x32x32" in result.stdout


@needs_fashion
def test_data_download_info_verify_show_on_real_fashion(run_zoo, offline, shared_cache, tmp_path) -> None:
    env = {**offline, "ZOO_CACHE_DIR": shared_cache}
    download = run_zoo("data", "download", "fashion-mnist", env=env)
    assert download.returncode == 0, download.stderr
    assert "ready" in download.stderr and str(FASHION_DIR) in download.stderr and download.stdout == ""

    info = run_zoo("data", "info", "fashion-mnist", "--format", "json", env=env)
    assert info.returncode == 0, info.stderr
    details = json.loads(info.stdout)
    assert details["splits"]["train"]["count"] == 60_000
    assert details["splits"]["train"]["per_class"] == [6_000] * 10
    assert details["splits"]["test"]["count"] == 10_000 and details["input_size"] == [1, 28, 28]
    assert details["splits"]["test"]["input_size"] == [1, 28, 28]
    assert details["location"].startswith(str(FASHION_DIR)) and details["arrays"].startswith(shared_cache)

    table = run_zoo("data", "info", "fashion-mnist", env=env)
    assert table.returncode == 0 and "Ankle boot" in table.stdout and "6,000" in table.stdout

    verify = run_zoo("data", "verify", "fashion-mnist", env=env)
    assert verify.returncode == 0, verify.stderr
    assert "recompressed" in verify.stdout and "fashion-mnist: ok" in verify.stderr

    grid = tmp_path / "grid.png"
    show = run_zoo("data", "show", "fashion-mnist", "--output", str(grid), "--count", "12", env=env)
    assert show.returncode == 0, show.stderr
    from PIL import Image

    with Image.open(grid) as image:
        assert image.format == "PNG" and image.width > 300


def test_data_dir_option_and_bad_copy(run_zoo, offline, tmp_path) -> None:
    # Files with the right names but not MNIST's content: verify says which, and exits 1.
    data = tmp_path / "fake-mnist"
    write_idx_dataset(data)
    verify = run_zoo("data", "verify", "mnist", "--data-dir", str(data), env=offline)
    assert verify.returncode == 1
    assert "bad" in verify.stdout and "fail their checksum" in verify.stderr
    load = run_zoo("data", "info", "mnist", "--data-dir", str(data), env=offline)
    assert load.returncode == 0 and "not available locally" in load.stderr
    assert {p.name for p in data.iterdir()} == set(IDX_FILES)  # never deleted or modified


def test_missing_dataset_offline_is_one_red_line(run_zoo, offline) -> None:
    result = run_zoo("data", "download", "cifar10", env=offline)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: dataset 'cifar10' is not available")
    assert "--data-dir" in lines[0] and "ZOO_DATASET_MIRROR" in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.parametrize(
    "args",
    [("data", "info", "no-such-set"), ("data", "list", "--format", "xml"), ("data", "show", "mnist", "--split", "x")],
)
def test_usage_errors_exit_2(run_zoo, offline, args) -> None:
    result = run_zoo(*args, env=offline)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error:") and "Traceback" not in result.stderr

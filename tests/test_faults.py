"""The fault suite (issue 25): nothing lost, nothing overwritten, one line for every fault.

Real ``zoo`` processes, real files, real signals, real tmpfs mounts, a real pip-installed
plugin: each test reproduces one fault a hostile user found, through the installed CLI.
docs/reliability.md's table names each case and the test here that checks it.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO, MakeDir, pip_install_target
from tests.processes import Training, ZooProcess, remount, tmpfs

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
needs_fashion = pytest.mark.skipif(not (FASHION_DIR / "train-images-idx3-ubyte.gz").exists(),
                                   reason="needs Debian's dataset-fashion-mnist (make setup)")
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
# One short real training run: LeNet-5 on 180 real Fashion-MNIST images, scored on 50.
TINY = ["--dataset", "fashion-mnist", "--epochs", "1", "--limit", "200", "--limit-test", "50", "--batch-size", "50"]


@pytest.fixture
def env(tmp_path: Path, dataset_cache: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}
    base.update(ZOO_HOME=str(tmp_path / "home"), ZOO_CACHE_DIR=str(dataset_cache), COLUMNS="200",
                TF_CPP_MIN_LOG_LEVEL="2")
    return base


def zoo(zoo_exe: Path, env: dict[str, str], *args: str, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(zoo_exe), *args], capture_output=True, text=True, env=env, timeout=timeout, **kwargs)


def one_line(result: subprocess.CompletedProcess, code: int, *texts: str) -> str:
    """The one stderr line of a refused command (exit ``code``), which contains every one of ``texts``."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == code, result.stderr[-3000:]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    for text in texts:
        assert text in lines[0], lines[0]
    return lines[0]


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (hidden lock files aside) with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != ".zoo-lock"}


def stored_runs(env: dict[str, str]) -> list[dict]:
    path = Path(env["ZOO_HOME"]) / "runs.sqlite"
    if not path.exists() or path.stat().st_size == 0:
        return []
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute("SELECT * FROM runs ORDER BY id")]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_checkpoint(directory: Path, *, model: str = "lenet5-torch", img_size: tuple[int, int] = (28, 28)) -> Path:
    """A real (untrained) checkpoint of ``model`` for 1x28x28 Fashion-MNIST images, written by zoo itself."""
    from zoo.api.backend import Preprocessing
    from zoo.plugins.backends import get_backend
    from zoo.plugins.registry import get_registry
    from zoo.run.checkpoint import save_checkpoint

    spec = get_registry().model(model).spec
    backend = get_backend(spec.backend)
    built = backend.build(spec, num_classes=10, in_chans=1, img_size=img_size)
    save_checkpoint(directory, backend=backend, model=built, spec=spec, dataset="fashion-mnist", classes=CLASSES,
                    image_shape=(28, 28, 1), preprocessing=Preprocessing((0.286,), (0.353,), img_size),
                    recipe={}, environment={}, metrics={})
    return directory


@pytest.fixture(scope="module")
def checkpoint(module_tmp: MakeDir) -> Path:
    return write_checkpoint(module_tmp("faults-ckpt") / "ckpt")


def fill(disk: Path) -> Path:
    """Fill the file system under ``disk`` to the last byte; returns the filler file."""
    filler = disk / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    return filler


def wait_for_file(path: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"{path} never appeared")
        time.sleep(0.1)


# -- silent data loss ---------------------------------------------------------------


@needs_fashion
@pytest.mark.parametrize("reset", ["emptied", "moved-aside"])
def test_a_reset_run_store_never_overwrites_an_old_run_and_rebuild_brings_it_back(zoo_exe, env, reset) -> None:
    first = zoo(zoo_exe, env, "train", "lenet5-torch", *TINY, "-f", "json")
    assert first.returncode == 0, first.stderr
    old = Path(json.loads(first.stdout)["checkpoint"])
    before = snapshot(old)
    store = Path(env["ZOO_HOME"]) / "runs.sqlite"
    if reset == "emptied":
        store.write_bytes(b"")  # ': > runs.sqlite'
    else:
        store.rename(store.with_name("runs.sqlite.bak"))  # what the store's own error message advises

    listed = zoo(zoo_exe, env, "runs", "list")
    second = zoo(zoo_exe, env, "train", "lenet5-torch", *TINY, "--seed", "1", "-f", "json")
    assert second.returncode == 0, second.stderr
    assert snapshot(old) == before  # the old weights, sidecar and states are untouched
    new = Path(json.loads(second.stdout)["checkpoint"])
    assert new != old and new.parent == old.parent
    for said in (listed.stderr, second.stderr):
        assert "1 run folder" in said and "zoo runs rebuild" in said, said

    rebuilt = zoo(zoo_exe, env, "runs", "rebuild")
    assert rebuilt.returncode == 0 and "registered 1 run" in rebuilt.stderr, rebuilt.stderr
    again = zoo(zoo_exe, env, "runs", "rebuild")
    assert again.returncode == 0 and "registered 0 runs" in again.stderr, again.stderr
    exported = json.loads(zoo(zoo_exe, env, "runs", "export", "-f", "json").stdout)
    by_dir = {Path(row["output_dir"]): row for row in exported}
    assert len(exported) == 2 and set(by_dir) == {old, new}
    sidecar = json.loads((old / "checkpoint.json").read_text())
    restored = by_dir[old]
    assert restored["id"] == 1 and by_dir[new]["id"] == 2  # new ids continue after the old folders'
    assert restored["status"] == "finished" and restored["top1"] == pytest.approx(sidecar["metrics"]["top1"])
    assert restored["epochs"] == 1  # from the run's state/last.json


@needs_fashion
def test_an_output_folder_holding_a_checkpoint_is_refused_unless_overwrite_is_given(zoo_exe, env, tmp_path) -> None:
    out = tmp_path / "out"
    assert zoo(zoo_exe, env, "train", "lenet5-torch", *TINY, "--output", str(out)).returncode == 0
    before = snapshot(out)
    second = zoo(zoo_exe, env, "train", "lenet5-torch", *TINY, "--seed", "1", "--output", str(out))
    assert snapshot(out) == before
    one_line(second, 2, str(out), "--overwrite")
    assert len(stored_runs(env)) == 1  # the refused run left no record

    third = zoo(zoo_exe, env, "train", "lenet5-torch", *TINY, "--seed", "1", "--output", str(out), "--overwrite")
    assert third.returncode == 0, third.stderr
    sidecar = json.loads((out / "checkpoint.json").read_text())
    assert sha256(out / sidecar["weights"]) == sidecar["weights_sha256"]
    shown = json.loads(zoo(zoo_exe, env, "runs", "show", "2", "-f", "json").stdout)
    assert shown["artifacts"][0]["sha256"] == sidecar["weights_sha256"]
    best = json.loads((out / "state" / "best.json").read_text())  # the new run's, not the old one's
    assert best["history"][0]["train_loss"] == pytest.approx(shown["epochs"][0]["train_loss"])


@needs_fashion
def test_a_folder_in_use_is_refused_and_a_killed_runs_lock_is_taken_over(zoo_exe, env, tmp_path) -> None:
    out = tmp_path / "out"
    owner = Training(zoo_exe, env, "lenet5-torch", "--dataset", "fashion-mnist", "--epochs", "50", "--limit", "1000",
                     "--limit-test", "50", "--batch-size", "50", "--output", str(out))
    try:
        owner.wait_for("epoch 1/50")
        intruder = zoo(zoo_exe, env, "train", "lenet5-torch", *TINY, "--output", str(out))
        assert owner.process.poll() is None
        one_line(intruder, 1, str(out), "in use", f"pid {owner.process.pid}")
    finally:
        owner.kill()  # SIGKILL: the kernel releases its lock with the process
    taker = zoo(zoo_exe, env, "train", "lenet5-torch", *TINY, "--output", str(out), "--overwrite")
    assert taker.returncode == 0, taker.stderr
    sidecar = json.loads((out / "checkpoint.json").read_text())
    assert sha256(out / sidecar["weights"]) == sidecar["weights_sha256"]


@needs_fashion
def test_a_full_zoo_home_names_the_disk_keeps_the_last_good_state_and_still_lists_runs(
    zoo_exe, env, tmp_path
) -> None:
    from zoo.run.states import load_resume_point

    with tmpfs(tmp_path / "home", "16m") as home:
        env = {**env, "ZOO_HOME": str(home)}
        training = Training(zoo_exe, env, "lenet5-torch", "--dataset", "fashion-mnist", "--epochs", "3", "--limit",
                            "2000", "--limit-test", "50", "--batch-size", "20")
        training.wait_for("epoch 1/3")
        (run_dir,) = (home / "runs").iterdir()
        wait_for_file(run_dir / "state" / "last.json")
        filler = fill(home)
        code, _, stderr = training.finish()
        assert code == 1 and "Traceback" not in stderr, stderr
        line = stderr.strip().splitlines()[-1]
        assert "No space left on device" in line and str(home) in line, line
        state = load_resume_point(run_dir / "state")
        assert state is not None and f"epoch {state.epoch}" in line and str(run_dir / "state") in line

        for mode in ("full", "ro"):  # on the full disk, then with ZOO_HOME mounted read-only
            if mode == "ro":
                remount(home, "ro")
            listed = zoo(zoo_exe, env, "runs", "list", "-f", "json")
            assert listed.returncode == 0, listed.stderr
            assert [(r["id"], r["status"]) for r in json.loads(listed.stdout)] == [(1, "failed")]
            shown = zoo(zoo_exe, env, "runs", "show", "1", "-f", "json")
            assert shown.returncode == 0, shown.stderr
            assert "No space left on device" in json.loads(shown.stdout)["reason"]
        remount(home, "rw")
        filler.unlink()
        resumed = zoo(zoo_exe, env, "train", "--resume", "1", "-f", "json")
        assert resumed.returncode == 0, resumed.stderr
        assert stored_runs(env)[0]["status"] == "finished"


def test_runs_list_show_and_export_read_a_read_only_zoo_home(zoo_exe, env, tmp_path) -> None:
    from zoo.api.backend import EpochMetrics
    from zoo.run.store import RunStore

    with tmpfs(tmp_path / "home", "4m") as home:
        store = RunStore(home / "runs.sqlite")
        run_id = store.start_run(model="lenet5-torch", backend="torch", dataset="fashion-mnist", recipe={"epochs": 1},
                                 environment={}, reuse_key="k")
        store.log_epoch(run_id, EpochMetrics(1, 0.5, 0.8, 0.6, 0.75, 900.0, 2.0, 1e-3))
        store.log_metrics(run_id, {"top1": 0.75})
        store.finish_run(run_id)
        assert not (home / "runs.sqlite-wal").exists()  # closed cleanly: only the database file is left
        remount(home, "ro")
        env = {**env, "ZOO_HOME": str(home)}
        for args in (("runs", "list", "-f", "json"), ("runs", "show", "1", "-f", "json"),
                     ("runs", "export", "-f", "json"), ("runs", "list")):
            result = zoo(zoo_exe, env, *args)
            assert result.returncode == 0 and "Traceback" not in result.stderr, (args, result.stderr)
            assert "lenet5-torch" in result.stdout
        assert json.loads(zoo(zoo_exe, env, "runs", "show", "1", "-f", "json").stdout)["metrics"]["top1"] == 0.75


# -- memory ---------------------------------------------------------------------------


def _address_space(limit: int):
    """A ``preexec_fn`` capping the child's address space: should a regression start the huge batch,
    it fails in the allocator instead of calling the OOM killer onto a shared CI machine."""
    return lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


@needs_fashion
def test_a_batch_size_beyond_memory_is_refused_in_one_line_before_any_work(zoo_exe, env) -> None:
    result = zoo(zoo_exe, env, "train", "alexnet-torch-bn", "--dataset", "fashion-mnist", "--batch-size", "10000000",
                 preexec_fn=_address_space(8 << 30))
    line = one_line(result, 2, "--batch-size 10000000", "try --batch-size")
    assert "GB" in line and "epoch" not in result.stderr
    assert stored_runs(env) == [] and not any((Path(env["ZOO_HOME"]) / "runs").glob("*"))


@pytest.mark.parametrize("library", ["numpy", "torch"])
def test_out_of_memory_becomes_one_line_with_the_batch_size_and_a_smaller_one(library) -> None:
    from zoo.api.errors import ZooError
    from zoo.run.memory import out_of_memory

    with pytest.raises(ZooError) as caught, out_of_memory(batch_size=512):
        if library == "numpy":
            np.empty(1 << 60, dtype=np.uint8)  # numpy's real MemoryError
        else:
            import torch

            torch.empty(1 << 44)  # torch's real allocator failure (16 TiB)
    message = str(caught.value)
    assert "\n" not in message and "out of memory at `batch_size` 512" in message and "try `batch_size` 256" in message


@needs_fashion
def test_out_of_memory_in_zoo_evaluate_is_one_line_with_a_smaller_batch(zoo_exe, env, tmp_path) -> None:
    # A real allocator failure: 10,000 images at 56x56 through alexnet-torch-bn need ~8 GB of address space
    # (one conv output alone is 2 GB); the process may have 5.5 GB, where --batch-size 64 needs ~4 GB.
    big = write_checkpoint(tmp_path / "ckpt", model="alexnet-torch-bn", img_size=(56, 56))
    lean = {**env, "OMP_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2"}
    result = zoo(zoo_exe, lean, "evaluate", str(big), "--batch-size", "10000", preexec_fn=_address_space(11 << 29))
    one_line(result, 1, "out of memory at --batch-size 10000", "try --batch-size 5000")


def test_tensorflow_resource_exhausted_becomes_one_line() -> None:
    script = ("import tensorflow as tf\nfrom zoo.api.errors import ZooError\nfrom zoo.run.memory import out_of_memory\n"
              "try:\n    with out_of_memory(batch_size=64):\n        tf.zeros((1 << 42,))\n"
              "except ZooError as exc:\n    print('ZOOERROR', exc)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=600,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("ZOOERROR")]
    assert "out of memory at `batch_size` 64 (ResourceExhaustedError" in line and "try `batch_size` 32" in line


def _bomb_png(path: Path, side: int) -> Path:
    """A valid 1-bit PNG of ``side`` x ``side`` pixels, all black, written without holding it in memory."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    row = b"\0" * (1 + (side + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = side.to_bytes(4, "big") * 2 + bytes([1, 0, 0, 0, 0])  # 1 bit, greyscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


def test_a_decompression_bomb_is_one_line(zoo_exe, env, checkpoint, tmp_path) -> None:
    bomb = _bomb_png(tmp_path / "bomb.png", 20000)
    assert bomb.stat().st_size < 1 << 20  # 400 megapixels in well under a megabyte
    one_line(zoo(zoo_exe, env, "predict", str(checkpoint), str(bomb)), 2, str(bomb), "pixels")


SIDECAR_EDITS = {
    "huge img_size": (("preprocessing", "img_size"), [30000, 30000], "img_size"),
    "zero std": (("preprocessing", "std"), [0.0], "std"),
    "format_version 0": (("format_version",), 0, "format_version"),
    "text format_version": (("format_version",), "1", "format_version"),
    "channels without stats": (("image_shape",), [28, 28, 3], "mean"),
    "huge image_shape": (("image_shape",), [1, 10**9, 1], "image_shape"),
    "no classes": (("classes",), [], "classes"),
}


@pytest.mark.parametrize("edit", list(SIDECAR_EDITS))
def test_a_sidecar_outside_its_schema_is_refused_before_a_framework_loads(zoo_exe, env, checkpoint, tmp_path,
                                                                           edit) -> None:
    import shutil

    from PIL import Image

    edited = tmp_path / "ckpt"
    shutil.copytree(checkpoint, edited)
    keys, value, named = SIDECAR_EDITS[edit]
    sidecar = json.loads((edited / "checkpoint.json").read_text())
    target = sidecar
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    (edited / "checkpoint.json").write_text(json.dumps(sidecar))
    image = tmp_path / "x.png"
    Image.fromarray(np.zeros((28, 28), dtype=np.uint8)).save(image)
    for args in (("predict", str(edited), str(image)), ("evaluate", str(edited))):
        result = zoo(zoo_exe, {**env, "PYTHONPROFILEIMPORTTIME": "1"}, *args)
        imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in result.stderr.splitlines()
                    if line.startswith("import time:")}
        assert "torch" not in imported  # refused before any framework (or memory) is touched
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert result.returncode == 1 and len(errors) == 1 and named in errors[0], result.stderr[-2000:]
        assert "Traceback" not in result.stderr


# -- zoo evaluate's options -----------------------------------------------------------


@pytest.mark.parametrize(("option", "value"), [("--limit-test", "-9999"), ("--limit-test", "0"),
                                               ("--batch-size", "0")])
def test_evaluate_refuses_nonsense_counts_before_any_work(zoo_exe, env, checkpoint, option, value) -> None:
    one_line(zoo(zoo_exe, env, "evaluate", str(checkpoint), option, value), 2, option, value)


def test_evaluate_refuses_a_dataset_whose_classes_differ_unless_asked(zoo_exe, env, checkpoint, tmp_path) -> None:
    offline = {**env, "ZOO_OFFLINE": "1", "ZOO_CACHE_DIR": str(tmp_path / "empty-cache")}
    refused = zoo(zoo_exe, offline, "evaluate", str(checkpoint), "--dataset", "mnist")
    one_line(refused, 2, "fashion-mnist", "mnist", "--allow-class-mismatch")
    asked = zoo(zoo_exe, offline, "evaluate", str(checkpoint), "--dataset", "mnist", "--allow-class-mismatch",
                "--limit-test", "10")
    assert "pass --allow-class-mismatch" not in asked.stderr
    assert "warning:" in asked.stderr and "trained on fashion-mnist" in asked.stderr, asked.stderr
    assert "Traceback" not in asked.stderr


# -- plugins ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hanging_site(module_tmp: MakeDir) -> Path:
    site = module_tmp("hanging-site")
    pip_install_target(REPO / "tests" / "plugin_packages" / "zoo-hanging-import", site)
    return site


def test_a_plugin_whose_import_hangs_is_named_with_how_to_skip_it(zoo_exe, env, hanging_site) -> None:
    env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(hanging_site), env.get("PYTHONPATH")]))}
    hung = ZooProcess(zoo_exe, env, "list")
    try:
        line = hung.wait_for("still loading", timeout=60)
    finally:
        hung.kill()
    assert "'hanging-import'" in line and "zoo-hanging-import" in line
    assert "ZOO_DISABLE_PLUGINS=hanging-import" in line
    skipped = zoo(zoo_exe, {**env, "ZOO_DISABLE_PLUGINS": "hanging-import"}, "list", timeout=60)
    assert skipped.returncode == 0 and "lenet5-torch" in skipped.stdout and skipped.stderr == ""


# -- bad input changes nothing on disk --------------------------------------------------


BAD_INPUT = {
    "image size below the model's minimum": (["alexnet-torch-bn", *TINY, "--image-size", "16"], 2, "--image-size 16"),
    "plot format": (["lenet5-torch", *TINY, "--plot", "curves.xyz"], 2, "curves.xyz"),
    "dataset nowhere": (["lenet5-torch", "--dataset", "cifar10", "--epochs", "1"], 1, "cifar10"),
}


@needs_fashion
@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_leaves_no_run_record_and_no_run_folder(zoo_exe, env, tmp_path, case) -> None:
    args, code, named = BAD_INPUT[case]
    result = zoo(zoo_exe, {**env, "ZOO_OFFLINE": "1"}, "train", *args, cwd=tmp_path)
    one_line(result, code, named)
    assert "epoch" not in result.stderr
    assert stored_runs(env) == []
    assert not any((Path(env["ZOO_HOME"]) / "runs").glob("*"))
    assert not (tmp_path / "curves.xyz").exists()


@needs_fashion
def test_a_data_dir_copy_failing_its_checksum_is_named_with_the_copy_used(zoo_exe, env, checkpoint, tmp_path) -> None:
    import shutil

    bad = tmp_path / "data"
    shutil.copytree(FASHION_DIR, bad)
    broken = bad / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(broken.read_bytes())
    data[-20] ^= 0xFF
    broken.write_bytes(bytes(data))
    fresh = {**env, "ZOO_CACHE_DIR": str(tmp_path / "cache")}
    for attempt in ("first, parsing the system copy", "again, from the parsed cache"):
        result = zoo(zoo_exe, fresh, "evaluate", str(checkpoint), "--data-dir", str(bad), "--limit-test", "20")
        assert result.returncode == 0, (attempt, result.stderr)
        warnings = [line for line in result.stderr.splitlines() if "warning" in line]
        assert any(str(broken) in w and "checksum" in w and "using" in w for w in warnings), (attempt, result.stderr)


# -- kill -9, Ctrl-C ---------------------------------------------------------------------------


@needs_fashion
def test_a_killed_runs_duration_comes_from_its_heartbeat(zoo_exe, env) -> None:
    training = Training(zoo_exe, env, "alexnet-torch-bn", "--dataset", "fashion-mnist", "--epochs", "1", "--limit",
                        "20000", "--limit-test", "50", "--batch-size", "50")
    try:
        deadline = time.monotonic() + 300
        while not stored_runs(env):
            assert time.monotonic() < deadline and training.process.poll() is None, "the run never started"
            time.sleep(0.2)
        started = time.monotonic()
        time.sleep(15)
        assert training.process.poll() is None
        training.process.send_signal(signal.SIGKILL)
        training.process.wait(timeout=60)
        ran = time.monotonic() - started
    finally:
        training.kill()
    (run,) = json.loads(zoo(zoo_exe, env, "runs", "list", "-f", "json").stdout)
    assert run["status"] == "crashed"
    assert ran - 8 <= run["duration_s"] <= ran + 2, (run["duration_s"], ran)


@needs_fashion
def test_ctrl_c_while_the_final_checkpoint_is_written_says_how_to_resume(zoo_exe, env) -> None:
    training = Training(zoo_exe, env, "alexnet-torch-bn", "--dataset", "fashion-mnist", "--epochs", "1", "--limit",
                        "200", "--limit-test", "10000", "--batch-size", "50", "--image-size", "28")
    training.wait_for("epoch 1/1")
    (run_dir,) = (Path(env["ZOO_HOME"]) / "runs").iterdir()
    wait_for_file(run_dir / "state" / "last.json")  # training is over: now it scores 10,000 images and saves
    training.process.send_signal(signal.SIGINT)
    code, _, stderr = training.finish()
    assert code == 130, stderr
    assert "resume with 'zoo train --resume 1'" in stderr.strip().splitlines()[-1] and "Traceback" not in stderr
    assert not (run_dir / "checkpoint.json").exists()
    assert stored_runs(env)[0]["status"] == "interrupted"
    resumed = zoo(zoo_exe, env, "train", "--resume", "1", "-f", "json")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["test_count"] == 10000 and (run_dir / "checkpoint.json").is_file()

"""The hostile-input pass of docs/reliability.md: ~60 bad requests through the installed ``zoo``.

Each case runs the real CLI in a private ``ZOO_HOME`` holding one real trained run, and
records the exit code, what zoo said (its last stderr line), whether a traceback showed, and
whether the run store or the run folders changed. It prints the Markdown table the doc shows.

    .venv/bin/python docs/hostile_pass.py [--cache DIR]   # needs Debian's dataset-fashion-mnist

Not a test (the fault suite, tests/test_faults.py, checks the cases that once failed); a
reviewer's tool, to try the CLI the way a hostile user would after a change.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

ZOO = str(Path(sys.executable).with_name("zoo"))
TINY = ["--dataset", "fashion-mnist", "--epochs", "1", "--limit", "300", "--limit-test", "50", "--batch-size", "50"]


def bomb_png(path: Path, side: int = 20000) -> Path:
    """A valid all-black 1-bit PNG of ``side`` x ``side`` pixels (a few hundred KB)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    packer = zlib.compressobj(9)
    row = b"\0" * (1 + (side + 7) // 8)
    body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", side.to_bytes(4, "big") * 2 + bytes([1, 0, 0, 0, 0]))
                     + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


def edited(checkpoint: Path, where: Path, edit: Callable[[dict], object]) -> Path:
    """A copy of ``checkpoint`` whose sidecar ``edit`` changed (``edit`` may return raw text to write)."""
    shutil.copytree(checkpoint, where)
    sidecar = json.loads((where / "checkpoint.json").read_text())
    text = edit(sidecar)
    (where / "checkpoint.json").write_text(text if isinstance(text, str) else json.dumps(sidecar))
    return where


def state(home: Path) -> tuple[int, tuple[str, ...]]:
    """(runs in the store, run folder names): what a refused request must leave as it was."""
    store = home / "runs.sqlite"
    runs = 0
    if store.is_file() and store.stat().st_size:
        try:
            with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as conn:
                runs = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
        except sqlite3.Error:
            runs = -1
    folders = tuple(sorted(p.name for p in (home / "runs").iterdir())) if (home / "runs").is_dir() else ()
    return runs, folders


def row(number: int, label: str, result: subprocess.CompletedProcess, work: Path, changed: str) -> str:
    """One Markdown row: what zoo said is its error or warning line, else its last stderr line."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    flagged = [line for line in lines if line.startswith("error:") or "warning:" in line]
    said = (flagged or lines or result.stdout.strip().splitlines() or [""])[-1]
    said = said.replace("|", "\\|").replace(str(work), "…")
    said = said if len(said) <= 230 else said[:227] + "..."
    traceback = "**yes**" if "Traceback" in result.stderr else "no"
    return f"| {number} | {label} | {result.returncode} | {said} | {traceback} | {changed} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", help="ZOO_CACHE_DIR to use (parsed datasets are reused)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="zoo-hostile-"))
    home = work / "home"
    base = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}
    base.update(ZOO_HOME=str(home), ZOO_CACHE_DIR=args.cache or str(work / "cache"), COLUMNS="1000",
                TF_CPP_MIN_LOG_LEVEL="2", ZOO_OFFLINE="1")

    def zoo(*argv: str, env: dict[str, str] | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([ZOO, *argv], capture_output=True, text=True, env={**base, **(env or {})},
                              input=stdin, timeout=1800, cwd=work)

    first = zoo("train", "lenet5-torch", *TINY, "-f", "json")
    if first.returncode:
        sys.exit(f"could not train the run the cases need:\n{first.stderr}")
    ckpt = Path(json.loads(first.stdout)["checkpoint"])
    image = work / "digit.png"
    from PIL import Image

    Image.new("L", (28, 28), 128).save(image)
    (work / "notes.png").write_text("not an image")
    bomb = bomb_png(work / "bomb.png")
    corrupt = work / "data"
    shutil.copytree("/usr/share/datasets/fashion-mnist", corrupt)
    labels = corrupt / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:-20] + bytes(20))
    truncated = work / "truncated"
    shutil.copytree(ckpt, truncated)
    weights = truncated / json.loads((truncated / "checkpoint.json").read_text())["weights"]
    weights.write_bytes(weights.read_bytes()[:1000])
    sidecars = {
        "huge": edited(ckpt, work / "huge", lambda s: s["preprocessing"].update(input_size=[30000, 30000])),
        "std0": edited(ckpt, work / "std0", lambda s: s["preprocessing"].update(std=[0.0])),
        "v99": edited(ckpt, work / "v99", lambda s: s.update(format_version=99)),
        "notjson": edited(ckpt, work / "notjson", lambda s: "{not json"),
        "deep": edited(ckpt, work / "deep", lambda s: "[" * 100_000 + "]" * 100_000),
    }
    (work / "a-file").write_text("x")

    cases: list[tuple[str, list[str], dict[str, str]]] = [
        ("a batch of 10 million on full data", ["train", "alexnet-torch-bn", "--dataset", "fashion-mnist",
                                               "--batch-size", "10000000"], {}),
        ("a batch of 10 million on 270 images", ["train", "lenet5-torch", *TINY, "--batch-size", "10000000"], {}),
        ("--batch-size 0", ["train", "lenet5-torch", *TINY, "--batch-size", "0"], {}),
        ("--batch-size -3", ["train", "lenet5-torch", *TINY, "--batch-size", "-3"], {}),
        ("--epochs 0", ["train", "lenet5-torch", *TINY, "--epochs", "0"], {}),
        ("--lr nan", ["train", "lenet5-torch", *TINY, "--lr", "nan"], {}),
        ("--lr -1", ["train", "lenet5-torch", *TINY, "--lr", "-1"], {}),
        ("--val-split 1", ["train", "lenet5-torch", *TINY, "--val-split", "1"], {}),
        ("--limit -5", ["train", "lenet5-torch", *TINY, "--limit", "-5"], {}),
        ("--limit 1 --val-split 0.5", ["train", "lenet5-torch", *TINY, "--limit", "1", "--val-split", "0.5"], {}),
        ("--image-size 100000", ["train", "lenet5-torch", *TINY, "--image-size", "100000"], {}),
        ("--image-size below the model's minimum", ["train", "alexnet-torch-bn", *TINY, "--image-size", "16"], {}),
        ("--seed 10^20", ["train", "lenet5-torch", *TINY, "--seed", "99999999999999999999"], {}),
        ("--label-smoothing 1", ["train", "lenet5-torch", *TINY, "--label-smoothing", "1"], {}),
        ("--augment wobble", ["train", "lenet5-torch", *TINY, "--augment", "wobble"], {}),
        ("--device tpu", ["train", "lenet5-torch", *TINY, "--device", "tpu"], {}),
        ("--device cuda without a GPU", ["train", "lenet5-torch", *TINY, "--device", "cuda"], {}),
        ("--plot curves.xyz", ["train", "lenet5-torch", *TINY, "--plot", "curves.xyz"], {}),
        ("--output a folder holding a checkpoint", ["train", "lenet5-torch", *TINY, "--output", str(ckpt)], {}),
        ("--output an existing file", ["train", "lenet5-torch", *TINY, "--output", str(work / "a-file")], {}),
        ("--output under /proc", ["train", "lenet5-torch", *TINY, "--output", "/proc/zoo-run"], {}),
        ("--overwrite without --output", ["train", "lenet5-torch", *TINY, "--overwrite"], {}),
        ("--resume 999", ["train", "--resume", "999"], {}),
        ("--resume abc", ["train", "--resume", "abc"], {}),
        ("--resume a finished run", ["train", "--resume", "1"], {}),
        ("--resume with a changed recipe", ["train", "--resume", "1", "--epochs", "5"], {}),
        ("an unknown dataset", ["train", "lenet5-torch", "--dataset", "fashoin-mnist"], {}),
        ("an unknown model", ["train", "lenet-torch", "--dataset", "fashion-mnist"], {}),
        ("a dataset that is nowhere (offline)", ["train", "lenet5-torch", "--dataset", "cifar10"], {}),
        ("ZOO_HOME is a file", ["train", "lenet5-torch", *TINY], {"ZOO_HOME": str(work / "a-file")}),
        ("evaluate --limit-test -9999", ["evaluate", str(ckpt), "--limit-test", "-9999"], {}),
        ("evaluate --limit-test 0", ["evaluate", str(ckpt), "--limit-test", "0"], {}),
        ("evaluate --batch-size 0", ["evaluate", str(ckpt), "--batch-size", "0"], {}),
        ("evaluate on a dataset with other classes", ["evaluate", str(ckpt), "--dataset", "mnist"], {}),
        ("evaluate a --data-dir copy failing its checksum",
         ["evaluate", str(ckpt), "--data-dir", str(corrupt), "--limit-test", "20", "-f", "json"], {}),
        ("evaluate /etc", ["evaluate", "/etc"], {}),
        ("sidecar input_size 30000x30000", ["evaluate", str(sidecars["huge"])], {}),
        ("sidecar std 0", ["evaluate", str(sidecars["std0"])], {}),
        ("sidecar format_version 99", ["evaluate", str(sidecars["v99"])], {}),
        ("sidecar not JSON", ["evaluate", str(sidecars["notjson"])], {}),
        ("sidecar nested 100,000 deep", ["evaluate", str(sidecars["deep"])], {}),
        ("weights truncated", ["predict", str(truncated), str(image)], {}),
        ("predict a 20000x20000 PNG", ["predict", str(ckpt), str(bomb)], {}),
        ("predict a text file", ["predict", str(ckpt), str(work / "notes.png")], {}),
        ("predict a directory", ["predict", str(ckpt), str(work)], {}),
        ("predict --top 0", ["predict", str(ckpt), str(image), "--top", "0"], {}),
        ("runs show 999", ["runs", "show", "999"], {}),
        ("runs show abc", ["runs", "show", "abc"], {}),
        ("runs rm without --yes, no terminal", ["runs", "rm", "1"], {}),
        ("runs rebuild /nonexistent", ["runs", "rebuild", "/nonexistent"], {}),
        ("runs export to /proc", ["runs", "export", "--output", "/proc/runs.csv"], {}),
        ("info --input 1x100000x100000", ["info", "alexnet-torch-bn", "--input", "1x100000x100000"], {}),
        ("info --num-classes 10000000", ["info", "alexnet-torch-bn", "--input", "1x28x28", "--num-classes",
                                         "10000000"], {}),
        ("bench --batch-size 0", ["bench", "alexnet-torch-bn", "--batch-size", "0"], {}),
        ("list '['", ["list", "["], {}),
        ("data show --count 100000", ["data", "show", "fashion-mnist", "--output", "grid.png", "--count",
                                      "100000"], {}),
        ("compare with a batch of 10 million", ["compare", "alexnet-torch-bn", "--dataset", "fashion-mnist",
                                                "--batch-size", "10000000"], {}),
    ]
    store = home / "runs.sqlite"
    print("| # | case | exit | what zoo said | traceback | store and run folders |")
    print("| --- | --- | --- | --- | --- | --- |")
    for number, (label, argv, env) in enumerate(cases, 1):
        before = state(home)
        result = zoo(*argv, env=env, stdin="")
        after = state(home)
        changed = "unchanged" if after == before else f"{after[0] - before[0]:+d} run(s), folders {len(after[1])}"
        print(row(number, label, result, work, changed), flush=True)
    # A reset store: 0 bytes while the run folders stay.
    store.write_bytes(b"")
    for label, argv in (("runs list on an emptied store", ["runs", "list"]),
                        ("runs rebuild after the reset", ["runs", "rebuild"]),
                        ("runs rebuild again", ["runs", "rebuild"])):
        number += 1
        result = zoo(*argv, stdin="")
        print(row(number, label, result, work, f"{state(home)[0]} run(s) in the store"), flush=True)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

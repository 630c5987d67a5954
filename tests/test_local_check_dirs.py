"""``check="dirs"`` (``zoo data add --check dirs``): later loads key on a folder's directories.

Real Fashion-MNIST images written as PNG folders, the real cache and the real
CLI. What the quick check notices (a file added, removed, renamed) and what it
documents it does not (a file rewritten in place), and ``zoo data verify``
catching the latter.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests.local_data import CLASS_FOLDERS, fashion, needs_fashion, save_png, write_classes, write_split_folder
from zoo.api.errors import UsageError

pytestmark = needs_fashion


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private dataset cache and ZOO_HOME for in-process loads."""
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))
    return tmp_path / "cache"


def _resolve(root: Path, check: str):
    from zoo.data.local import resolve
    from zoo.data.local_registry import path_spec
    from zoo.data.local_spec import LocalOptions

    return resolve(path_spec(str(root), LocalOptions(order="name", check=check)), progress=False)


def _decoded(entry: Path) -> tuple[int, int]:
    local = json.loads((entry / "meta.json").read_text())["local"]
    return local["decoded"], local["reused"]


def _rewrite_in_place(path: Path, image: np.ndarray) -> None:
    """New pixels under the same name (the same inode: its directory does not change), a later mtime."""
    inode, folder_mtime = path.stat().st_ino, path.parent.stat().st_mtime_ns
    save_png(path, image)
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 10**9))
    assert path.stat().st_ino == inode and path.parent.stat().st_mtime_ns == folder_mtime


def _row(root: Path, name: str) -> int:
    """Row of ``name`` in the train split read in name order."""
    return sorted(p.name for p in (root / "train").glob("*/*.png")).index(name)


def test_dirs_check_notices_added_removed_renamed_files_not_a_rewrite(tmp_path: Path, cache: Path) -> None:
    from zoo.data.local import verify_local
    from zoo.data.local_registry import path_spec
    from zoo.data.local_spec import LocalOptions

    root = write_split_folder(tmp_path / "fm", train=100, test=40)
    _, first, entry = _resolve(root, "dirs")
    assert _decoded(entry) == (140, 0)
    assert json.loads((entry.parent / "dirs.json").read_text())["arrays"] == entry.name.removeprefix("arrays-")
    _, again, same = _resolve(root, "dirs")  # decoded once: the same arrays, mapped again
    assert same == entry and np.array_equal(again.train.images, first.train.images)

    # A file added is noticed, and only it is decoded.
    write_classes(root / "train", *fashion("train", 1, start=500), first_index=500)
    _, added, entry = _resolve(root, "dirs")
    assert _decoded(entry) == (1, 140) and len(added.train) == 101
    # A file removed is noticed.
    next((root / "train").glob("*/00007.png")).unlink()
    _, removed, entry = _resolve(root, "dirs")
    assert _decoded(entry) == (0, 140) and len(removed.train) == 100
    # A file renamed is noticed (its new name is a new key).
    moved = next((root / "train").glob("*/00011.png"))
    moved.rename(moved.with_name("00011-renamed.png"))
    _, renamed, entry = _resolve(root, "dirs")
    assert _decoded(entry) == (1, 139)
    row = _row(root, "00011-renamed.png")
    assert np.array_equal(renamed.train.images[row, ..., 0], fashion("train", 1, start=11)[0][0])

    # A file rewritten in place changes no directory: not noticed, as documented ...
    changed = next((root / "train").glob("*/00003.png"))
    new_pixels = fashion("train", 1, start=900)[0][0]
    _rewrite_in_place(changed, new_pixels)
    row = _row(root, "00003.png")
    _, stale, stale_entry = _resolve(root, "dirs")
    assert stale_entry == entry and np.array_equal(stale.train.images[row, ..., 0], fashion("train", 1, start=3)[0][0])
    # ... until verify checks every file: it reports it and drops the quick key ...
    check = verify_local(path_spec(str(root), LocalOptions(order="name", check="dirs")), progress=False)
    assert check.cache == "stale" and check.unseen and check.bad == ()
    assert not (entry.parent / "dirs.json").exists()
    # ... so the next load decodes the rewritten file.
    _, fresh, entry = _resolve(root, "dirs")
    assert entry != stale_entry and _decoded(entry) == (1, 139)
    assert np.array_equal(fresh.train.images[row, ..., 0], new_pixels)
    recheck = verify_local(path_spec(str(root), LocalOptions(order="name", check="dirs")), progress=False)
    assert recheck.cache == "current" and not recheck.unseen


def test_the_default_check_notices_a_rewrite_and_shares_the_arrays(tmp_path: Path, cache: Path) -> None:
    root = write_split_folder(tmp_path / "fm", train=40, test=20)
    _, _, entry = _resolve(root, "dirs")
    _, _, same = _resolve(root, "files")  # the check does not change the arrays: one cache entry
    assert same == entry
    changed = next((root / "train").glob("*/00002.png"))
    _rewrite_in_place(changed, fashion("train", 1, start=700)[0][0])
    _, data, entry = _resolve(root, "files")
    assert entry != same and _decoded(entry) == (1, 59)
    assert np.array_equal(data.train.images[_row(root, "00002.png"), ..., 0], fashion("train", 1, start=700)[0][0])


def test_dirs_check_is_for_folders(tmp_path: Path, cache: Path) -> None:
    from zoo.data.local_spec import LocalOptions

    images, labels = fashion("train", 20)
    csv = tmp_path / "list.csv"
    paths = write_classes(tmp_path / "img", images, labels)
    csv.write_text("".join(f"{p},{CLASS_FOLDERS[int(label)]}\n" for p, label in zip(paths, labels, strict=True)))
    with pytest.raises(UsageError, match="`check` dirs applies to a folder"):
        _resolve(csv, "dirs")
    with pytest.raises(UsageError, match="`check` must be files or dirs"):
        LocalOptions(check="inodes")


def test_cli_add_check_dirs_info_and_verify(run_zoo, tmp_path: Path, zoo_env: dict[str, str]) -> None:
    root = write_split_folder(tmp_path / "fm", train=60, test=20)
    helped = run_zoo("data", "add", "--help")
    assert "--check" in helped.stdout and "rewritten in place" in " ".join(helped.stdout.split())
    wrong = run_zoo("data", "add", "fm", str(root), "--check", "inodes")
    assert wrong.returncode == 2 and wrong.stderr.strip().count("\n") == 0 and "files or dirs" in wrong.stderr

    add = run_zoo("data", "add", "fm", str(root), "--check", "dirs")
    assert add.returncode == 0 and "decoded 80 image(s)" in add.stderr, add.stderr
    info = run_zoo("data", "info", "fm", "--format", "json")
    assert info.returncode == 0 and "decoded" not in info.stderr  # a later load by name decodes nothing
    assert json.loads(info.stdout)["local"]["options"]["check"] == "dirs"
    table = " ".join(run_zoo("data", "info", "fm").stdout.split())
    assert "change check" in table and "dirs: each load checks the directories only" in table
    assert "a file rewritten in place under the same name is not" in table

    _rewrite_in_place(next((root / "test").glob("*/00004.png")), fashion("test", 1, start=300)[0][0])
    unseen = run_zoo("data", "info", "fm", "--format", "json")
    assert unseen.returncode == 0 and "decoded" not in unseen.stderr
    verify = run_zoo("data", "verify", "fm")
    assert verify.returncode == 0, verify.stderr
    assert "a file changed in place since the arrays were cached, which --check dirs does not notice" in verify.stderr
    caught = run_zoo("data", "info", "fm", "--format", "json")
    assert "decoded 1 image(s), reused 79 unchanged" in caught.stderr


def test_dirs_check_walks_nested_folders_and_skips_hidden_entries(tmp_path: Path, cache: Path) -> None:
    root = write_split_folder(tmp_path / "fm", train=40, test=20)
    nested = root / "train" / CLASS_FOLDERS[0] / "more"
    save_png(nested / "a.png", fashion("train", 1, start=600)[0][0])
    _, _, entry = _resolve(root, "dirs")
    (root / "train" / CLASS_FOLDERS[0] / ".DS_Store").write_bytes(b"\0\1")  # hidden: not the data
    _, _, same = _resolve(root, "dirs")
    assert same == entry
    save_png(nested / "b.png", fashion("train", 1, start=601)[0][0])  # one folder deeper
    _, data, entry = _resolve(root, "dirs")
    assert entry != same and _decoded(entry) == (1, 61) and len(data.train) == 42

"""Safe extraction: every member checked before anything is written; nothing lands outside."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from zoo.api.errors import ZooError
from zoo.data.archive import extract_archive


def _tar(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
            else:
                name, data = member
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def _special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


def _all_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_good_archive_is_extracted_and_renamed_into_place(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "a.tar.gz", [("top/one", b"1"), ("top/sub/two", b"22")])
    target = tmp_path / "work" / "extracted"
    assert extract_archive(archive, target) == target
    assert (target / "top" / "one").read_bytes() == b"1"
    assert (target / "top" / "sub" / "two").read_bytes() == b"22"
    assert _all_files(tmp_path / "work") == {"extracted", "extracted/top", "extracted/top/one",
                                             "extracted/top/sub", "extracted/top/sub/two"}
    # A complete destination is reused, not extracted again.
    (target / "top" / "one").write_bytes(b"changed")
    extract_archive(archive, target)
    assert (target / "top" / "one").read_bytes() == b"changed"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (("../escape", b"x"), "'..' component"),
        (("top/../../escape", b"x"), "'..' component"),
        (("/tmp/zoo-absolute-escape", b"x"), "absolute path"),
        (_special("top/link", tarfile.SYMTYPE, "/etc/passwd"), "is a link"),
        (_special("top/rel-link", tarfile.SYMTYPE, "../../escape"), "is a link"),
        (_special("top/hard", tarfile.LNKTYPE, "/etc/passwd"), "is a link"),
        (_special("top/dev", tarfile.CHRTYPE), "device"),
        (_special("top/blk", tarfile.BLKTYPE), "device"),
        (_special("top/fifo", tarfile.FIFOTYPE), "device or FIFO"),
    ],
)
def test_unsafe_member_refuses_the_whole_archive(tmp_path: Path, bad: object, message: str) -> None:
    # The bad member comes last: nothing, not even the good members before it, may be written.
    work = tmp_path / "deep" / "work"
    work.mkdir(parents=True)
    archive = _tar(tmp_path / "bad.tar.gz", [("top/good", b"fine"), bad])  # type: ignore[list-item]
    before = _all_files(tmp_path)
    with pytest.raises(ZooError, match=message) as error:
        extract_archive(archive, work / "extracted")
    assert "refusing to extract" in str(error.value) and "bad.tar.gz" in str(error.value)
    assert _all_files(tmp_path) == before
    assert not Path("/tmp/zoo-absolute-escape").exists()


def test_symlink_then_write_through_it_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    archive = _tar(
        tmp_path / "chain.tar.gz",
        [_special("top/dir", tarfile.SYMTYPE, str(outside)), ("top/dir/planted", b"x")],
    )
    with pytest.raises(ZooError, match="is a link"):
        extract_archive(archive, tmp_path / "work" / "extracted")
    assert list(outside.iterdir()) == []


def test_truncated_archive_leaves_no_destination(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "t.tar.gz", [(f"top/f{i}", bytes(range(256)) * 64) for i in range(20)])
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    work = tmp_path / "work"
    with pytest.raises(ZooError, match="damaged or truncated"):
        extract_archive(archive, work / "extracted")
    assert not (work / "extracted").exists()
    assert list(work.iterdir()) == []  # the temporary directory is gone too

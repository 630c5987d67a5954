"""zoo sets glibc's malloc thresholds for a run or a timing, unless the user chose an allocator setting.

Each check runs in a fresh Python process (glibc's thresholds are per process and move as memory is
freed) and reads glibc's own count of mapped blocks (``mallinfo2().hblks``) around one 4 MiB
``malloc``: with glibc's default 128 KiB mmap threshold the block is mapped (and unmapped when freed,
its pages faulted in again next time); with zoo's 32 MiB threshold it comes from the heap.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from zoo.run.allocator import ZOO_SETTING

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")

PROBE = """
import ctypes, json, sys
from zoo.run.allocator import keep_freed_memory, malloc_setting

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
before = malloc_setting()
setting = keep_freed_memory() if sys.argv[1] == "keep" else before
mapped = libc.mallinfo2().hblks
block = libc.malloc(4 << 20)
print(json.dumps({"before": before, "setting": setting, "mapped": libc.mallinfo2().hblks - mapped,
                  "again": keep_freed_memory() == setting if sys.argv[1] == "keep" else True}))
"""


def probe(mode: str, **env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k not in ("ZOO_MALLOC",
                                                                                            "GLIBC_TUNABLES")}
    clean["LD_PRELOAD"] = ""
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                          env={**clean, **env}, check=True)
    return json.loads(done.stdout)


def test_glibc_maps_a_large_block_by_default() -> None:
    result = probe("leave")
    assert result["setting"] == "the C library's defaults"
    assert result["mapped"] == 1


def test_zoo_takes_a_large_block_from_the_heap_once_set_and_says_so() -> None:
    result = probe("keep")
    assert result["before"] == "the C library's defaults"
    assert result["setting"] == ZOO_SETTING == "glibc, mmap threshold 32 MiB, trim threshold 256 MiB (zoo)"
    assert result["mapped"] == 0
    assert result["again"]  # set once per process


@pytest.mark.parametrize(("env", "named"), [
    ({"ZOO_MALLOC": "system"}, "ZOO_MALLOC=system"),
    ({"MALLOC_TRIM_THRESHOLD_": "1048576"}, "MALLOC_TRIM_THRESHOLD_"),
])
def test_a_users_choice_is_left_alone_and_recorded(env: dict[str, str], named: str) -> None:
    result = probe("keep", **env)
    assert named in str(result["setting"])
    assert result["mapped"] == 1  # glibc's 128 KiB mmap threshold, as without zoo

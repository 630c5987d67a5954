"""glibc's malloc, set so that the memory a training step frees stays in the process for the next step.

With glibc's defaults a framework's CPU step can hand its larger buffers back to the OS (``munmap``
above the mmap threshold, heap trimming above the trim threshold) and fault the pages in again on
the next step. glibc raises both thresholds by itself once a large enough block has been freed, so
the same step runs at two speeds in one process: measured on this project's 2-core EPYC VM,
lenet5-torch's bare training step ran at 10.7k img/s at the start of a process and at 13.0k after a
training run had, by chance, raised the thresholds (``benchmarks/bench_loop_efficiency.py --malloc
system,zoo``; docs/benchmarks.md). Fixed thresholds make every step run at the second speed, so a
throughput figure measures the model, not the allocator's history.

Applied once per process by :func:`keep_freed_memory` before a run or a timing, and recorded in the
run's environment (``malloc``). It is left alone where the user chose: ``ZOO_MALLOC=system``,
glibc's own ``MALLOC_*_`` variables or ``GLIBC_TUNABLES``, or another allocator preloaded
(jemalloc, tcmalloc, mimalloc). Written with ``ctypes`` because no maintained package sets
``mallopt``; on a C library other than glibc (macOS, musl) nothing changes.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform

MIB = 1 << 20
MMAP_THRESHOLD = 32 * MIB  # glibc's ceiling on 64-bit: larger blocks are still mapped, and unmapped when freed
TRIM_THRESHOLD = 256 * MIB  # free memory at the heap's top kept before it is given back
OPT_OUT = "ZOO_MALLOC"  # "system": leave malloc as it is
GLIBC_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "GLIBC_TUNABLES")
OTHER_ALLOCATORS = ("jemalloc", "tcmalloc", "mimalloc")
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)
ZOO_SETTING = f"glibc, mmap threshold {MMAP_THRESHOLD // MIB} MiB, trim threshold {TRIM_THRESHOLD // MIB} MiB (zoo)"


def user_choice() -> str | None:
    """The allocator setting the user made in the environment, in words; None when they made none."""
    if os.environ.get(OPT_OUT, "").lower() == "system":
        return f"the C library's own ({OPT_OUT}=system)"
    preloaded = os.environ.get("LD_PRELOAD", "")
    for name in OTHER_ALLOCATORS:
        if name in preloaded:
            return f"{name} (LD_PRELOAD)"
    chosen = [name for name in GLIBC_SETTINGS if name in os.environ]
    if chosen:
        return f"glibc, as set by {', '.join(chosen)}"
    return None


@functools.cache
def keep_freed_memory() -> str:
    """Set glibc's mmap and trim thresholds for this process, once, unless the user chose otherwise.

    Returns the allocator setting in words, as the run record stores it.
    """
    chosen = user_choice()
    if chosen is not None:
        return chosen
    if platform.libc_ver()[0] != "glibc":
        return "the C library's own (not glibc)"
    libc = ctypes.CDLL(None)
    applied = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    if not applied:
        return "glibc's defaults (mallopt refused zoo's thresholds)"
    return ZOO_SETTING


def malloc_setting() -> str:
    """The setting :func:`keep_freed_memory` made in this process, or the C library's defaults before it ran."""
    if keep_freed_memory.cache_info().currsize:
        return keep_freed_memory()
    return user_choice() or "the C library's defaults"

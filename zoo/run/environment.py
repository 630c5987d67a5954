"""Where and with what a number was measured: host, CPU, versions, commit."""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from pathlib import Path

from zoo.api.version import ZOO_VERSION as __version__
from zoo.run.allocator import malloc_setting


@functools.cache
def cpu_model() -> str:
    """The CPU's model name (Linux), else the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.cache
def git_commit() -> str:
    """The commit of the zoo checkout in use, or "" when not run from a git checkout."""
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return ""
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, timeout=5, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


def core_environment() -> dict[str, str]:
    """Framework-free facts about this process."""
    return {
        "zoo": __version__,
        "commit": git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "hostname": platform.node(),
        "cpu": cpu_model(),
        "cpu_count": str(os.cpu_count() or 0),
        "malloc": malloc_setting(),
    }

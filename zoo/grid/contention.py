"""Which figures were measured while other jobs ran on the same device: they are flagged, not hidden.

``zoo compare --jobs N`` and ``--executor ray`` run jobs side by side. A throughput measured while another
job shared the device (the same host's CPU, or the same GPU) is lower than the device's uncontended figure,
so comparing it with an uncontended one misleads. A job is *contended* when it measured anything now (it
trained, or timed its bare step) and its wall interval overlapped another job's on the same host and device.
The flag is stored with the run (metric ``contended`` = 1), so a later comparison that reuses the run
shows it flagged too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from zoo.grid.jobs import JobResult

CONTENDED = "contended"


def measured_now(result: JobResult) -> bool:
    """Whether ``result`` holds a figure measured in this comparison (not all reused from the store)."""
    return result.ok and "measured" in (result.source, result.throughput_source)


def flag_contended(results: Sequence[JobResult]) -> list[JobResult]:
    """``results`` with ``metrics["contended"] = 1.0`` on each that measured while another shared its device."""
    flagged = []
    for index, result in enumerate(results):
        overlapped = measured_now(result) and any(
            other.started_at < result.ended_at and result.started_at < other.ended_at
            and (other.host, other.device_share) == (result.host, result.device_share)
            for position, other in enumerate(results) if position != index and other.ended_at
        )
        if overlapped:
            result = dataclasses.replace(result, metrics={**result.metrics, CONTENDED: 1.0})
        flagged.append(result)
    return flagged


def is_contended(result: JobResult) -> bool:
    """Whether ``result``'s figures were measured under contention (now, or in the stored run it reused)."""
    return bool(result.metrics.get(CONTENDED))

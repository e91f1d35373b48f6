"""How many cores this process may use: its CPU affinity, capped by a container's CPU quota
(cgroup v2 or v1). The jobs share them out (`core.service.jobs.threads_per_job`), and the
server sizes its worker processes by them (`core.service.serving`)."""
from __future__ import annotations

import functools
import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def cgroup_cpu_limit(root: Path = CGROUP_ROOT) -> float | None:
    """The CPU quota a container grants (cores, e.g. 1.5), or None when there is none.

    cgroup v2 writes "<quota> <period>" (or "max <period>") to cpu.max; v1 has two files.
    """
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return quota_us / period_us if quota_us > 0 and period_us > 0 else None
    except (OSError, ValueError):
        return None


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity, capped by a container's quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:           # not Linux
        cores = os.cpu_count() or 1
    limit = _cpu_limit()
    return max(1, min(cores, math.ceil(limit))) if limit else cores


@functools.cache
def _cpu_limit() -> float | None:
    """cgroup_cpu_limit(), read once per process (usable_cores runs at every training step)."""
    return cgroup_cpu_limit()

"""The cores and torch threads of training: the one place that decides them.

How many cores this process may use (its CPU affinity, capped by a container's CPU quota,
cgroup v2 or v1); one of them is kept for the pages and the browser, and the runs training at
once share the rest: the default number of runs at once (`core.service.limits`), the threads
of each worker process (`core.service.serving`), of a run on a thread of the app
(`threads_per_job`, followed at every step) and of a Ray actor all come from here.

PyTorch's worker threads wait for each other at the end of every parallel op, so a run whose
threads share cores with the app's redraws (or another run) stalls far more than its share:
under the open Train view a lone run on 2 cores is faster with 1 thread than with 2
(bench/RESULTS.md). On 2 cores every run gets 1 thread; on 8, a lone run gets 7.
"""
from __future__ import annotations

import functools
import math
import os
import threading
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


PAGE_CORES = 1        # kept for the pages and the browser while runs train


def cores_for_runs(cores: int | None = None) -> int:
    """The cores the runs share: the usable ones (`cores`, if given) but the pages' one, at least 1."""
    return max(1, (usable_cores() if cores is None else cores) - PAGE_CORES)


def threads_per_run(runs: int, cores: int | None = None) -> int:
    """Torch threads for each of `runs` runs training at once on these cores."""
    return max(1, cores_for_runs(cores) // max(runs, 1))


def threads_for_cpus(cpus: float) -> int:
    """A run granted `cpus` CPUs by a cluster (1.5 of them, say) computes on the whole ones."""
    return max(1, int(cpus))


def use_threads(threads: int) -> None:
    """Set torch's intra-op threads (per OS thread: call it on the thread that trains)."""
    import torch  # here: the limits and the queue import this module, and never need torch
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


_training: set[int] = set()       # the jobs of this process whose thread is working
_training_lock = threading.Lock()


def job_started(job: object) -> None:
    with _training_lock:
        _training.add(id(job))


def job_ended(job: object) -> None:
    with _training_lock:
        _training.discard(id(job))


def threads_per_job() -> int:
    """Threads for a run on a thread of this process, among the jobs working here now."""
    with _training_lock:
        jobs = len(_training)
    return threads_per_run(jobs)

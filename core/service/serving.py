"""One server's training setup: the operator's limits, the queue, and where runs execute.

Runs execute in local worker processes (`InProcess`), or on a Ray cluster when
SEQ2SEQ_RAY_ADDRESS names one (`core.service.ray_runner`; Ray is imported only then). A
cluster that cannot be reached is reported, and runs fall back to local workers only where
the operator allowed it with SEQ2SEQ_RAY_FALLBACK=1.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .jobs import usable_cores
from .limits import LimitError, Limits
from .queue import JobQueue
from .ray_runner import CALL_SECONDS, OnRay, RayUnavailable
from .workers import IN_THREAD, InProcess, Runner

RAY_ADDRESS = "SEQ2SEQ_RAY_ADDRESS"
RAY_FALLBACK = "SEQ2SEQ_RAY_FALLBACK"
RAY_CPUS_PER_RUN = "SEQ2SEQ_RAY_CPUS_PER_RUN"
RAY_TIMEOUT = "SEQ2SEQ_RAY_TIMEOUT"   # seconds: connecting, and any one call to the cluster
WORKERS = "SEQ2SEQ_WORKERS"     # "process" (the default) or "thread": runs in the app's process


@dataclass
class Serving:
    limits: Limits
    runner: Runner
    queue: JobQueue
    where: str                 # where runs train, in words for the pages
    problem: str = ""          # why runs cannot train (a lost cluster, no fallback allowed)


def local_runner(limits: Limits, cores: int, kind: str = "process") -> Runner:
    """Worker processes sharing the cores but one among the runs allowed at once; or, with
    SEQ2SEQ_WORKERS=thread, threads of the app (a platform without worker processes, debugging)."""
    if kind == "thread":
        return IN_THREAD
    if kind != "process":
        raise LimitError(f"{WORKERS} must be process or thread, got {kind!r}")
    return InProcess(threads=max(1, (cores - 1) // limits.max_jobs))


def serve(env: Mapping[str, str], secrets: Mapping[str, object] | None = None) -> Serving:
    """The setup the environment asks for; LimitError when a limit's value is bad."""
    cores = usable_cores()
    limits = Limits.read(env, secrets, cores=cores)
    local = local_runner(limits, cores, (env.get(WORKERS) or "process").strip())
    address = (env.get(RAY_ADDRESS) or "").strip()
    if not address:
        kind = "worker processes" if local.name == "process" else "threads of the app's process"
        return _local(limits, local, f"{kind} on this server, {limits.max_jobs} at once")
    fallback = env.get(RAY_FALLBACK) == "1"
    timeout = _seconds(env, RAY_TIMEOUT, CALL_SECONDS)
    ray = OnRay(address, cpus_per_run=_seconds(env, RAY_CPUS_PER_RUN, 1.0), fallback=local if fallback else None,
                call_timeout=timeout)
    try:
        ray.connect(timeout)
    except RayUnavailable as err:
        if fallback:
            return _local(limits, local, f"worker processes on this server ({err}; {RAY_FALLBACK}=1)")
        return Serving(limits, ray, JobQueue(lambda: 0, limits.max_queue), f"the Ray cluster at {address}",
                       problem=f"{err}: runs cannot train. The operator can start the cluster and restart the app, "
                               f"or set {RAY_FALLBACK}=1 to train on this server instead.")
    queue = JobQueue(ray.capacity, limits.max_queue).start_ticking()
    return Serving(limits, ray, queue, f"the Ray cluster at {address}, {ray.capacity()} runs at once")


def _seconds(env: Mapping[str, str], variable: str, default: float) -> float:
    raw = (env.get(variable) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise LimitError(f"{variable} must be a positive number, got {raw!r}")
    return value


def _local(limits: Limits, runner: Runner, where: str) -> Serving:
    queue = JobQueue(lambda: limits.max_jobs, limits.max_queue).start_ticking()
    return Serving(limits, runner, queue, where)

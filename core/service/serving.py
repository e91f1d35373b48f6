"""One server's training setup: the operator's limits, the queue, and where runs execute.

Runs execute in local worker processes (`InProcess`), or on a Ray cluster when
SEQ2SEQ_RAY_ADDRESS names one (`core.service.ray_runner`; Ray is imported only then). A
cluster that cannot be reached is reported, and runs fall back to local workers only where
the operator allowed it with SEQ2SEQ_RAY_FALLBACK=1.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..i18n import Text, message_of
from .cores import threads_per_run, usable_cores
from .limits import LimitError, Limits
from .queue import JobQueue
from .ray_runner import CALL_SECONDS, TOKEN_SETTING, OnRay, RayUnavailable
from .workers import IN_THREAD, InProcess, Runner

RAY_ADDRESS = "SEQ2SEQ_RAY_ADDRESS"
RAY_FALLBACK = "SEQ2SEQ_RAY_FALLBACK"
RAY_CPUS_PER_RUN = "SEQ2SEQ_RAY_CPUS_PER_RUN"
RAY_TIMEOUT = "SEQ2SEQ_RAY_TIMEOUT"   # seconds: connecting, and any one call to the cluster
WORKERS = "SEQ2SEQ_WORKERS"     # "process" (the default) or "thread": runs in the app's process


RETRY_SECONDS = 30.0    # a cluster that could not be reached is tried again by a Start after this


@dataclass
class Serving:
    limits: Limits
    runner: Runner
    queue: JobQueue
    where: str                 # where runs train, in words for the pages
    problem: str = ""          # why runs cannot train (a lost cluster, no fallback allowed)
    made_at: float = field(default_factory=time.monotonic)


def local_runner(limits: Limits, cores: int, kind: str = "process") -> Runner:
    """Worker processes sharing the cores but one among the runs allowed at once; or, with
    SEQ2SEQ_WORKERS=thread, threads of the app (a platform without worker processes, debugging)."""
    if kind == "thread":
        return IN_THREAD
    if kind != "process":
        raise LimitError(Text("{variable} must be process or thread, got {kind!r}", variable=WORKERS, kind=kind))
    return InProcess(threads=threads_per_run(limits.max_jobs, cores))


def serve(env: Mapping[str, str], secrets: Mapping[str, object] | None = None) -> Serving:
    """The setup the environment asks for; LimitError when a limit's value is bad."""
    cores = usable_cores()
    limits = Limits.read(env, secrets, cores=cores)
    local = local_runner(limits, cores, (env.get(WORKERS) or "process").strip())
    address = (env.get(RAY_ADDRESS) or "").strip()
    if not address:
        if local.name == "process":
            return _local(limits, local, Text("worker processes on this server, {jobs} at once", jobs=limits.max_jobs))
        return _local(limits, local, Text("threads of the app's process on this server, {jobs} at once",
                                          jobs=limits.max_jobs))
    fallback = env.get(RAY_FALLBACK) == "1"
    timeout = _seconds(env, RAY_TIMEOUT, CALL_SECONDS)
    token = str(env.get(TOKEN_SETTING) or (secrets or {}).get(TOKEN_SETTING) or "").strip() or None
    ray = OnRay(address, cpus_per_run=_seconds(env, RAY_CPUS_PER_RUN, 1.0), fallback=local if fallback else None,
                call_timeout=timeout, token=token)
    try:
        ray.connect(timeout)
    except RayUnavailable as err:
        if fallback:
            return _local(limits, local, Text("worker processes on this server ({reason}; {variable}=1)",
                                              reason=message_of(err), variable=RAY_FALLBACK))
        return Serving(limits, ray, JobQueue(lambda: 0, limits.max_queue), Text("the Ray cluster at {address}",
                                                                                address=address),
                       problem=Text("{reason}: runs cannot train. The operator can start the cluster (a Start "
                                    "tries it again after {seconds:g} s), or set {variable}=1 to train on this "
                                    "server instead.", reason=message_of(err), seconds=RETRY_SECONDS,
                                    variable=RAY_FALLBACK))
    queue = JobQueue(ray.capacity, limits.max_queue).start_ticking()
    return Serving(limits, ray, queue, Text("the Ray cluster at {address}, {runs} runs at once",
                                            address=address, runs=ray.capacity()))


def _seconds(env: Mapping[str, str], variable: str, default: float) -> float:
    raw = (env.get(variable) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise LimitError(Text("{variable} must be a positive number, got {raw!r}", variable=variable, raw=raw))
    return value


def _local(limits: Limits, runner: Runner, where: str) -> Serving:
    queue = JobQueue(lambda: limits.max_jobs, limits.max_queue).start_ticking()
    return Serving(limits, runner, queue, where)

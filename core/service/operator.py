"""What the operator page shows and does: every job on the server, its load, cancel, clear.

The page exists only where SEQ2SEQ_OPERATOR_TOKEN is set, and shows nothing before the token
is given; it is compared in constant time, so its length or prefix cannot be probed.
"""
from __future__ import annotations

import hmac
import os
import resource
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, cast

from ..i18n import Text
from .jobs import TrainingJob
from .queue import JobQueue, Queued

if TYPE_CHECKING:       # for the checker only: the engine never imports the exercises
    from ..exercises.experiments import ExperimentJob

TOKEN = "SEQ2SEQ_OPERATOR_TOKEN"
MEMINFO = Path("/proc/meminfo")
CANCELLED_BY_OPERATOR = Text("cancelled by this server's operator")   # the reason a cancelled job's tab shows


def operator_token(env: Mapping[str, str]) -> str | None:
    """The token the operator set (None: the operator page is off)."""
    token = (env.get(TOKEN) or "").strip()
    return token or None


def token_matches(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def settings_of(job: Queued) -> str:
    if isinstance(job, TrainingJob):
        d, m, t = job.run.data_config, job.run.model_config, job.run.train_config
        return Text("{source}, {cell} {layers}×{hiddens}, batch {batch}, {epochs} epochs, lr {lr:g}",
                    source=d.source, cell=m.cell.upper(), layers=m.num_layers, hiddens=m.num_hiddens,
                    batch=d.batch_size, epochs=t.num_epochs, lr=t.lr)
    experiment = cast("ExperimentJob", job).experiment     # the queue's one other kind of job
    return Text("experiment {name}, {variants} variants", name=job.name, variants=len(experiment.variants))


def job_rows(queue: JobQueue) -> list[dict[str, object]]:
    """Every running and waiting job, one row each, running first, then in queue order."""
    rows: list[dict[str, object]] = []
    for job in queue.running() + queue.waiting():
        rows.append({"job": job.job_id, "tab": job.owner, "what": job.name, "settings": settings_of(job),
                     "status": job.status, "place": queue.place(job),
                     "epochs": f"{job.epochs_done}/{job.planned_epochs}",
                     "elapsed s": round(job.elapsed, 1), "CPU s": round(job.stats.cpu_seconds, 1),
                     "where": job.stats.where})
    return rows


def find_job(queue: JobQueue, job_id: str) -> Queued | None:
    return next((j for j in queue.running() + queue.waiting() if j.job_id == job_id), None)


def server_load() -> dict[str, float | None]:
    """The machine's load averages, its memory, and this server process's own peak memory."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (None, None, None)
    memory = _meminfo()
    return {"load 1 min": load[0], "load 5 min": load[1], "load 15 min": load[2],
            "memory total MiB": memory.get("MemTotal"), "memory available MiB": memory.get("MemAvailable"),
            "app process peak MiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "worker processes peak MiB": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def _meminfo() -> dict[str, float]:
    try:
        lines = MEMINFO.read_text().splitlines()
    except OSError:                  # not Linux
        return {}
    values = {}
    for line in lines:
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[name] = int(parts[0]) / 1024
    return values

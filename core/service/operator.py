"""What the operator page shows and does: every job on the server, its load, cancel, clear.

The page exists only where SEQ2SEQ_OPERATOR_TOKEN is set, and shows nothing before the token
is given; it is compared in constant time, so its length or prefix cannot be probed.

Its actions act on what the operator saw: `clear_queue` takes out exactly the waiting jobs the
page listed, and both it and `cancel_job` say what changed since (a run that took the freed
slot meanwhile is named, not silently left training).
"""
from __future__ import annotations

import hmac
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, cast

from ..history import Status
from ..i18n import Text
from .jobs import TrainingJob
from .queue import JobQueue, Queued, QueueState
from .workers import peak_rss_mib, workers_peak_mib

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
        d, m, t = job.spec.data_config, job.spec.model_config, job.spec.train_config
        return Text("{source}, {cell} {layers}×{hiddens}, batch {batch}, {epochs} epochs, lr {lr:g}",
                    source=d.source, cell=m.cell.upper(), layers=m.num_layers, hiddens=m.num_hiddens,
                    batch=d.batch_size, epochs=t.num_epochs, lr=t.lr)
    experiment = cast("ExperimentJob", job).experiment     # the queue's one other kind of job
    return Text("experiment {name}, {variants} variants", name=job.name, variants=len(experiment.variants))


def job_rows(queue: JobQueue | QueueState) -> list[dict[str, object]]:
    """Every running and waiting job, one row each, running first, then in queue order (from one
    look at the queue: pass the `QueueState` the rest of the page reads too)."""
    state = queue.state() if isinstance(queue, JobQueue) else queue
    rows: list[dict[str, object]] = []
    for job in state.running + state.waiting:
        rows.append({"job": job.job_id, "tab": job.owner, "what": job.name, "settings": settings_of(job),
                     "status": job.status, "place": state.place(job),
                     "epochs": f"{job.epochs_done}/{job.planned_epochs}",
                     "elapsed s": round(job.elapsed, 1), "CPU s": round(job.stats.cpu_seconds, 1),
                     "where": job.stats.where})
    return rows


def find_job(queue: JobQueue, job_id: str) -> Queued | None:
    state = queue.state()
    return next((j for j in state.running + state.waiting if j.job_id == job_id), None)


def cancel_job(queue: JobQueue, job_id: str, seen: Status, message: str = CANCELLED_BY_OPERATOR) -> Text:
    """Cancel the job the operator picked, seen with status `seen`; what happened, in words: a
    job that started meanwhile is stopped all the same (the operator picked that run), and
    one that had already ended is left as it is."""
    job = find_job(queue, job_id)
    if job is None:
        return Text("{job} had already ended: nothing to cancel", job=job_id)
    status = job.status
    job.cancel(message)          # shown to the job's owner, in their tab's language
    if seen == Status.QUEUED and status == Status.RUNNING:
        return Text("{job} ({name}) had started meanwhile: it stops after its current step", job=job_id, name=job.name)
    if status == Status.QUEUED:
        return Text("Took {job} ({name}) out of the queue", job=job_id, name=job.name)
    return Text("Cancelled {job} ({name}): it stops after its current step", job=job_id, name=job.name)


def clear_queue(queue: JobQueue, seen_waiting: Iterable[str]) -> list[Text]:
    """Take out of the queue exactly the waiting jobs the operator saw (their ids), and say what
    changed since, a sentence each: a run that took a freed slot meanwhile trains on and is
    named, a run that came in since was not seen and stays waiting."""
    cleared = queue.clear(expected=list(seen_waiting))
    said = [Text("Took {count} waiting run(s) out of the queue", count=len(cleared.removed))]
    for job in cleared.started:
        said.append(Text("{job} ({name}) had taken a free slot meanwhile and is training now: cancel it "
                         "if it should not train", job=job.job_id, name=job.name))
    if cleared.kept:
        said.append(Text("{count} run(s) came into the queue since the page was drawn and still wait",
                         count=len(cleared.kept)))
    return said


def server_load() -> dict[str, float | None]:
    """The machine's load averages and memory; this server process's own peak memory, and the
    largest peak of a worker process that trained here (each worker measures its own: the
    workers are the forkserver's children, so this process's RUSAGE_CHILDREN never sees them)."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (None, None, None)
    memory = _meminfo()
    return {"load 1 min": load[0], "load 5 min": load[1], "load 15 min": load[2],
            "memory total MiB": memory.get("MemTotal"), "memory available MiB": memory.get("MemAvailable"),
            "app process peak MiB": peak_rss_mib(), "worker processes peak MiB": workers_peak_mib()}


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

"""Training as a background job: its spec, its events, a stop switch, and a heartbeat.

The Train view owns one job per browser session. A job holds a run's `RunSpec`, never the built
run: its thread hands a `TrainWork` to a runner (core.service.workers: this thread, a worker
process, a Ray actor), where the run is built, trained and saved (core.service.train_work), and
turns the messages that come back into events, the saved file and a status; it never touches
the UI: the page reads `snapshot()` on each rerun. If the page stops calling `heartbeat()` (the
tab closed), the job stops itself within `orphan_timeout` seconds, so no orphan run burns the
CPU; one still waiting in the server's queue (core.service.queue) is dropped from it.
"""
from __future__ import annotations

import secrets
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..checkpoint import checkpoint_dir as default_checkpoint_dir
from ..checkpoint import checkpoint_path
from ..config import TrainConfig
from ..history import (
    EpochEvent,
    LiveCurves,
    Status,
    StepEvent,
    TrainResult,
    recent_epoch_seconds,
    seconds_left,
)
from ..i18n import Text, message_of
from ..train import RunPlan, RunSpec, self_contained
from .cores import job_ended, job_started, threads_per_job, use_threads
from .limits import Limits
from .train_work import CHECKPOINT_EVERY_SECONDS, Begun, Saved, SaveTarget, TrainWork
from .workers import IN_THREAD, Runner, WorkerCrashed, WorkerFailed, WorkerStats, error_text

SESSION_GONE = Text("the browser session went away")


@dataclass
class JobSnapshot:
    """A consistent copy of a job's progress for one redraw. While it waits, its place, the
    queue's counts and its expected wait come from one look at the queue (`QueueState`)."""
    status: Status
    message: str
    epoch: int
    num_epochs: int
    step: int
    step_loss: list[float]
    step_grad_norm: list[float]
    epoch_loss: list[float]
    tokens_per_second: list[float]   # each epoch's own throughput
    samples: list[dict]
    elapsed: float
    checkpoint: str | None
    clip_theta: float
    place: int | None = None             # in the server's queue, while QUEUED (1: next to start)
    expected_wait: float | None = None   # seconds until it starts, while QUEUED
    epoch_ends: list[float] = field(default_factory=list)   # `elapsed` at the end of each of this run's epochs
    training: int = 0                    # while QUEUED: the runs training now,
    queued: int = 0                      # the runs waiting (this one among them),
    slots: int = 0                       # and how many train at once
    layer_steps: list[int] = field(default_factory=list)     # the steps that reported each layer's norm,
    layer_grad_norms: dict[str, list[float]] = field(default_factory=dict)   # and those norms by layer

    @property
    def progress(self) -> float:
        return min(self.epoch / self.num_epochs, 1.0) if self.num_epochs else 0.0

    @property
    def eta_seconds(self) -> float | None:
        """Seconds left, from the recent epochs' rate (`core.history.seconds_left`); None before
        this run's first epoch ended."""
        if self.status != Status.RUNNING:
            return None
        return seconds_left(self.epoch_ends, self.num_epochs - self.epoch, self.elapsed)

    @property
    def waiting(self) -> bool:
        return self.status == Status.QUEUED


def check_limits(plan: RunPlan, limits: Limits) -> None:
    """LimitExceeded, naming the limit, for a run that asks for more than this server allows: the
    epochs it would train now, its parameters, its training pairs. `plan` is
    `core.train.plan_run(spec)`: read from the spec, before any model or optimizer is built."""
    limits.check_run(epochs=plan.epochs, parameters=plan.parameters, train_pairs=plan.train_pairs)


class BackgroundJob:
    """start / stop / join / alive for a job whose `_work` runs on a daemon thread, possibly
    after a wait in a `JobQueue` (QUEUED: `alive`, with no thread yet).

    Subclasses call `_init_job()`, give `name`, `owner`, `planned_epochs`, `epochs_done` and
    `_elapsed`, and call `_fit_threads()` now and then from `_work` so an in-process job follows
    `core.service.cores.threads_per_job()`.
    """
    status: Status
    message: str
    owner: str                       # which tab, for the operator page
    runner: Runner
    queue: Any                       # the JobQueue that started it, if any
    stats: WorkerStats
    orphan_timeout: float
    _stop: threading.Event
    _thread: threading.Thread | None
    _elapsed: float                  # seconds trained so far
    _epoch_ends: list[float]         # `_elapsed` at the end of each epoch it trained

    def _init_job(self) -> None:
        self._epoch_ends = []
        self._ended, self._last_seen = threading.Event(), time.monotonic()
        self.stats = WorkerStats()
        self.job_id = secrets.token_hex(4)     # names it on the operator page

    def _thread_name(self) -> str:
        return type(self).__name__

    def _work(self) -> None:
        raise NotImplementedError

    # -- what the queue does with it ------------------------------------------------------------
    def wait_in(self, queue: Any, message: str) -> None:
        """Wait in `queue` for a free slot, with `message` as what the tab shows meanwhile."""
        self.queue, self.status, self.message = queue, Status.QUEUED, message

    def start_in(self, queue: Any) -> BackgroundJob:
        """Start in a slot of `queue`, which it tells when it ends."""
        self.queue = queue
        return self.start()

    def withdraw(self, message: str) -> None:
        """Leave the queue without having started, `message` saying why."""
        self.status, self.message = Status.STOPPED, message
        self._ended.set()

    # -- its life ---------------------------------------------------------------------------------
    def start(self):
        if self._thread is not None:
            raise RuntimeError(f"{self._thread_name()} was already started")
        self.status, self.message = Status.RUNNING, ""
        self._thread = threading.Thread(target=self._run, name=self._thread_name(), daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        job_started(self)
        try:
            self._fit_threads()
            self._work()
        finally:
            job_ended(self)
            self._ended.set()
            if self.queue is not None:
                self.queue.ended(self)

    def _fit_threads(self) -> None:
        """On the job's own thread: PyTorch's intra-op thread count is set per thread."""
        if self.runner is IN_THREAD:
            use_threads(threads_per_job())

    def stop(self) -> None:
        """Stop after the current step; a job still waiting leaves the queue instead."""
        if self.status == Status.QUEUED and self.queue is not None and self.queue.cancel(self):
            return
        self._stop.set()

    def cancel(self, message: str) -> None:
        """Stop (or leave the queue) with `message` as the reason the tab is shown."""
        if self.status == Status.QUEUED and self.queue is not None and self.queue.cancel(self, message):
            return
        self.message = message
        self._stop.set()

    def heartbeat(self) -> None:
        self._last_seen = time.monotonic()

    def orphaned(self, now: float | None = None) -> bool:
        return (time.monotonic() if now is None else now) - self._last_seen > self.orphan_timeout

    def join(self, timeout: float | None = None) -> bool:
        if self.status == Status.CREATED:
            return True
        self._ended.wait(timeout)
        return not self.alive

    @property
    def alive(self) -> bool:
        """Waiting in the queue or training: it has not ended. (Its thread's last act, telling the
        queue, may start the next job: `join` returns as soon as this one ended, not after that.)"""
        return self.status == Status.QUEUED or (self._thread is not None and not self._ended.is_set())

    @property
    def waiting(self) -> bool:
        """In the queue, not started yet."""
        return self.status == Status.QUEUED

    # -- how far it is ------------------------------------------------------------------------------
    @property
    def planned_epochs(self) -> int:
        raise NotImplementedError

    @property
    def epochs_done(self) -> int:
        raise NotImplementedError

    @property
    def elapsed(self) -> float:
        """Seconds it has trained (0 while it waits)."""
        return self._elapsed

    def _epoch_ended(self, elapsed: float) -> None:
        """A subclass's `_on_event` calls it at each epoch's end, `elapsed` seconds into the job."""
        self._epoch_ends.append(elapsed)

    @property
    def seconds_per_epoch(self) -> float | None:
        """An epoch's length lately (the recent epochs, not the start-up); None before the first."""
        return recent_epoch_seconds(list(self._epoch_ends)) or None

    @property
    def eta_seconds(self) -> float | None:
        """Seconds this job still trains, at the recent epochs' rate (None before its first epoch)."""
        return seconds_left(list(self._epoch_ends), self.planned_epochs - self.epochs_done, self._elapsed)


@dataclass(eq=False)     # a job is itself: two tabs' jobs of the same settings are two jobs in the queue
class TrainingJob(BackgroundJob):
    """One run of the Train view, from its spec: it trains wherever `runner` puts it, and the
    process that trains it builds and saves it; this object only follows it."""
    spec: RunSpec
    name: str                        # checkpoint name, already sanitized
    sample_every: int = 10
    orphan_timeout: float = 60.0
    checkpoint_dir: Path | None = None
    overwrite: bool = True           # False: a file that appeared under `name` meanwhile is kept
    runner: Runner = IN_THREAD
    max_seconds: float | None = None  # the server's wall-clock limit per run (SEQ2SEQ_MAX_MINUTES)
    owner: str = ""                  # which tab, for the operator page
    checkpoint_every: float = CHECKPOINT_EVERY_SECONDS
    status: Status = Status.CREATED
    message: str = ""
    result: TrainResult | None = None
    saved_to: str | None = None
    queue: Any = None
    _curves: LiveCurves = field(default_factory=LiveCurves, repr=False)   # numbers, never the events
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _elapsed: float = 0.0

    def __post_init__(self):
        self._init_job()
        folder = (self.checkpoint_dir or default_checkpoint_dir()).resolve()
        checkpoint_path(self.name, folder)                  # a name that is no file name fails here, not in the worker
        self._target = SaveTarget(self.name, folder, self.overwrite)
        self._begun = Begun(step_loss=[], step_grad_norm=[], epoch_loss=[])   # until the worker reports it
        self._run_epochs = 0

    def _thread_name(self) -> str:
        return f"train-{self.name}"

    @property
    def train_config(self) -> TrainConfig:
        return self.spec.train_config

    @property
    def planned_epochs(self) -> int:
        return self.spec.epochs

    @property
    def epochs_done(self) -> int:
        return self._run_epochs

    def _on_message(self, message) -> None:
        kind, body = message
        if kind == "event":
            self._on_event(body)
        elif kind == "begin":
            with self._lock:
                self._begun = body
        elif kind == "saved":
            self._kept(body)
        elif kind == "checkpoint":                  # from another machine: written here
            self._kept(self._target.write(body))

    def _on_event(self, event) -> None:
        if isinstance(event, StepEvent):
            self._fit_threads()       # another tab may have started or ended a job
        with self._lock:
            self._curves.add(event)
            self._elapsed = getattr(event, "elapsed", self._elapsed)
            if isinstance(event, EpochEvent):
                self._run_epochs += 1
                self._epoch_ended(event.elapsed)
        if self.orphaned():
            self.message = SESSION_GONE
            self._stop.set()
        if self.max_seconds is not None and self._elapsed > self.max_seconds and not self._stop.is_set():
            self.message = Text("stopped at this server's limit of {minutes:g} minutes per run "
                                "(SEQ2SEQ_MAX_MINUTES)", minutes=self.max_seconds / 60)
            self._stop.set()

    def _kept(self, saved: Saved) -> None:
        """A checkpoint of this run is on disk. Saved under another name than `name` (another
        run wrote that file meanwhile): the message says so."""
        self.saved_to = saved.path
        if saved.note and not self.message:
            self.message = saved.note

    def _work(self) -> None:
        try:
            # a worker on another machine cannot read the server's files: they travel in the spec
            spec = self_contained(self.spec) if self.runner.remote else self.spec
            work = TrainWork(spec=spec, target=self._target, sample_every=self.sample_every,
                             checkpoint_every=self.checkpoint_every, ship_bytes=self.runner.remote)
            self.result, final = self.runner.run(work, self._on_message, self._stop, self.stats)
            self._kept(final if isinstance(final, Saved) else self._target.write(final))
            self.status, self.message = self.result.status, self.message or self.result.message
        except Exception as err:      # the page shows it; the app keeps working
            self.status = Status.FAILED
            from_worker = isinstance(err, (WorkerCrashed, WorkerFailed))
            reason = message_of(err) if from_worker else error_text(err)
            self.message = (Text("{reason}; the last checkpoint it sent is kept in {file}", reason=reason,
                                 file=Path(self.saved_to).name) if self.saved_to else reason)
            if not from_worker:       # a worker prints its own traceback
                traceback.print_exc()

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            c, begun = self._curves.copy(), self._begun
        queue = self.queue.state() if self.queue is not None and self.status == Status.QUEUED else None
        return JobSnapshot(
            status=self.status, message=self.message, epoch=self.spec.epochs_done + len(c.epoch_loss),
            num_epochs=self.spec.train_config.num_epochs,
            step=c.last_step if c.last_step is not None else len(begun.step_loss),
            step_loss=begun.step_loss + c.step_loss, step_grad_norm=begun.step_grad_norm + c.step_grad_norm,
            epoch_loss=begun.epoch_loss + c.epoch_loss,
            tokens_per_second=c.epoch_tokens_per_second, samples=c.samples, elapsed=self._elapsed,
            checkpoint=self.saved_to, clip_theta=self.spec.train_config.clip_theta,
            place=queue.place(self) if queue else None, expected_wait=queue.expected_wait(self) if queue else None,
            epoch_ends=c.epoch_ends, training=len(queue.running) if queue else 0,
            queued=len(queue.waiting) if queue else 0, slots=queue.capacity if queue else 0,
            layer_steps=c.layer_steps, layer_grad_norms=c.layer_grad_norms)

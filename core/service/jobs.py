"""Training as a background job: its work, its events, a stop switch, and a heartbeat.

The Train view owns one job per browser session. A job's thread hands its work to a runner
(core.service.workers: this thread, a worker process, a Ray actor) and turns what comes back
into events, checkpoints and a status; it never touches the UI: the page reads `snapshot()`
on each rerun. If the page stops calling `heartbeat()` (the tab closed), the job stops itself
within `orphan_timeout` seconds, so no orphan run burns the CPU; one still waiting in the
server's queue (core.service.queue) is dropped from it.
"""
from __future__ import annotations

import io
import secrets
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..checkpoint import checkpoint_path, checkpoint_payload, write_checkpoint_bytes
from ..history import EpochEvent, SampleEvent, StepEvent, TrainResult, recent_epoch_seconds, seconds_left
from ..i18n import Text, message_of
from ..model import count_parameters
from ..train import TrainingRun
from .cores import usable_cores
from .limits import Limits
from .workers import IN_THREAD, Runner, WorkerCrashed, WorkerFailed, WorkerStats, error_text

CHECKPOINT_EVERY_SECONDS = 5.0    # a worker sends the weights this often (and at the end)
SESSION_GONE = Text("the browser session went away")


@dataclass
class JobSnapshot:
    """A consistent copy of a job's progress for one redraw."""
    status: str                  # "running", "finished", "stopped", "diverged" or "failed"
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
    place: int | None = None             # in the server's queue, while "queued"
    expected_wait: float | None = None   # seconds until it starts, while "queued"
    epoch_ends: list[float] = field(default_factory=list)   # `elapsed` at the end of each of this run's epochs

    @property
    def progress(self) -> float:
        return min(self.epoch / self.num_epochs, 1.0) if self.num_epochs else 0.0

    @property
    def eta_seconds(self) -> float | None:
        """Seconds left, from the recent epochs' rate (`core.history.seconds_left`); None before
        this run's first epoch ended."""
        if self.status != "running":
            return None
        return seconds_left(self.epoch_ends, self.num_epochs - self.epoch, self.elapsed)

    @property
    def waiting(self) -> bool:
        return self.status == "queued"


_running: set[int] = set()        # ids of the jobs whose thread is working, in this process
_running_lock = threading.Lock()


def threads_per_job() -> int:
    """The cores shared out among the running jobs, one core kept for the page and the browser.

    PyTorch's worker threads wait for each other at the end of every parallel op, so a job
    whose threads share cores with the app's redraws (or another job) stalls far more than
    its share: under the open Train view a lone job on 2 cores is faster with 1 thread than
    with 2 (bench/RESULTS.md). On 2 cores every job gets 1 thread; on 8, a lone job gets 7."""
    with _running_lock:
        jobs = max(len(_running), 1)
    return max(1, (usable_cores() - 1) // jobs)


def check_limits(run: TrainingRun, limits: Limits) -> None:
    """LimitExceeded, naming the limit, for a run that asks for more than this server allows:
    the epochs it would train now, its parameters, its training pairs."""
    epochs = run.train_config.num_epochs - len(run.trainer.history.epoch_loss)
    limits.check_run(epochs=epochs, parameters=count_parameters(run.trainer.net), train_pairs=len(run.data.train))


class BackgroundJob:
    """start / stop / join / alive for a job whose `_work` runs on a daemon thread, possibly
    after a wait in a `JobQueue` (status "queued": `alive`, with no thread yet).

    Subclasses call `_init_job()`, give `name`, `owner`, `planned_epochs`, `epochs_done` and
    `_elapsed`, and call `_fit_threads()` now and then from `_work` so an in-process job follows
    `threads_per_job()`.
    """
    status: str
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

    def start(self):
        if self._thread is not None:
            raise RuntimeError(f"{self._thread_name()} was already started")
        self.status, self.message = "running", ""
        self._thread = threading.Thread(target=self._run, name=self._thread_name(), daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        with _running_lock:
            _running.add(id(self))
        try:
            if self.runner is IN_THREAD:
                self._fit_threads()
            self._work()
        finally:
            with _running_lock:
                _running.discard(id(self))
            self._ended.set()
            if self.queue is not None:
                self.queue.ended(self)

    def _fit_threads(self) -> None:
        """On the job's own thread: PyTorch's intra-op thread count is set per thread."""
        if self.runner is not IN_THREAD:
            return
        wanted = threads_per_job()
        if torch.get_num_threads() != wanted:
            torch.set_num_threads(wanted)

    def stop(self) -> None:
        """Stop after the current step; a job still waiting leaves the queue instead."""
        if self.status == "queued" and self.queue is not None and self.queue.cancel(self):
            return
        self._stop.set()

    def cancel(self, message: str) -> None:
        """Stop (or leave the queue) with `message` as the reason the tab is shown."""
        if self.status == "queued" and self.queue is not None and self.queue.cancel(self, message):
            return
        self.message = message
        self._stop.set()

    def withdraw(self, message: str) -> None:
        """Leave the queue without having started (the queue calls it)."""
        self.status, self.message = "stopped", message
        self._ended.set()

    def heartbeat(self) -> None:
        self._last_seen = time.monotonic()

    def orphaned(self, now: float | None = None) -> bool:
        return (time.monotonic() if now is None else now) - self._last_seen > self.orphan_timeout

    def join(self, timeout: float | None = None) -> bool:
        if self.status == "created":
            return True
        self._ended.wait(timeout)
        return not self.alive

    @property
    def alive(self) -> bool:
        """Waiting in the queue or training: it has not ended."""
        return self.status == "queued" or (self._thread is not None and self._thread.is_alive())

    @property
    def waiting(self) -> bool:
        """In the queue, not started yet."""
        return self.status == "queued"

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


@dataclass
class TrainWork:
    """What a TrainingJob's worker does: train the run, sending events and its weights.

    Picklable, run included: a worker process or a Ray actor gets the run as it was built in
    the app, and sends back events, checkpoints (as bytes) every few seconds and at the end.
    """
    run: TrainingRun
    sample_every: int
    checkpoint_every: float = CHECKPOINT_EVERY_SECONDS

    def __call__(self, emit, stop) -> tuple[TrainResult, bytes]:
        last_sent = time.monotonic()

        def on_event(event) -> None:
            nonlocal last_sent
            emit(("event", event))
            if isinstance(event, EpochEvent) and time.monotonic() - last_sent >= self.checkpoint_every:
                emit(("checkpoint", checkpoint_bytes(self.run)))
                last_sent = time.monotonic()

        result = self.run.train(on_event, stop, self.sample_every)
        return result, checkpoint_bytes(self.run)


def checkpoint_bytes(run: TrainingRun) -> bytes:
    buffer = io.BytesIO()
    torch.save(checkpoint_payload(run.checkpoint()), buffer)
    return buffer.getvalue()


@dataclass
class TrainingJob(BackgroundJob):
    run: TrainingRun
    name: str                        # checkpoint name, already sanitized
    sample_every: int = 10
    orphan_timeout: float = 60.0
    checkpoint_dir: Path | None = None
    overwrite: bool = True           # False: a file that appeared under `name` meanwhile is kept
    runner: Runner = IN_THREAD
    max_seconds: float | None = None  # the server's wall-clock limit per run (SEQ2SEQ_MAX_MINUTES)
    owner: str = ""                  # which tab, for the operator page
    checkpoint_every: float = CHECKPOINT_EVERY_SECONDS
    status: str = "created"
    message: str = ""
    result: TrainResult | None = None
    saved_to: str | None = None
    queue: Any = None
    _events: list = field(default_factory=list, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _elapsed: float = 0.0

    def __post_init__(self):
        self._init_job()
        hist = self.run.trainer.history      # what a resumed run already had
        self._start_epochs, self._start_steps = len(hist.epoch_loss), len(hist.step_loss)
        self._run_epochs = 0
        self._target: Path | None = None     # where this run's checkpoints go, once decided
        self._renamed = ""                   # why they go elsewhere than name.pt

    def _thread_name(self) -> str:
        return f"train-{self.name}"

    @property
    def planned_epochs(self) -> int:
        return self.run.train_config.num_epochs - self._start_epochs

    @property
    def epochs_done(self) -> int:
        return self._run_epochs

    def _on_message(self, message) -> None:
        kind, body = message
        if kind == "checkpoint":
            self._save(body)
        else:
            self._on_event(body)

    def _on_event(self, event) -> None:
        if isinstance(event, StepEvent):
            self._fit_threads()       # another tab may have started or ended a job
        with self._lock:
            self._events.append(event)
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

    def _work(self) -> None:
        try:
            work = TrainWork(self.run, self.sample_every, self.checkpoint_every)
            self.result, final = self.runner.run(work, self._on_message, self._stop, self.stats)
            self.saved_to = str(self._save(final))
            self.status, self.message = self.result.status, self.message or self.result.message
        except Exception as err:      # the page shows it; the app keeps working
            self.status = "failed"
            from_worker = isinstance(err, (WorkerCrashed, WorkerFailed))
            reason = message_of(err) if from_worker else error_text(err)
            kept = self._target if self.saved_to else None      # a checkpoint it sent before failing
            self.message = (Text("{reason}; the last checkpoint it sent is kept in {file}",
                                 reason=reason, file=kept.name) if kept is not None else reason)
            if not from_worker:       # a worker prints its own traceback
                traceback.print_exc()

    def _save(self, data: bytes) -> Path:
        """Finished, stopped or diverged: the weights are the last good ones, so keep them. When
        overwriting was not chosen and another run saved under this name meanwhile (another tab),
        this one goes to a new name instead, and the message says so."""
        if self._target is None:
            path = checkpoint_path(self.name, self.checkpoint_dir)
            if path.exists() and not self.overwrite:
                path = checkpoint_path(f"{self.name}-{time.strftime('%m%d-%H%M%S')}", self.checkpoint_dir)
                self._renamed = Text("{name}.pt was written by another run meanwhile: this one is saved as {file}",
                                     name=self.name, file=path.name)
            self._target = path
        write_checkpoint_bytes(data, self._target)
        self.saved_to = str(self._target)
        if self._renamed and not self.message:
            self.message = self._renamed
        return self._target

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            events = list(self._events)
        hist = self.run.trainer.history
        epochs = [e for e in events if isinstance(e, EpochEvent)]
        steps = [e for e in events if isinstance(e, StepEvent)]
        samples = [row for e in events if isinstance(e, SampleEvent) for row in e.samples]
        first_step, done_epochs = self._start_steps, self._start_epochs
        queue = self.queue if self.status == "queued" else None
        return JobSnapshot(
            self.status, self.message, done_epochs + len(epochs), self.run.train_config.num_epochs,
            steps[-1].step if steps else first_step,
            hist.step_loss[:first_step] + [e.loss for e in steps],
            hist.step_grad_norm[:first_step] + [e.grad_norm for e in steps],
            hist.epoch_loss[:done_epochs] + [e.loss for e in epochs],
            [e.epoch_tokens_per_second for e in epochs], samples, self._elapsed, self.saved_to,
            self.run.train_config.clip_theta,
            place=queue.place(self) if queue else None,
            expected_wait=queue.expected_wait(self) if queue else None,
            epoch_ends=[e.elapsed for e in epochs])

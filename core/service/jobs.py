"""Training as a background job: a thread, its events, a stop switch, and a heartbeat.

The Train view owns one job per browser session. The thread never touches the UI; the page
reads `snapshot()` on each rerun. If the page stops calling `heartbeat()` (the tab closed),
the job stops itself within `orphan_timeout` seconds, so no orphan thread burns the CPU.
"""
from __future__ import annotations

import functools
import math
import os
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..checkpoint import checkpoint_path, save_checkpoint
from ..history import EpochEvent, SampleEvent, StepEvent, TrainResult
from ..train import TrainingRun


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

    @property
    def progress(self) -> float:
        return min(self.epoch / self.num_epochs, 1.0) if self.num_epochs else 0.0

    @property
    def eta_seconds(self) -> float | None:
        if self.epoch == 0 or self.status != "running":
            return None
        return self.elapsed / self.epoch * (self.num_epochs - self.epoch)


_running: set[int] = set()        # ids of the jobs whose thread is working, in this process
_running_lock = threading.Lock()


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
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return quota / period if quota > 0 and period > 0 else None
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


def threads_per_job() -> int:
    """The cores shared out among the running jobs, one core kept for the page and the browser.

    PyTorch's worker threads wait for each other at the end of every parallel op, so a job
    whose threads share cores with the app's redraws (or another job) stalls far more than
    its share: under the open Train view a lone job on 2 cores is faster with 1 thread than
    with 2 (bench/RESULTS.md). On 2 cores every job gets 1 thread; on 8, a lone job gets 7."""
    with _running_lock:
        jobs = max(len(_running), 1)
    return max(1, (usable_cores() - 1) // jobs)


class BackgroundJob:
    """start / stop / join / alive for a job whose `_work` runs on a daemon thread.

    Subclasses set `status`, `_stop` (a threading.Event) and `_thread` (None until started),
    and call `_fit_threads()` now and then from `_work` so the job follows `threads_per_job()`.
    """
    status: str
    _stop: threading.Event
    _thread: threading.Thread | None

    def _thread_name(self) -> str:
        return type(self).__name__

    def _work(self) -> None:
        raise NotImplementedError

    def start(self):
        if self._thread is not None:
            raise RuntimeError(f"{self._thread_name()} was already started")
        self.status = "running"
        self._thread = threading.Thread(target=self._run, name=self._thread_name(), daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        with _running_lock:
            _running.add(id(self))
        try:
            self._fit_threads()
            self._work()
        finally:
            with _running_lock:
                _running.discard(id(self))

    @staticmethod
    def _fit_threads() -> None:
        """On the job's own thread: PyTorch's intra-op thread count is set per thread."""
        wanted = threads_per_job()
        if torch.get_num_threads() != wanted:
            torch.set_num_threads(wanted)

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.alive

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


@dataclass
class TrainingJob(BackgroundJob):
    run: TrainingRun
    name: str                        # checkpoint name, already sanitized
    sample_every: int = 10
    orphan_timeout: float = 60.0
    checkpoint_dir: Path | None = None
    overwrite: bool = True           # False: a file that appeared under `name` meanwhile is kept
    status: str = "created"
    message: str = ""
    result: TrainResult | None = None
    saved_to: str | None = None
    _events: list = field(default_factory=list, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _last_seen: float = field(default_factory=time.monotonic, repr=False)
    _elapsed: float = 0.0

    def __post_init__(self):
        hist = self.run.trainer.history      # what a resumed run already had
        self._start_epochs, self._start_steps = len(hist.epoch_loss), len(hist.step_loss)

    def _thread_name(self) -> str:
        return f"train-{self.name}"

    def heartbeat(self) -> None:
        self._last_seen = time.monotonic()

    def _on_event(self, event) -> None:
        if isinstance(event, StepEvent):
            self._fit_threads()       # another tab may have started or ended a job
        with self._lock:
            self._events.append(event)
            self._elapsed = getattr(event, "elapsed", self._elapsed)
        if time.monotonic() - self._last_seen > self.orphan_timeout:
            self.message = "the browser session went away"
            self._stop.set()

    def _work(self) -> None:
        try:
            self.result = self.run.train(self._on_event, self._stop, self.sample_every)
            self.saved_to = str(self._save())
            self.status, self.message = self.result.status, self.message or self.result.message
        except Exception as err:      # the page shows it; the app keeps working
            self.status = "failed"
            self.message = f"{type(err).__name__}: {err}"
            traceback.print_exc()

    def _save(self) -> Path:
        """Finished, stopped or diverged: the weights are the last good ones, so keep them. When
        overwriting was not chosen and another run saved under this name meanwhile (another tab),
        this one goes to a new name instead, and the message says so."""
        path = checkpoint_path(self.name, self.checkpoint_dir)
        if path.exists() and not self.overwrite:
            path = checkpoint_path(f"{self.name}-{time.strftime('%m%d-%H%M%S')}", self.checkpoint_dir)
            self.message = f"{self.name}.pt was written by another run meanwhile: this one is saved as {path.name}"
        return save_checkpoint(self.run.checkpoint(), path)

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            events = list(self._events)
        hist = self.run.trainer.history
        epochs = [e for e in events if isinstance(e, EpochEvent)]
        steps = [e for e in events if isinstance(e, StepEvent)]
        samples = [row for e in events if isinstance(e, SampleEvent) for row in e.samples]
        first_step, done_epochs = self._start_steps, self._start_epochs
        return JobSnapshot(
            self.status, self.message, done_epochs + len(epochs), self.run.train_config.num_epochs,
            steps[-1].step if steps else first_step,
            hist.step_loss[:first_step] + [e.loss for e in steps],
            hist.step_grad_norm[:first_step] + [e.grad_norm for e in steps],
            hist.epoch_loss[:done_epochs] + [e.loss for e in epochs],
            [e.epoch_tokens_per_second for e in epochs], samples, self._elapsed, self.saved_to,
            self.run.train_config.clip_theta)

"""The server's training queue: at most `capacity()` jobs train at once, the rest wait in turn.

First come, first served. A waiting job starts by itself when a slot frees (a job ends, or the
ticker finds a new slot: a Ray cluster that grew); Stop takes it out of the queue; a waiting
job whose tab stopped sending heartbeats is dropped. The queue tells a job what to do (wait,
start, withdraw); it never writes a job's fields.

What the pages show of it comes from one look at it, `state()`: a waiting tab's place, the
counts of runs training and waiting, and every expected wait, so they agree with each other.
The expected wait comes from the running jobs' measured epoch times: their own estimates of
what they have left, and, for the jobs ahead, the running jobs' seconds per epoch.
"""
from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..i18n import Text
from .limits import QueueFull

if TYPE_CHECKING:       # for the annotations only: the queue itself never imports torch
    from ..history import Status
    from .workers import WorkerStats

TICK_SECONDS = 1.0
DROPPED = Text("the browser tab went away while the run waited in the queue")
CANCELLED = Text("taken out of the queue before it started")
WAITING = Text("waiting for a free slot")
CLEARED = Text("the operator cleared the queue")


class Queued(Protocol):
    """What the queue needs of a job, and what the operator page shows of the jobs it holds
    (core.service.jobs.BackgroundJob has it)."""
    status: Status
    message: str
    job_id: str
    owner: str                   # which tab
    stats: WorkerStats

    @property
    def name(self) -> str: ...
    @property
    def alive(self) -> bool: ...
    @property
    def epochs_done(self) -> int: ...
    @property
    def elapsed(self) -> float: ...
    @property
    def planned_epochs(self) -> int: ...
    @property
    def eta_seconds(self) -> float | None: ...
    @property
    def seconds_per_epoch(self) -> float | None: ...

    def wait_in(self, queue: JobQueue, message: str) -> None: ...
    def start_in(self, queue: JobQueue): ...
    def orphaned(self, now: float) -> bool: ...
    def withdraw(self, message: str) -> None: ...
    def cancel(self, message: str) -> None: ...


@dataclass(frozen=True)
class QueueState:
    """The queue as one look at it saw it: what a waiting tab and the operator page read, so the
    place, the counts and the expected waits they show agree with each other."""
    capacity: int                         # runs that train at once
    running: tuple[Queued, ...]
    waiting: tuple[Queued, ...]           # in the order they start
    starts_in: tuple[float | None, ...]   # each waiting job's expected wait in seconds (None: not known yet)

    @property
    def free_slots(self) -> int:
        return max(0, self.capacity - len(self.running))

    def place(self, job: Queued) -> int | None:
        """1 for the next job to start; None when `job` is not waiting."""
        return next((i + 1 for i, other in enumerate(self.waiting) if other is job), None)

    def expected_wait(self, job: Queued) -> float | None:
        """Seconds until `job` starts, if every job ahead takes what it is expected to; None when
        it is not waiting, or while a job's length cannot be told yet (no running run has
        finished an epoch)."""
        place = self.place(job)
        return None if place is None else self.starts_in[place - 1]


@dataclass(frozen=True)
class Cleared:
    """What "clear the queue" did to the waiting jobs the operator saw (by job id)."""
    removed: tuple[Queued, ...]          # were waiting: taken out
    started: tuple[Queued, ...]          # had taken a free slot meanwhile: training now, left alone
    ended: tuple[str, ...]               # ids no longer in the queue at all (stopped, cancelled, done)
    kept: tuple[Queued, ...]             # waiting, but not seen by the operator (came in since): left waiting


class JobQueue:
    def __init__(self, capacity: Callable[[], int], max_waiting: int | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.capacity, self.max_waiting, self.clock = capacity, max_waiting, clock
        self._lock = threading.RLock()
        self._running: list[Queued] = []
        self._waiting: list[Queued] = []
        self._ticker: threading.Thread | None = None

    # -- in and out -----------------------------------------------------------------------
    def submit(self, job: Queued) -> int:
        """Start `job` now if a slot is free and nobody waits, else queue it; its place (0:
        started). QueueFull when the queue holds `max_waiting` jobs already."""
        capacity = self.capacity()
        with self._lock:
            self._dispatch(capacity)
            if not self._waiting and len(self._running) < capacity:
                self._start(job)
                return 0
            if self.max_waiting is not None and len(self._waiting) >= self.max_waiting:
                raise QueueFull(len(self._waiting))
            job.wait_in(self, WAITING)
            self._waiting.append(job)
            return len(self._waiting)

    def cancel(self, job: Queued, message: str = CANCELLED) -> bool:
        """Take a waiting job out of the queue (False if it is not waiting)."""
        with self._lock:
            if job not in self._waiting:
                return False
            self._waiting.remove(job)
        job.withdraw(message)
        return True

    def clear(self, expected: Iterable[str] | None = None, message: str = CLEARED) -> Cleared:
        """Take the waiting jobs out: those with the ids in `expected` (what the operator saw
        waiting), or every one when None. A job seen waiting that took a free slot meanwhile is
        not stopped: it is reported as `started`, so the page can say so."""
        with self._lock:
            seen = None if expected is None else set(expected)
            removed = [j for j in self._waiting if seen is None or j.job_id in seen]
            self._waiting = [j for j in self._waiting if j not in removed]
            kept, running = tuple(self._waiting), list(self._running)
        for job in removed:
            job.withdraw(message)
        left = set() if seen is None else seen - {j.job_id for j in removed}
        started = tuple(j for j in running if j.job_id in left)
        ended = tuple(sorted(left - {j.job_id for j in started}))
        return Cleared(removed=tuple(removed), started=started, ended=ended, kept=kept)

    def ended(self, job: Queued) -> None:
        """A running job's last act (its thread calls it): free the slot, start the next."""
        capacity = self.capacity()
        with self._lock:
            if job in self._running:
                self._running.remove(job)
            self._dispatch(capacity)

    def dispatch(self) -> None:
        capacity = self.capacity()
        with self._lock:
            self._dispatch(capacity)

    # `capacity()` is always read before the lock is taken: on a Ray cluster it may be an RPC
    # (cached, with a timeout), and the pages must not wait on it for the queue's lock.
    def _dispatch(self, capacity: int) -> None:
        now = self.clock()
        for job in [j for j in self._waiting if j.orphaned(now)]:
            self._waiting.remove(job)
            job.withdraw(DROPPED)
        self._running = [j for j in self._running if j.alive]
        while self._waiting and len(self._running) < capacity:
            self._start(self._waiting.pop(0))

    def _start(self, job: Queued) -> None:
        self._running.append(job)
        job.start_in(self)

    # -- what the pages show ----------------------------------------------------------------
    def state(self) -> QueueState:
        """One look at the queue: who trains, who waits in which order, and when each waiting
        job is expected to start."""
        capacity = self.capacity()
        with self._lock:
            running, waiting = tuple(self._running), tuple(self._waiting)
        return QueueState(capacity=capacity, running=running, waiting=waiting,
                          starts_in=_expected_starts(capacity, running, waiting))

    def place(self, job: Queued) -> int | None:
        """1 for the next job to start; None when `job` is not waiting."""
        with self._lock:
            return self._waiting.index(job) + 1 if job in self._waiting else None

    def running(self) -> list[Queued]:
        with self._lock:
            return list(self._running)

    def waiting(self) -> list[Queued]:
        with self._lock:
            return list(self._waiting)

    def expected_wait(self, job: Queued) -> float | None:
        """`state().expected_wait(job)`: seconds until `job` starts (None: not waiting, or not known yet)."""
        return self.state().expected_wait(job)

    # -- the ticker -------------------------------------------------------------------------
    def start_ticking(self, every: float = TICK_SECONDS) -> JobQueue:
        """A daemon thread that drops orphans and fills new slots every `every` seconds."""
        with self._lock:
            if self._ticker is None:
                self._ticker = threading.Thread(target=self._tick, args=(every,), name="job-queue", daemon=True)
                self._ticker.start()
        return self

    def _tick(self, every: float) -> None:
        while True:
            time.sleep(every)
            try:
                self.dispatch()
            except Exception:             # a capacity probe that failed (a lost cluster) retries next tick
                pass


def _expected_starts(capacity: int, running: tuple[Queued, ...],
                     waiting: tuple[Queued, ...]) -> tuple[float | None, ...]:
    """When each waiting job starts: a slot frees when a running job ends (its own estimate from
    its epochs' times), and each job that starts holds its slot for its epochs at the running
    jobs' measured seconds per epoch. None from the first job whose turn cannot be told yet."""
    slots = max(capacity, 1)
    measured = [s for job in running if (s := job.seconds_per_epoch)]
    per_epoch = sum(measured) / len(measured) if measured else None
    free_at = [0.0] * max(0, slots - len(running))
    for job in running:
        eta = job.eta_seconds
        if eta is None:
            if per_epoch is None:
                return (None,) * len(waiting)
            eta = per_epoch * job.planned_epochs
        free_at.append(eta)
    free_at = sorted(free_at)[len(free_at) - slots:]     # more running than slots: the first ends free none
    heapq.heapify(free_at)
    starts: list[float | None] = []
    for job in waiting:
        start = heapq.heappop(free_at)
        starts.append(start)
        if per_epoch is None:
            return tuple(starts) + (None,) * (len(waiting) - len(starts))
        heapq.heappush(free_at, start + per_epoch * job.planned_epochs)
    return tuple(starts)

"""The server's training queue: at most `capacity()` jobs train at once, the rest wait in turn.

First come, first served. A waiting job starts by itself when a slot frees (a job ends, or the
ticker finds a new slot: a Ray cluster that grew); Stop takes it out of the queue; a waiting
job whose tab stopped sending heartbeats is dropped. The expected wait of a waiting job comes
from the running jobs' ETAs and, for the jobs ahead of it, the seconds per epoch runs took here.
"""
from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from ..i18n import Text
from .limits import QueueFull

if TYPE_CHECKING:       # for the annotations only: the queue itself never imports torch
    from .workers import WorkerStats

TICK_SECONDS = 1.0
DROPPED = Text("the browser tab went away while the run waited in the queue")
CANCELLED = Text("taken out of the queue before it started")
WAITING = Text("waiting for a free slot")
CLEARED = Text("the operator cleared the queue")


class Queued(Protocol):
    """What the queue needs of a job, and what the operator page shows of the jobs it holds
    (core.service.jobs.BackgroundJob has it)."""
    status: str
    message: str
    queue: JobQueue | None       # the queue sets it when the job enters
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

    def start(self): ...
    def orphaned(self, now: float) -> bool: ...
    def withdraw(self, message: str) -> None: ...
    def cancel(self, message: str) -> None: ...


class JobQueue:
    def __init__(self, capacity: Callable[[], int], max_waiting: int | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.capacity, self.max_waiting, self.clock = capacity, max_waiting, clock
        self._lock = threading.RLock()
        self._running: list[Queued] = []
        self._waiting: list[Queued] = []
        self._epoch_seconds: list[float] = []      # seconds per epoch of the runs that ended here
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
            job.status, job.message = "queued", WAITING
            job.queue = self
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

    def clear(self, message: str = CLEARED) -> int:
        with self._lock:
            waiting, self._waiting = self._waiting, []
        for job in waiting:
            job.withdraw(message)
        return len(waiting)

    def ended(self, job: Queued) -> None:
        """A running job's last act (its thread calls it): free the slot, start the next."""
        capacity = self.capacity()
        with self._lock:
            if job in self._running:
                self._running.remove(job)
                if job.seconds_per_epoch:
                    self._epoch_seconds = (self._epoch_seconds + [job.seconds_per_epoch])[-32:]
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
        job.queue = self
        self._running.append(job)
        job.start()

    # -- what the pages show ----------------------------------------------------------------
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

    def free_slots(self) -> int:
        capacity = self.capacity()
        with self._lock:
            return max(0, capacity - len(self._running))

    def expected_wait(self, job: Queued) -> float | None:
        """Seconds until `job` starts, if every job ahead takes what it is expected to; None
        while some job's length cannot be told yet (nothing has finished an epoch)."""
        slots = max(self.capacity(), 1)
        with self._lock:
            if job not in self._waiting:
                return None
            ahead = self._waiting[:self._waiting.index(job)]
            running = list(self._running)
            per_epoch = self._seconds_per_epoch(running)
        free_at = [0.0] * max(0, slots - len(running))
        for other in running:
            eta = other.eta_seconds
            if eta is None:
                if per_epoch is None:
                    return None
                eta = per_epoch * other.planned_epochs
            free_at.append(eta)
        free_at.sort()
        free_at = free_at[len(free_at) - slots:]    # more running than slots: the first ends free none
        heapq.heapify(free_at)
        for other in ahead:
            if per_epoch is None:
                return None
            heapq.heappush(free_at, heapq.heappop(free_at) + per_epoch * other.planned_epochs)
        return free_at[0]

    def _seconds_per_epoch(self, running: list[Queued]) -> float | None:
        seen = self._epoch_seconds + [s for j in running if (s := j.seconds_per_epoch)]
        return sum(seen) / len(seen) if seen else None

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

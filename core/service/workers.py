"""Where a job's work runs: on a thread of this process, or in a worker process of its own.

A job hands its runner a *work*: a picklable callable `work(emit, stop)` that trains, calls
`emit(message)` for what the page should see and returns its result. The runner calls the
job's `on_message` for each message on the job's own thread, and returns the result or raises.

Training in the server's process makes a class's thirty runs starve the pages (they share the
GIL and the cores with every redraw): `InProcess` runs each work in a worker process instead,
forked from a forkserver that imported torch and the engine once, the start method PyTorch's
multiprocessing notes recommend (no CUDA state is inherited, and each start costs a fork, not
an import). The worker runs at a lower priority, so a page is drawn before the next step.
"""
from __future__ import annotations

import functools
import os
import pickle
import queue
import resource
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch.multiprocessing as mp

from ..i18n import Text, message_of
from .cores import use_threads

WORKER_NICENESS = 10         # pages first: a worker gives the CPU to the server when both want it
POLL_SECONDS = 0.1           # how often the parent looks at a stop request and the worker's life


class WorkerCrashed(RuntimeError):
    """The worker ended without a result (killed, out of memory, a crash in native code)."""


class WorkerFailed(RuntimeError):
    """The work raised in the worker; the message is the exception's, as the page shows it."""


def error_text(err: BaseException) -> Text:
    """'DataError: data.tsv: no such file' as the page shows an exception, its message a Text."""
    return Text("{error}: {message}", error=type(err).__name__, message=message_of(err))


def sendable(message: str) -> str:
    """`message` if it pickles (a Text does, with its values), else its English."""
    try:
        pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        return message
    except Exception:
        return str(message)


class Stop(Protocol):
    def is_set(self) -> bool: ...


Emit = Callable[[Any], None]
Work = Callable[[Emit, Stop], Any]


@dataclass
class WorkerStats:
    """Where a job's work runs and what it has cost, for the operator page."""
    where: str = Text("not started")
    pid: int | None = None
    cpu_seconds: float = 0.0
    peak_mib: float | None = None     # the worker process's own peak memory (None: a thread of the app)

    def measured(self, cpu_seconds: float, peak_mib: float) -> None:
        """What the worker said of itself with its latest message."""
        self.cpu_seconds, self.peak_mib = cpu_seconds, peak_mib
        _workers_peak.note(peak_mib)


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB (Linux counts KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


class _Peak:
    """The largest peak any worker process of this server reported. A worker is the forkserver's
    child, not the app's, so the app's RUSAGE_CHILDREN never sees it: each worker measures itself."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.mib: float | None = None

    def note(self, mib: float) -> None:
        with self._lock:
            self.mib = mib if self.mib is None else max(self.mib, mib)


_workers_peak = _Peak()


def workers_peak_mib() -> float | None:
    """The largest peak memory of a worker process that trained on this server (None: none yet)."""
    return _workers_peak.mib


class Runner(Protocol):
    name: str
    remote: bool        # its works run on another machine: the checkpoint comes back as bytes

    def run(self, work: Work, on_message: Emit, stop: threading.Event, stats: WorkerStats) -> Any: ...


class InThread:
    """The work runs on the calling thread (the CLI, the tests that reach into a live run)."""
    name, remote = "thread", False

    def run(self, work: Work, on_message: Emit, stop: threading.Event, stats: WorkerStats) -> Any:
        stats.where, stats.pid = Text("a thread of the app's process"), os.getpid()
        start = time.thread_time()
        try:
            return work(on_message, stop)
        finally:
            stats.cpu_seconds = time.thread_time() - start


IN_THREAD = InThread()


@functools.cache
def _context():
    """forkserver (torch and the engine preloaded) where the platform has it, else spawn."""
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["core.service.worker_boot"])
        return ctx
    return mp.get_context("spawn")


class InProcess:
    """Each work in a worker process of its own, with `threads` torch threads."""
    name, remote = "process", False

    def __init__(self, threads: int = 1, niceness: int = WORKER_NICENESS):
        self.threads, self.niceness = threads, niceness

    def run(self, work: Work, on_message: Emit, stop: threading.Event, stats: WorkerStats) -> Any:
        ctx = _context()
        # pickled here, with plain pickle: the worker gets its own copy of every tensor (torch's
        # multiprocessing pickler would share the parent's storage instead)
        payload = pickle.dumps(work, protocol=pickle.HIGHEST_PROTOCOL)
        messages, halt = ctx.Queue(), ctx.Event()
        proc = ctx.Process(target=worker_main,
                           args=(payload, messages, halt, self.threads, self.niceness, own_settings(), os.getpid()),
                           name="seq2seq-worker", daemon=True)
        proc.start()
        stats.where, stats.pid = Text("worker process {pid}", pid=proc.pid), proc.pid
        try:
            return self._follow(proc, messages, halt, on_message, stop, stats)
        finally:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
            messages.close()

    @staticmethod
    def _follow(proc, messages, halt, on_message: Emit, stop: threading.Event, stats: WorkerStats) -> Any:
        while True:
            if stop.is_set():
                halt.set()
            try:
                kind, body, cpu, peak = messages.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if proc.is_alive():
                    continue
                try:                      # it may have put its last words just before exiting
                    kind, body, cpu, peak = messages.get(timeout=POLL_SECONDS)
                except queue.Empty:
                    raise WorkerCrashed(describe_exit(proc.exitcode)) from None
            stats.measured(cpu, peak)
            if kind == "message":
                on_message(body)
            elif kind == "result":
                return body
            else:
                raise WorkerFailed(body)


def describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = Text("signal {number}", number=-code)
        return Text("the worker process was killed ({signal}) before the run ended", signal=name)
    return Text("the worker process ended unexpectedly (exit code {code}) before the run ended", code=code)


SETTINGS_PREFIX = "SEQ2SEQ_"


def own_settings() -> dict[str, str]:
    """The app's SEQ2SEQ_* settings as they are now: a worker is forked from a forkserver
    started earlier, whose environment may be older (a checkpoint folder set since)."""
    return {k: v for k, v in os.environ.items() if k.startswith(SETTINGS_PREFIX)}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:           # it exists, owned by someone else
        return True
    return True


def _exit_with(app_pid: int, every: float = 1.0) -> None:
    """A worker whose app is gone (killed, not stopped) has nobody to train for: it exits."""
    def watch() -> None:
        while _alive(app_pid):
            time.sleep(every)
        os._exit(1)
    threading.Thread(target=watch, name="app-watch", daemon=True).start()


def worker_main(payload: bytes, messages, halt, threads: int, niceness: int,
                settings: dict[str, str] | None = None, app_pid: int | None = None) -> None:
    """In the worker: run the work, sending (kind, body, cpu seconds, peak MiB) tuples to the parent."""
    if app_pid is not None:
        _exit_with(app_pid)
    if settings is not None:
        for key in [k for k in os.environ if k.startswith(SETTINGS_PREFIX)]:
            del os.environ[key]
        os.environ.update(settings)
    try:
        os.nice(niceness)
    except (AttributeError, OSError):
        pass
    use_threads(threads)

    def send(kind: str, body) -> None:
        messages.put((kind, body, time.process_time(), peak_rss_mib()))

    try:
        work = pickle.loads(payload)
        send("result", work(lambda message: send("message", message), halt))
    except BaseException as err:       # the parent shows it; the worker ends normally
        traceback.print_exc(file=sys.stderr)
        send("error", sendable(error_text(err)))   # a Text: the page shows it in the reader's language
    finally:
        messages.close()
        messages.join_thread()          # every message reaches the pipe before the worker exits

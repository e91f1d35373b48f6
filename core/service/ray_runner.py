"""Runs on a Ray cluster: each run is a Ray actor asking for its CPUs (and a GPU if it wants one).

The actor is threaded: one call builds the run from its spec and trains it, while the app polls
it for messages (events, and checkpoints as bytes: the actor's disk is not the app's, so the app
writes them; `Runner.remote`) and asks it to stop. Every call has a
timeout, so a lost cluster ends the run with a message instead of hanging the app; a dead
actor ends it the same way, and the last checkpoint the app received stays on disk. The
engine's package travels to the cluster with the job (Ray's `py_modules`), so a machine that
joins needs only Python with torch and ray. Ray is imported here only, and only when used.

Whoever reaches a Ray cluster's ports can run any code on its machines, so a class's cluster is
started with Ray's token authentication (RAY_AUTH_MODE=token, the same token on every machine:
docs/SERVING.md) and the app presents that token, given to it as SEQ2SEQ_RAY_TOKEN (the
environment or `.streamlit/secrets.toml`). Ray reads the token from the process's environment
only, so `present_token` puts it there; no page ever shows it.
"""
from __future__ import annotations

import os
import pickle
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ..i18n import Text
from .cores import threads_for_cpus, use_threads
from .workers import (
    Emit,
    Runner,
    Work,
    WorkerCrashed,
    WorkerFailed,
    WorkerStats,
    error_text,
    peak_rss_mib,
    sendable,
)

CORE_PACKAGE = Path(__file__).resolve().parents[1]
CONNECT_SECONDS = 30.0        # ray.init against the address
CALL_SECONDS = 30.0           # any one call to the cluster (a poll, a stop, the capacity)
POLL_SECONDS = 0.2
CAPACITY_CACHE_SECONDS = 5.0  # the ticker asks every second; the cluster is asked this often
AUTH_MODE, AUTH_TOKEN, AUTH_TOKEN_PATH = "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"   # Ray's own
TOKEN_SETTING = "SEQ2SEQ_RAY_TOKEN"     # where the operator gives the app the cluster's token
REFUSED_TOKEN = "InvalidAuthToken"   # how Ray's GCS names a missing or wrong token in the error it raises


class RayUnavailable(RuntimeError):
    """The cluster cannot be reached (or Ray is not installed)."""


def _ray():
    try:
        import ray
    except ImportError:
        raise RayUnavailable(Text("Ray is not installed (pip install ray)")) from None
    return ray


def present_token(token: str | None) -> None:
    """Make this process show `token` to the cluster (None: leave Ray's own settings as they are,
    a RAY_AUTH_TOKEN the operator exported, say). Ray reads RAY_AUTH_MODE and RAY_AUTH_TOKEN from
    the environment when it is imported, so a process that imported it already re-reads them."""
    if token is None or (os.environ.get(AUTH_MODE) == "token" and os.environ.get(AUTH_TOKEN) == token):
        return
    os.environ[AUTH_MODE], os.environ[AUTH_TOKEN] = "token", token
    os.environ.pop(AUTH_TOKEN_PATH, None)
    raylet = sys.modules.get("ray._raylet")      # Ray's compiled core, if imported already
    if raylet is not None:
        raylet.Config.initialize("")                # Ray's own tests refresh the mode this way
        raylet.AuthenticationTokenLoader.instance().reset_cache()


def _refused_token(err: BaseException) -> bool:
    """Did the cluster refuse us for the token? Ray raises a ConnectionError whose causes say so."""
    seen: BaseException | None = err
    while seen is not None:
        if REFUSED_TOKEN in str(seen) or type(seen).__name__ == "AuthenticationError":
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class _Trainer:
    """The actor's body (made a Ray actor class in `_actor_class`)."""

    def __init__(self):
        self._messages: list = []
        self._lock = threading.Lock()
        self._halt = threading.Event()

    def pid(self) -> int:
        return os.getpid()

    def run(self, payload: bytes, threads: int) -> Any:
        use_threads(threads)
        work = pickle.loads(payload)
        try:
            return "result", work(self._emit, self._halt)
        except Exception as err:     # reported like a worker process's error (a Text, as it is)
            return "error", sendable(error_text(err))

    def _emit(self, message) -> None:
        with self._lock:
            self._messages.append(message)

    def poll(self) -> tuple[list, float, float]:
        with self._lock:
            out, self._messages = self._messages, []
        return out, time.process_time(), peak_rss_mib()

    def stop(self) -> None:
        self._halt.set()


_actor_classes: dict = {}


def _actor_class(ray):
    if "trainer" not in _actor_classes:
        _actor_classes["trainer"] = ray.remote(max_concurrency=4)(_Trainer)
    return _actor_classes["trainer"]


class OnRay:
    """A Runner whose works run as Ray actors on the cluster at `address`."""
    name, remote = "ray", True       # another machine: its checkpoints come back as bytes

    def __init__(self, address: str, cpus_per_run: float = 1.0, gpus_per_run: float = 0.0,
                 fallback: Runner | None = None, call_timeout: float = CALL_SECONDS, token: str | None = None):
        self.address, self.cpus_per_run, self.gpus_per_run = address, cpus_per_run, gpus_per_run
        self.fallback, self.call_timeout = fallback, call_timeout
        self._token = token          # the cluster's token (SEQ2SEQ_RAY_TOKEN); never part of a message
        self._capacity, self._capacity_at = 0, -1e9
        self._lock = threading.Lock()

    # -- the cluster ----------------------------------------------------------------------------
    def connect(self, timeout: float = CONNECT_SECONDS) -> None:
        """ray.init against the address with the cluster's token, on a thread so that an
        unreachable one times out."""
        present_token(self._token)
        ray = _ray()
        if ray.is_initialized():
            return
        outcome: dict = {}

        def init() -> None:
            try:
                ray.init(address=self.address, ignore_reinit_error=True, log_to_driver=False,
                         runtime_env={"py_modules": [str(CORE_PACKAGE)],
                                      "excludes": ["__pycache__", "*.pyc"]})
                outcome["ok"] = True
            except Exception as err:          # ConnectionError and Ray's own kinds
                outcome["error"] = (Text("it refused this server's token: set {variable} to the token the "
                                         "cluster was started with", variable=TOKEN_SETTING)
                                    if _refused_token(err) else error_text(err))

        thread = threading.Thread(target=init, name="ray-connect", daemon=True)
        thread.start()
        thread.join(timeout)
        if "ok" not in outcome:
            reason = outcome.get("error", Text("no answer within {timeout:g} s", timeout=timeout))
            raise RayUnavailable(Text("the Ray cluster at {address} cannot be reached ({reason})",
                                      address=self.address, reason=reason))

    def capacity(self) -> int:
        """How many runs the cluster holds at once: its CPUs (and GPUs) over what a run asks.

        Asked at most every CAPACITY_CACHE_SECONDS, by one caller at a time and within the call
        timeout; every other caller meanwhile gets the last answer at once (a page never waits
        on a slow cluster for it)."""
        if not self._lock.acquire(blocking=False):
            return self._capacity
        try:
            if time.monotonic() - self._capacity_at < CAPACITY_CACHE_SECONDS:
                return self._capacity
            self._capacity_at = time.monotonic()
            total = self._cluster_resources()
            slots = int(total.get("CPU", 0) // self.cpus_per_run)
            if self.gpus_per_run:
                slots = min(slots, int(total.get("GPU", 0) // self.gpus_per_run))
            self._capacity = slots
            return slots
        finally:
            self._lock.release()

    def _cluster_resources(self) -> dict:
        """`ray.cluster_resources()`, or {} (no slots) when the cluster fails or does not answer
        within the call timeout: a lost cluster holds no runs until it is back."""
        answer: dict = {}

        def ask() -> None:
            try:
                answer.update(_ray().cluster_resources())
            except Exception:
                pass

        asking = threading.Thread(target=ask, name="ray-capacity", daemon=True)
        asking.start()
        asking.join(self.call_timeout)
        return dict(answer) if not asking.is_alive() else {}

    # -- one run ----------------------------------------------------------------------------------
    def run(self, work: Work, on_message: Emit, stop: threading.Event, stats: WorkerStats) -> Any:
        ray = _ray()
        heard = {"any": False}

        def relay(message) -> None:
            heard["any"] = True
            on_message(message)
        try:
            return self._run_on_cluster(ray, work, relay, stop, stats)
        except WorkerCrashed:
            if self.fallback is None or heard["any"]:
                raise
            stats.where = Text("local worker (the Ray cluster was unreachable)")
            return self.fallback.run(work, on_message, stop, stats)

    def _run_on_cluster(self, ray, work: Work, on_message: Emit, stop: threading.Event, stats: WorkerStats) -> Any:
        threads = threads_for_cpus(self.cpus_per_run)
        try:
            actor = _actor_class(ray).options(num_cpus=self.cpus_per_run, num_gpus=self.gpus_per_run).remote()
            stats.pid = self._get(ray, actor.pid.remote())
        except WorkerCrashed:
            raise
        except Exception as err:
            raise WorkerCrashed(Text("the Ray cluster could not start this run ({error})",
                                     error=error_text(err))) from None
        stats.where = Text("Ray actor (process {pid})", pid=stats.pid)
        done = actor.run.remote(pickle.dumps(work, protocol=pickle.HIGHEST_PROTOCOL), threads)
        stopping = False
        try:
            while True:
                if stop.is_set() and not stopping:
                    actor.stop.remote()
                    stopping = True
                finished = bool(ray.wait([done], timeout=POLL_SECONDS)[0])
                messages, cpu, peak = self._get(ray, actor.poll.remote())
                stats.measured(cpu, peak)
                for message in messages:
                    on_message(message)
                if finished:
                    kind, body = self._get(ray, done)
                    if kind == "error":
                        raise WorkerFailed(body)
                    return body
        finally:
            try:
                ray.kill(actor)
            except Exception:                 # already dead, or the cluster is gone
                pass

    def _get(self, ray, ref):
        try:
            return ray.get(ref, timeout=self.call_timeout)
        except ray.exceptions.GetTimeoutError:
            raise WorkerCrashed(Text("the Ray cluster at {address} did not answer for {seconds:g} s: "
                                     "the run was ended", address=self.address, seconds=self.call_timeout)) from None
        except ray.exceptions.RayActorError as err:
            raise WorkerCrashed(Text("the Ray worker training this run died ({error})",
                                     error=type(err).__name__)) from None
        except ray.exceptions.RayError as err:
            raise WorkerCrashed(Text("the Ray cluster lost this run ({error})", error=error_text(err))) from None

"""This tab's training job: one `core.service.jobs.TrainingJob` per browser session.

The job lives in `st.session_state`, so it survives page switches and a websocket
reconnect. A reload starts a new session: the job's random token in the URL (`?run=`)
lets the new session take the job over (running or ended), so a reload loses nothing.
Every rerun of any page (and the polling fragments of ui.polling: the Train view's live panel, the
sidebar badge elsewhere) calls `heartbeat()`. When the tab closes, Streamlit releases the
session-scoped watcher below, which shortens the job's orphan timeout: the job then stops
within seconds instead of a minute, while a brief reconnect (which resumes heartbeats) keeps
it alive.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import streamlit as st

from core.history import Status
from core.service.jobs import BackgroundJob, JobSnapshot, TrainingJob

from . import server, state, workspace
from .i18n import _
from .polling import WAITING_SECONDS, poll

# No heartbeat for this long: the tab is gone, stop. Chrome runs a tab's timers once a minute
# after it has been hidden for 5 minutes: a hidden tab may miss two polls and keep its run
# (a closed tab is found sooner: TAB_CLOSED_TIMEOUT).
ORPHAN_TIMEOUT = 150.0
EXPERIMENT_ORPHAN_TIMEOUT = 3600.0
TAB_CLOSED_TIMEOUT = 10.0  # after Streamlit reports the session gone (a reload takes over within it)
RUN_PARAM = "run"          # the URL query parameter that names this tab's job
KEEP_ENDED = 16            # ended jobs the registry keeps for a later reload


@dataclass
class RunRecord:
    """A finished run of this tab, kept for the comparison chart."""
    name: str
    status: str
    saved_to: str | None
    masked: bool
    reduction: str
    epoch_loss: list[float]
    tokens_per_second: float
    epochs: int


@dataclass
class _TabWatch:
    job: TrainingJob | None = field(default=None)
    experiment: BackgroundJob | None = field(default=None)


def _on_tab_closed(watch: _TabWatch) -> None:
    # Runs on a server thread: touch only the jobs, never st.* or session state.
    for job in (watch.job, watch.experiment):
        if job is not None:
            job.orphan_timeout = TAB_CLOSED_TIMEOUT


@st.cache_resource(scope="session", on_release=_on_tab_closed, show_spinner=False)
def _tab_watch() -> _TabWatch:
    return _TabWatch()


@st.cache_resource(show_spinner=False)
def _registry() -> dict[str, TrainingJob]:
    """Jobs by token, for every session of this server (tokens are unguessable)."""
    return {}


def _register(job: TrainingJob) -> str:
    registry = _registry()
    ended = [token for token, other in registry.items() if not other.alive]
    for token in ended[:max(0, len(ended) - KEEP_ENDED + 1)]:     # oldest first (dicts keep order)
        del registry[token]
    token = secrets.token_urlsafe(12)
    registry[token] = job
    return token


def _adopt_from_url() -> TrainingJob | None:
    """The job a reloaded tab had, named by the URL's token (None if none or unknown). Only its
    own browser's: a link copied with the token into another browser opens no one's run (its
    checkpoint is in the workspace it was started from, `ui.workspace`)."""
    token = st.query_params.get(RUN_PARAM)
    job = _registry().get(token) if token else None
    if job is not None and job.checkpoint_dir != workspace.folder():
        job = None
    if job is not None:
        state.put(state.TRAIN_JOB, job)
        state.put(state.TRAIN_TOKEN, token)
    return job


def _keep_token_in_url() -> None:
    token = state.get(state.TRAIN_TOKEN)
    if token and st.query_params.get(RUN_PARAM) != token:
        st.query_params[RUN_PARAM] = token


def current() -> TrainingJob | None:
    """This tab's job (running or done), after a heartbeat; records it once it ends."""
    job = state.get(state.TRAIN_JOB) or _adopt_from_url()
    if job is None:
        return None
    _keep_token_in_url()
    job.orphan_timeout = ORPHAN_TIMEOUT
    job.heartbeat()
    _tab_watch().job = job
    if not job.alive and job.status != Status.CREATED:
        _record(job)
    return job


def tab_id() -> str:
    """A short name for this browser session, shown on the operator page."""
    if state.get(state.TAB_ID) is None:
        state.put(state.TAB_ID, secrets.token_hex(3))
    return state.get(state.TAB_ID)


def submit(job: BackgroundJob) -> BackgroundJob:
    """Hand `job` to the server's queue with its runner and the server's limits: it starts now
    or waits its turn. QueueFull (a ValueError naming SEQ2SEQ_MAX_QUEUE) when the queue is full."""
    setup = server.serving(retry_lost_cluster=True)
    if setup.problem:
        raise ValueError(setup.problem)
    job.runner, job.owner = setup.runner, tab_id()
    if isinstance(job, TrainingJob):
        job.max_seconds, job.orphan_timeout = setup.limits.max_seconds, ORPHAN_TIMEOUT
    else:   # an experiment is bounded and gets no heartbeats from the other pages: only a closed tab ends it
        job.orphan_timeout = EXPERIMENT_ORPHAN_TIMEOUT
        _tab_watch().experiment = job
    setup.queue.submit(job)
    return job


def describe_wait(job: BackgroundJob) -> str:
    """'waiting in the server's training queue, number 2 in line; expected to start in about 40 s.
    Runs now: 1 training, 2 waiting with this one (1 run trains at once …)'. The place, the counts
    and the wait come from one look at the queue (`JobQueue.state()`), so they agree."""
    look = job.queue.state() if job.queue is not None else None
    place = look.place(job) if look is not None else None
    if look is None or place is None:
        return _("starting…")
    wait = look.expected_wait(job)
    when = _("expected to start in about {duration}").format(duration=_duration(wait)) if wait is not None else \
        _("the expected wait shows once the running runs have finished an epoch")
    # one whole sentence per count (not a plural ending glued on): each language words its own
    said = (_("waiting in the server's training queue, number {place} in line; {when}. Runs now: {training} training, "
              "{waiting} waiting with this one ({slots} run trains at once on this server). It starts by itself; "
              "Stop takes it out of the queue.") if look.capacity == 1 else
            _("waiting in the server's training queue, number {place} in line; {when}. Runs now: {training} training, "
              "{waiting} waiting with this one ({slots} runs train at once on this server). It starts by itself; "
              "Stop takes it out of the queue."))
    return said.format(place=place, when=when, training=len(look.running), waiting=len(look.waiting),
                       slots=look.capacity)


def queue_counts() -> None:
    """Under Start: the runs training and waiting on this server, from one look at the queue,
    redrawn every WAITING_SECONDS while there are any: a count drawn once goes stale (a tab whose
    run ended would show it forever). Nothing while this tab's own run waits: its waiting message
    gives the counts, from its own look, and one screen must not show two; nothing either while
    the server is idle when the page is drawn (an idle tab does not poll: a class's idle tabs would
    take the pages' time)."""
    job = state.get(state.TRAIN_JOB)
    if job is not None and job.waiting:
        return
    look = server.serving().queue.state()
    if look.running or look.waiting:
        poll(_queue_counts, WAITING_SECONDS)


def _queue_counts() -> None:
    look = server.serving().queue.state()
    if look.running or look.waiting:
        st.caption(_("Runs now: {training} training, {waiting} waiting ({slots} at once on this server).").format(
            training=len(look.running), waiting=len(look.waiting), slots=look.capacity))
    else:
        st.caption(_("No run is training on this server now."))


def _duration(seconds: float) -> str:
    return (_("{seconds:.0f} s").format(seconds=seconds) if seconds < 90 else
            _("{minutes:.0f} min").format(minutes=seconds / 60))


def start(job: TrainingJob) -> TrainingJob:
    """Queue `job` as this tab's job (one running or waiting run per tab): ValueError while
    another one still trains or waits, or when the server refuses it."""
    previous = state.get(state.TRAIN_JOB)
    if previous is not None and previous.alive:
        raise ValueError(_("a run is already training or waiting in this tab: stop it first"))
    submit(job)
    state.put(state.TRAIN_JOB, job)
    state.put(state.TRAIN_TOKEN, _register(job))
    _keep_token_in_url()
    _tab_watch().job = job
    return job


def runs() -> list[RunRecord]:
    return state.get(state.TRAIN_RUNS, [])


def _record(job: TrainingJob) -> None:
    if state.get(state.TRAIN_RECORDED) is job:      # one record per job
        return
    snap: JobSnapshot = job.snapshot()
    tps = job.result.tokens_per_second if job.result else 0.0     # over the whole run
    config = job.train_config
    records = runs() + [RunRecord(name=job.name, status=job.status, saved_to=job.saved_to, masked=config.masked,
                                  reduction=config.reduction, epoch_loss=snap.epoch_loss, tokens_per_second=tps,
                                  epochs=snap.epoch)]
    state.put(state.TRAIN_RUNS, records)
    state.put(state.TRAIN_RECORDED, job)

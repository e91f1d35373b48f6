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

from core.service.jobs import JobSnapshot, TrainingJob

from . import state

ORPHAN_TIMEOUT = 60.0     # no heartbeat for this long: the tab is gone, stop
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


def _on_tab_closed(watch: _TabWatch) -> None:
    # Runs on a server thread: touch only the job, never st.* or session state.
    if watch.job is not None:
        watch.job.orphan_timeout = TAB_CLOSED_TIMEOUT


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
    """The job a reloaded tab had, named by the URL's token (None if none or unknown)."""
    token = st.query_params.get(RUN_PARAM)
    job = _registry().get(token) if token else None
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
    if not job.alive and job.status != "created":
        _record(job)
    return job


def start(job: TrainingJob) -> TrainingJob:
    """Start `job` as this tab's job; ValueError while another one still trains."""
    previous = state.get(state.TRAIN_JOB)
    if previous is not None and previous.alive:
        raise ValueError("a run is already training in this tab: stop it first")
    job.orphan_timeout = ORPHAN_TIMEOUT
    state.put(state.TRAIN_JOB, job.start())
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
    config = job.run.train_config
    records = runs() + [RunRecord(name=job.name, status=job.status, saved_to=job.saved_to, masked=config.masked,
                                  reduction=config.reduction, epoch_loss=snap.epoch_loss, tokens_per_second=tps,
                                  epochs=snap.epoch)]
    state.put(state.TRAIN_RUNS, records)
    state.put(state.TRAIN_RECORDED, job)

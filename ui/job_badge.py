"""The sidebar's badge of this tab's training job, on every page but the one that shows the job
itself; polling it is also the job's heartbeat while the tab is on another page. And a job's
status in the reader's words.
"""
from __future__ import annotations

import streamlit as st

from core.history import Status

from . import jobs
from .i18n import N_, _
from .polling import WAITING_SECONDS, poll
from .text import md_escape

BADGE_SECONDS = 2.0       # the badge's polling interval while this tab's job trains

STATUS_WORDS = {   # a job's status (core.history.Status) as the reader's word for it; the status itself stays data
    Status.CREATED: N_("created"), Status.QUEUED: N_("queued"), Status.RUNNING: N_("running"),
    Status.FINISHED: N_("finished"), Status.STOPPED: N_("stopped"), Status.DIVERGED: N_("diverged"),
    Status.FAILED: N_("failed"),
}


def status_word(status: str) -> str:
    return _(STATUS_WORDS[status]) if status in STATUS_WORDS else status


def show() -> None:
    """In the sidebar: this tab's job, polled at a running job's pace, seldom while it waits."""
    job = jobs.current()
    if job is None:
        return
    with st.sidebar:
        if not job.alive:
            _badge()
        elif job.waiting:
            poll(_waiting_badge, WAITING_SECONDS)
        else:
            poll(_badge, BADGE_SECONDS)   # also the job's heartbeat while this tab is on another page


def _waiting_badge() -> None:
    """The badge of a run in the queue, polled seldom; once it starts, the page reruns and polls
    it at a running job's pace."""
    job = jobs.current()
    if job is not None and not job.waiting:       # started, or ended without starting
        st.rerun()
    _badge()


def _badge() -> None:
    job = jobs.current()
    if job is not None:
        snap = job.snapshot()
        if snap.waiting and snap.place:
            text = _("🏋️ {run}: {status}, number {place} in the queue").format(
                run=md_escape(job.name), status=status_word(snap.status), place=snap.place)
        else:
            text = _("🏋️ {run}: {status}, epoch {epoch}/{total}").format(
                run=md_escape(job.name), status=status_word(snap.status), epoch=snap.epoch, total=snap.num_epochs)
        st.progress(snap.progress, text=text)

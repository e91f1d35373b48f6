"""Polling fragments: how a page shows a job that runs on a background thread.

Worker threads never call `st.*`. Instead a fragment that Streamlit reruns every few
seconds redraws from the job's snapshot; each of its reruns is also the job's heartbeat
(see ui.jobs), so a job keeps running while a page polls it.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import streamlit as st


class Job(Protocol):
    @property
    def alive(self) -> bool: ...

    @property
    def waiting(self) -> bool: ...


def poll(draw: Callable[[], object], every: float | None) -> None:
    """Draw `draw()` in a fragment that Streamlit reruns every `every` seconds (None: not polled)."""
    st.fragment(run_every=every)(draw)()


# A job waiting in the queue has little to show (its place, the expected wait): its tab polls
# this seldom, so a class of waiting tabs leaves the server's time to the pages in use
# (issue 15; bench/class_bench.py). The run's heartbeat needs a poll well within ui.jobs'
# ORPHAN_TIMEOUT.
WAITING_SECONDS = 10.0


def follow(draw: Callable[[], Job | None], running: bool, every: float, waiting: bool = False) -> None:
    """Draw a job in a fragment polled while it runs (every WAITING_SECONDS while it waits in
    the queue); `draw()` returns the job it drew.

    When a job that was running at the last full run has ended, or one that was waiting has
    started, the whole page reruns once: what only exists after the end (the saved checkpoint,
    a cached result) then shows, and a started run is polled at its own pace."""
    def redraw() -> None:
        job = draw()
        if running and job is not None and (not job.alive or (waiting and not job.waiting)):
            st.rerun()
    poll(redraw, (WAITING_SECONDS if waiting else every) if running else None)

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


def poll(draw: Callable[[], object], every: float | None) -> None:
    """Draw `draw()` in a fragment that Streamlit reruns every `every` seconds (None: not polled)."""
    st.fragment(run_every=every)(draw)()


def follow(draw: Callable[[], Job | None], running: bool, every: float) -> None:
    """Draw a job in a fragment polled while it runs; `draw()` returns the job it drew.

    When a job that was running at the last full run has ended, the whole page reruns once:
    what only exists after the end (the saved checkpoint, a cached result) then shows."""
    def redraw() -> None:
        job = draw()
        if running and job is not None and not job.alive:
            st.rerun()
    poll(redraw, every if running else None)

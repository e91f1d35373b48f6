"""What the AppTest page tests share: open the app on a page with session state set, fail on
any exception, wait for a training run to finish.

No verdict here depends on the machine's speed: a test waits for what the code reports (a job
ending, a message shown), and a wait fails only when it has hung, after HANG_GUARD seconds.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.service.workspaces import workspace_dir
from ui import state

ROOT = Path(__file__).resolve().parent.parent
HOME = "app.py"
HANG_GUARD = 600.0   # seconds: a wait this long has hung (a failure saying so), never a verdict on speed
POLL = 0.2           # seconds between looks, as the browser's polling fragments do


def no_exception(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_page(page: str, timeout: float = 60, **state) -> AppTest:
    """Run the app from its home page switched to `page`, with session state (e.g. widget values) set first."""
    at = AppTest.from_file(str(ROOT / HOME), default_timeout=timeout)
    for key, value in state.items():
        at.session_state[key] = value
    if page != HOME:
        at.switch_page(page)
    return no_exception(at.run())


def wait_until(ready: Callable[[], object], what: str) -> None:
    """Wait until `ready()` is true: an event or a status the code under test reports."""
    hang = time.monotonic() + HANG_GUARD
    while not ready():
        assert time.monotonic() < hang, f"hung: waited {HANG_GUARD:.0f} s for {what}"
        time.sleep(POLL)


def rerun_until(at: AppTest, ready: Callable[[AppTest], object], what: str,
                rerun: Callable[[AppTest], AppTest] | None = None) -> AppTest:
    """Rerun the page (as the browser's polling would; `rerun` draws it anew another way, e.g. a
    fresh session) until `ready(at)` holds; returns the page as last drawn."""
    hang = time.monotonic() + HANG_GUARD
    while not ready(at):
        assert time.monotonic() < hang, f"hung: waited {HANG_GUARD:.0f} s for {what}"
        time.sleep(POLL)
        at = no_exception(rerun(at) if rerun else at.run())
    return at


def tab_job(at: AppTest):
    """The training job this page's tab started (core.service.jobs.TrainingJob)."""
    return at.session_state[state.TRAIN_JOB]


def workspace_of(at: AppTest) -> Path:
    """Where this tab's browser saves its runs and imports (core.service.workspaces)."""
    return workspace_dir(at.session_state[state.WORKSPACE])


def finish(at: AppTest) -> AppTest:
    """Wait for this tab's run to end (its own status, kept alive as the tab's polling keeps it),
    then draw the page once more: the run must have saved its checkpoint."""
    job = tab_job(at)
    wait_until(lambda: job.heartbeat() or not job.alive, f"run {job.name!r} to end")
    at = no_exception(at.run())
    assert at.get("download_button"), (job.status, job.message)
    return at
